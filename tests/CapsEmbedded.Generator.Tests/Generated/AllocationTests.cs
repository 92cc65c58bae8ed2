using CapsEmbedded.Models;
using Xunit;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>Warm Predict and PredictBatch calls allocate nothing, on the calling thread and (batch) across all threads.</summary>
[Collection(nameof(AllocationTests))]
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public class AllocationTests
{
    [Fact]
    public void Tiny_Predict_allocates_nothing_over_1000_warm_calls()
    {
        var weights = TinyCapsNet.Weights.Embedded;
        using var workspace = new TinyCapsNet.Workspace();
        var image = TestData.RandomImage(TinyCapsNet.InputLength, 3);
        var lengths = new float[TinyCapsNet.Classes];
        var capsules = new float[TinyCapsNet.DecoderInput];
        var reconstruction = new float[TinyCapsNet.DecoderOutput];
        for (int k = 0; k < 10; k++) TinyCapsNet.Predict(weights, workspace, image, lengths, capsules, reconstruction);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int k = 0; k < 1000; k++) TinyCapsNet.Predict(weights, workspace, image, lengths, capsules, reconstruction);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
    }

    [Fact]
    public void Paper_Predict_allocates_nothing_when_warm()
    {
        var weights = MnistCapsNet.Weights.Embedded;
        using var workspace = new MnistCapsNet.Workspace();
        var image = TestData.Digits[1];
        var lengths = new float[MnistCapsNet.Classes];
        var capsules = new float[MnistCapsNet.DecoderInput];
        var reconstruction = new float[MnistCapsNet.DecoderOutput];
        for (int k = 0; k < 3; k++) MnistCapsNet.Predict(weights, workspace, image, lengths, capsules, reconstruction);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int k = 0; k < 5; k++) MnistCapsNet.Predict(weights, workspace, image, lengths, capsules, reconstruction);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Paper_Reconstruct_allocates_nothing_when_warm()
    {
        var weights = MnistCapsNet.Weights.Embedded;
        using var workspace = new MnistCapsNet.Workspace();
        var capsules = TestData.RandomImage(MnistCapsNet.DecoderInput, 5);
        var reconstruction = new float[MnistCapsNet.DecoderOutput];
        for (int k = 0; k < 3; k++) MnistCapsNet.Reconstruct(weights, workspace, capsules, k, reconstruction);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int k = 0; k < 20; k++) MnistCapsNet.Reconstruct(weights, workspace, capsules, k % MnistCapsNet.Classes, reconstruction);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void PredictBatch_allocates_nothing_when_warm()
    {
        var weights = TinyCapsNet.Weights.Embedded;
        using var context = TinyCapsNet.CreateBatchContext(workerCount: 4);
        int count = 64;
        var images = new float[count * TinyCapsNet.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = (k * 37 % 101) / 100f;
        var lengths = new float[count * TinyCapsNet.Classes];
        var classes = new int[count];
        for (int k = 0; k < 5; k++) TinyCapsNet.PredictBatch(weights, images, lengths, classes, context);

        long thread = GC.GetAllocatedBytesForCurrentThread();
        TinyCapsNet.PredictBatch(weights, images, lengths, classes, context);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - thread);

    }

    /// <summary>
    /// Child-process half of <see cref="PredictBatch_allocates_nothing_across_all_threads"/>: prints the bytes that
    /// 100 warm batch calls allocated on every thread (GC.GetTotalAllocatedBytes(precise: true)).
    /// </summary>
    public static int MeasureBatchAllocationsAcrossThreads()
    {
        var weights = TinyCapsNet.Weights.Embedded;
        using var context = TinyCapsNet.CreateBatchContext(workerCount: 4);
        int count = 64;
        var images = new float[count * TinyCapsNet.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = (k * 37 % 101) / 100f;
        var lengths = new float[count * TinyCapsNet.Classes];
        var classes = new int[count];
        // Warm up past tiered compilation (its background re-JIT allocates a little on its own thread), then measure.
        for (int k = 0; k < 300; k++) TinyCapsNet.PredictBatch(weights, images, lengths, classes, context);
        Thread.Sleep(500);
        for (int k = 0; k < 50; k++) TinyCapsNet.PredictBatch(weights, images, lengths, classes, context);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int k = 0; k < 100; k++) TinyCapsNet.PredictBatch(weights, images, lengths, classes, context);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Console.WriteLine($"allocated={allocated}");
        return 0;
    }

    [Fact]
    public async Task PredictBatch_allocates_nothing_across_all_threads()
    {
        // In a child process: under the test runner other threads allocate while we measure.
        var start = new System.Diagnostics.ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(AllocationTests).Assembly.Location);
        start.ArgumentList.Add("batch-allocations");
        using var process = System.Diagnostics.Process.Start(start)!;
        string stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("allocated=0", stdout);
    }
}
