using System.Globalization;
using BenchmarkDotNet.Running;
using CapsEmbedded.Bench;
using CapsEmbedded.Bench.Peers;

// `dotnet run -c Release -- --filter '*'` (BenchmarkDotNet; add `--job short` for a quick run), or
// `dotnet run -c Release -- cputime` for the CPU-time kernel table used on busy shared machines
// (`model-cputime`: the same for the generated MnistCapsNet.Predict, see bench/RESULTS-model.md;
// `efficient-stages [ROUNDS]`: MnistEfficientCapsNet timed stage by stage;
// `model-threads 10`: one thread vs one image split over 2 workers vs a batch of 64, interleaved;
// `split-trace [ROUNDS] [paper|efficient|both]`: where the split image's time goes, from a trace of its fork/joins).
// `peers [--runs N] [--rounds R] [--markdown|--json] [--variants] [--network paper|efficient|both]`: each generated model
// (MnistCapsNet, MnistEfficientCapsNet) vs ONNX Runtime on its exported graph, interleaved (bench/peers/run.sh
// adds PyTorch and writes the table of bench/RESULTS.md through `peers-report FILE...`).
if (args is [var command, "--help" or "-h" or "-?", ..] && command is "peers" or "efficient-stages" or "model-threads" or "int8-gemm" or "split-trace")
{
    Console.WriteLine("usage: peers [--runs N] [--rounds R] [--markdown|--json] [--variants] [--network paper|efficient|both]");
    Console.WriteLine("       peers-report FILE... | efficient-stages [ROUNDS] | model-cputime | model-threads ROUNDS | int8-gemm [ROUNDS] | cputime");
    Console.WriteLine("       split-trace [ROUNDS] [paper|efficient|both]");
    Console.WriteLine("       anything else goes to BenchmarkDotNet (--filter '*', --job short)");
    return 0;
}

try
{
    return RunCommand(args);
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or IOException or InvalidDataException)
{
    // A wrong flag, number or data folder is the user's to fix, not a crash: one line naming it, exit code 2.
    Console.Error.WriteLine($"bench: {e.Message}");
    return 2;
}

static int RunCommand(string[] args)
{
    if (args is ["peers", .. var peerArgs]) return PeerBenchmark.Run(peerArgs, Console.Out);
    if (args is ["peers-report", .. var files]) return PeerBenchmark.RunReport(files, Console.Out);

    if (args is ["efficient-stages", .. var stageRounds])
    {
        EfficientStages.Run(Console.Out, stageRounds is [var sr] ? Rounds("efficient-stages", sr) : 10);
        return 0;
    }

    if (args is ["split-trace", .. var traceArgs])
    {
        SplitTrace.Run(Console.Out, traceArgs is [var tr, ..] ? Rounds("split-trace", tr) : 5, traceArgs is [_, var net] ? net : "both");
        return 0;
    }

    if (args is ["model-cputime"])
    {
        ModelCpuTime.Run(Console.Out);
        return 0;
    }

    if (args is ["model-threads", var rounds])
    {
        ModelThreads.Run(Console.Out, Rounds("model-threads", rounds));
        return 0;
    }

    if (args is ["int8-gemm", .. var int8Rounds]) { Int8GemmBenchmark.Run(Console.Out, int8Rounds is [var r] ? Rounds("int8-gemm", r) : 15); return 0; }

    if (args is ["cputime"])
    {
        CpuTimeTable.Run(Console.Out);
        return 0;
    }

    BenchmarkSwitcher.FromAssembly(typeof(PackedGemmBenchmarks).Assembly).Run(args);
    return 0;
}

static int Rounds(string command, string text) =>
    int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int rounds) && rounds > 0
        ? rounds
        : throw new ArgumentException($"{command}: ROUNDS must be a positive integer, not '{text}'");
