using System.CommandLine;
using CapsEmbedded.CommandLine;
using CapsEmbedded.Data;
using CapsEmbedded.Training;

namespace CapsEmbedded.TrainHost;

/// <summary>
/// <c>capsnet-train train …</c>: the flags of <c>capsnet train</c> (<see cref="TrainingCommandLine"/>, plus
/// <c>--data-dir</c>, <c>--threads</c> and <c>--save-epochs</c>), the same <see cref="TrainingSession"/>, checkpoints
/// (<c>--resume</c> either way between the two tools), CSV/SVG log and weight-file provenance; plain progress lines only.
/// </summary>
public static class TrainHost
{
    /// <summary>capsnet-train's error guard: the tools' shared one; a diverged run is the user's to see, not a bug.</summary>
    private static readonly ToolErrors Errors = new("capsnet-train", e => e is TrainingDivergedException);

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var shared = new TrainingCommandLine("capsnet-train");
        var dataDir = ToolOptions.DataDir();
        var threads = ToolOptions.Threads("Training threads");
        var command = shared.CreateCommand("Train a CapsNet (capsnet train's library code, without the CLI's embedded models)", dataDir, threads, shared.SaveEpochs);
        command.SetAction(Errors.Guard(parse =>
            Train(shared, parse, parse.GetValue(dataDir)!, parse.GetValue(threads), parse.GetResult(threads) is { Implicit: false }, output)));
        var parse = new RootCommand("capsnet-train: the C# CapsNet trainer alone") { command }.Parse(args);
        if (parse.Errors.Count > 0)
        {
            error.WriteLine("capsnet-train: error: " + parse.Errors[0].Message);
            return ToolErrors.Failure;
        }
        return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output, Error = error });
    }

    private static int Train(TrainingCommandLine shared, ParseResult parse, string dataRoot, int threads, bool threadsGiven, TextWriter output)
    {
        var options = shared.Options(parse) with
        {
            Threads = TrainingCommandLine.Threads(threads), GroupSize = Math.Min(8, parse.GetValue(shared.Batch)),
        };
        string outPath = shared.OutPath(parse), data = parse.GetValue(shared.Data)!;
        bool resume = parse.GetValue(shared.Resume), saveEpochs = parse.GetValue(shared.SaveEpochs);
        // Nothing a finished run wrote is overwritten by a new one: --resume continues its files.
        TrainingCommandLine.CheckOutputs(TrainingCommandLine.OutputFiles(outPath, options, saveEpochs), resume, "remove it, or continue its run with --resume");
        var (opts, checkpoint, initial) = TrainingCommandLine.Start(options, resume, parse.GetValue(shared.InitFrom), threadsGiven, output);
        if (opts.Validate() is { } problem) throw new ArgumentException(problem);
        TrainingCommandLine.CheckMemory(opts);

        var train = TrainingCommandLine.Take(TrainingCommandLine.Load(data, DatasetSplit.Train, dataRoot), shared.LimitValue(parse));
        var test = TrainingCommandLine.Load(data, DatasetSplit.Test, dataRoot);
        TrainingCommandLine.WriteSettings(output, data, train, test, opts);
        string commandLine = "capsnet-train " + string.Join(" ", parse.Tokens.Select(t => t.Value));
        using var session = new TrainingSession(opts, train, test, checkpoint, initial);
        var observer = new TrainingLogObserver(TrainingCommandLine.SidePath(outPath, ".csv"), TrainingCommandLine.SidePath(outPath, ".svg"),
            TrainingCommandLine.SafeName(data), output);
        if (saveEpochs)
            observer.EpochWeights = TrainingCommandLine.EpochWeightsWriter(session, outPath, "capsnet-train", commandLine, data, train.Count,
                TrainingCommandLine.TestImages(opts, test));
        var outcome = TrainingCommandLine.RunUntilCancelled(cancel => session.Run(observer, cancel), out var signal);
        if (outcome == TrainingOutcome.Interrupted) return TrainingCommandLine.Interrupted(output, session.State, opts, signal);
        TrainingCommandLine.SaveWeights(session.Trainer.ExportWeights(), outPath, "capsnet-train", commandLine, data, train.Count,
            TrainingCommandLine.TestImages(opts, test), opts, session.State, device: null, output);
        return 0;
    }
}
