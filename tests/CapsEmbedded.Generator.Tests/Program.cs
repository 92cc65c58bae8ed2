namespace CapsEmbedded.Generator.Tests;

/// <summary>
/// Entry point of the test assembly when run as a program: <c>dotnet CapsEmbedded.Generator.Tests.dll probe</c> is the
/// child process of the SIMD-tier tests (see <see cref="Generated.GeneratedModelTierProbeTests"/>); <c>batch-allocations</c> measures
/// PredictBatch's allocations across all threads (<c>parallel-allocations</c>: the split one-image Predict's) where no test runner allocates beside it. Under the test runner it is unused.
/// </summary>
public static class Program
{
    public static int Main(string[] args) => args.Length == 0 ? 0 : args[0] switch
    {
        "probe" => Generated.GeneratedModelTierProbeTests.Probe(),
        "batch-allocations" => Generated.AllocationTests.MeasureBatchAllocationsAcrossThreads(),
        "parallel-allocations" => Generated.ParallelPredictTests.MeasureAllocationsAcrossThreads(),
        _ => 2,
    };
}
