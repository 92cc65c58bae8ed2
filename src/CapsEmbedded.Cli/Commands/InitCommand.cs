using System.CommandLine;
using CapsEmbedded.IO;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet init --seed N --out file</c>: deterministic random-initialised weights; with <c>--from FILE</c>, FILE's
/// network carried to a larger canvas (<see cref="CanvasTransfer"/>: MNIST's 28×28 weights as a start for MultiMNIST).
/// </summary>
internal static class InitCommand
{
    public static Command Create()
    {
        var seed = new Option<ulong>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out", "-o") { Description = "Output weight file", Required = true };
        var arch = new Option<string>("--arch")
        {
            Description = "Architecture: paper (28x28 MNIST network), multimnist (36x36 MultiMNIST network) or tiny (test network)",
            DefaultValueFactory = _ => "paper",
        };
        arch.AcceptOnlyFromAmong(CapsNetArchitecture.Names);
        var from = new Option<string?>("--from")
        {
            Description = "Instead of random values, carry this weight file's network to the larger canvas of --arch "
                + "(e.g. --arch multimnist --from weights/mnist.safetensors)",
        };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing file" };
        var command = new Command("init", "Write deterministic random-initialised weights") { seed, output, arch, from, force };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string path = parse.GetValue(output)!;
            CommonOptions.OutputPath(path, "--out", parse.GetValue(force));
            var architecture = CapsNetArchitecture.Named(parse.GetValue(arch)!);
            var weights = parse.GetValue(from) is { } sourcePath
                ? Transferred(sourcePath, architecture)
                : CapsNetWeights.CreateRandom(architecture, parse.GetValue(seed));
            byte[] bytes = CapsNetWeightsFile.Write(weights);
            AtomicFile.Write(path, bytes);
            // The hash of the bytes written: re-reading the path would block on a FIFO or /dev/stdout.
            parse.InvocationConfiguration.Output.WriteLine(UntrustedText.Line($"wrote {path}: {architecture.ParameterCount:N0} parameters, sha256 {FileHash.Sha256(bytes)}"));
            return 0;
        }));
        return command;
    }

    private static CapsNetWeights Transferred(string sourcePath, CapsNetArchitecture target)
    {
        byte[] file = InputFile.ReadAllBytes(sourcePath, Array.MaxLength, "weight file");
        var source = CapsNetWeightsFile.Read(file, sourcePath);
        if (CanvasTransfer.Problem(source.Architecture, target) is { } problem)
            throw new CliException($"--from {sourcePath}: {problem}");
        return CanvasTransfer.ToCanvas(source, target, $"{Path.GetFileName(sourcePath)} sha256 {FileHash.Sha256(file)}");
    }
}
