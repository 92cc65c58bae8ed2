using BenchmarkDotNet.Running;
using CapsEmbedded.Bench;

// `dotnet run -c Release -- --filter '*'` (BenchmarkDotNet; add `--job short` for a quick run), or
// `dotnet run -c Release -- cputime` for the CPU-time table used on busy shared machines.
if (args is ["cputime"])
{
    CpuTimeTable.Run(Console.Out);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(PackedGemmBenchmarks).Assembly).Run(args);
