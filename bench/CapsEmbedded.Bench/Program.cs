using BenchmarkDotNet.Running;
using CapsEmbedded.Bench;

// `dotnet run -c Release -- --filter '*'` (BenchmarkDotNet; add `--job short` for a quick run), or
// `dotnet run -c Release -- cputime` for the CPU-time kernel table used on busy shared machines
// (`model-cputime`: the same for the generated MnistCapsNet.Predict, see bench/RESULTS-model.md;
// `model-threads 10`: one thread vs one image split over 2 workers vs a batch of 64, interleaved).
if (args is ["model-cputime"])
{
    ModelCpuTime.Run(Console.Out);
    return;
}

if (args is ["model-threads", var rounds])
{
    ModelThreads.Run(Console.Out, int.Parse(rounds, System.Globalization.CultureInfo.InvariantCulture));
    return;
}

if (args is ["cputime"])
{
    CpuTimeTable.Run(Console.Out);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(PackedGemmBenchmarks).Assembly).Run(args);
