using System.CommandLine;
using CapsEmbedded.Cli.Commands;

namespace CapsEmbedded.Cli;

/// <summary>The <c>capsnet</c> command tree; <see cref="Run"/> is <c>Main</c> with explicit output writers (tests use it).</summary>
public static class CapsNetCli
{
    public static RootCommand Build() => new("capsnet: CapsNet (Sabour, Frosst, Hinton 2017) inference, evaluation and training.")
    {
        InfoCommand.Create(),
        EvalCommand.Create(),
        BenchCommand.Create(),
        PredictCommand.Create(),
        DataCommand.Create(),
        InitCommand.Create(),
        TrainCommand.Create(),
        FigureCommands.Reconstruct(), FigureCommands.Tweak(), FigureCommands.Errors(), ServeCommand.Create(),
        ExportCommand.Create(),
        ConvertCommand.Create(),
        AverageCommand.Create(),
        QuantizeCommand.Create(),
    };

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var parse = Build().Parse(args);
        if (parse.Errors.Count > 0) return CommandRunner.ParseFailure(parse, error); // one line, not help + .NET type names
        return parse.Invoke(new InvocationConfiguration
        {
            EnableDefaultExceptionHandler = false,
            Output = output,
            Error = error,
        });
    }
}
