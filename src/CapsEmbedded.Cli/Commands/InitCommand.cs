using System.CommandLine;
using CapsEmbedded.IO;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary><c>capsnet init --seed N --out file</c>: deterministic random-initialised weights.</summary>
internal static class InitCommand
{
    public static Command Create()
    {
        var seed = new Option<ulong>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out", "-o") { Description = "Output weight file", Required = true };
        var arch = new Option<string>("--arch")
        {
            Description = "Architecture: paper (28x28 MNIST network) or tiny (test network)",
            DefaultValueFactory = _ => "paper",
        };
        arch.AcceptOnlyFromAmong("paper", "tiny");
        var force = new Option<bool>("--force") { Description = "Overwrite an existing file" };
        var command = new Command("init", "Write deterministic random-initialised weights") { seed, output, arch, force };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string path = parse.GetValue(output)!;
            CommonOptions.OutputPath(path, "--out", parse.GetValue(force));
            var architecture = parse.GetValue(arch) == "tiny" ? CapsNetArchitecture.Tiny : CapsNetArchitecture.Paper;
            var weights = CapsNetWeights.CreateRandom(architecture, parse.GetValue(seed));
            byte[] bytes = CapsNetWeightsFile.Write(weights);
            AtomicFile.Write(path, bytes);
            // The hash of the bytes written: re-reading the path would block on a FIFO or /dev/stdout.
            parse.InvocationConfiguration.Output.WriteLine(UntrustedText.Line($"wrote {path}: {architecture.ParameterCount:N0} parameters, sha256 {FileHash.Sha256(bytes)}"));
            return 0;
        }));
        return command;
    }
}
