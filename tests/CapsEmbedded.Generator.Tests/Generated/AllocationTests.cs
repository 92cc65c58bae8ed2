using CapsEmbedded.Runtime;
using CapsEmbedded.Models;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>Warm Predict and PredictBatch calls allocate nothing, on the calling thread and (batch) across all threads.</summary>
[Collection(nameof(AllocationTests))]
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public class AllocationTests
{
    [Fact]
    public void Tiny_Predict_allocates_nothing_over_1000_warm_calls()
    {
        using var session = new TinyCapsNet.Session(TinyCapsNet.Weights.Embedded, ownsWeights: false);
        Assert.Equal(0, PredictAllocations(session, TestData.RandomImage(TinyCapsNet.InputLength, 3), 10, 1000));
    }

    [Fact]
    public void TinyEfficient_Predict_allocates_nothing_over_1000_warm_calls()
    {
        using var session = new TinyEfficientCapsNet.Session(TinyEfficientCapsNet.Weights.Embedded, ownsWeights: false);
        Assert.Equal(0, PredictAllocations(session, TestData.RandomImage(TinyEfficientCapsNet.InputLength, 3), 10, 1000));
    }

    [Fact]
    public void Paper_Predict_allocates_nothing_when_warm()
    {
        using var session = new MnistCapsNet.Session(MnistCapsNet.Weights.Embedded, ownsWeights: false);
        Assert.Equal(0, PredictAllocations(session, TestData.Digits[1], 3, 5));
    }

    [Fact]
    public void MultiMnist_Predict_allocates_nothing_when_warm()
    {
        // 36×36: 3,200 primary capsules, the primary GEMM over 100 positions.
        using var session = new MultiMnistCapsNet.Session(MultiMnistCapsNet.Weights.Embedded, ownsWeights: false);
        Assert.Equal(0, PredictAllocations(session, TestData.Pairs[0], 3, 5));
    }

    /// <summary>
    /// Bytes that warm Predict calls with capsules and a reconstruction allocate on this thread, through the session (which
    /// forwards to the model's static Predict on its tier, so both are measured).
    /// </summary>
    private static long PredictAllocations(ICapsNetSession session, float[] image, int warmUp, int calls)
    {
        var a = session.Shape;
        var lengths = new float[a.Classes];
        var capsules = new float[a.DecoderInput];
        var reconstruction = new float[a.DecoderOutput];
        return Allocations.OnThisThread(warmUp, calls, _ => session.Predict(image, lengths, capsules, reconstruction));
    }

    [Fact]
    public void MultiMnist_session_PredictTop_allocates_nothing_when_warm()
    {
        // The default interface method through the interface: Predict, then TopK.Longest into the caller's spans.
        using ICapsNetSession session = new MultiMnistCapsNet.Session(MultiMnistCapsNet.Weights.Embedded);
        var image = TestData.Pairs[1];
        var lengths = new float[MultiMnistCapsNet.Classes];
        var (classes, longest) = (new int[2], new float[2]);
        Assert.Equal(0, Allocations.OnThisThread(3, 5, _ => session.PredictTop(image, lengths, classes, longest)));
    }

    [Fact]
    public void Paper_Reconstruct_allocates_nothing_when_warm()
    {
        var weights = MnistCapsNet.Weights.Embedded;
        using var workspace = new MnistCapsNet.Workspace();
        var capsules = TestData.RandomImage(MnistCapsNet.DecoderInput, 5);
        var reconstruction = new float[MnistCapsNet.DecoderOutput];
        Assert.Equal(0, Allocations.OnThisThread(3, 20, k => MnistCapsNet.Reconstruct(weights, workspace, capsules, k % MnistCapsNet.Classes, reconstruction)));
    }

    [Fact]
    public void PredictBatch_allocates_nothing_when_warm()
    {
        using var context = TinyCapsNet.CreateBatchContext(workerCount: 4);
        Action predictBatch = TinyBatch(context);
        Assert.Equal(0, Allocations.OnThisThread(5, 1, _ => predictBatch()));
    }

    /// <summary>
    /// Child-process half of <see cref="PredictBatch_allocates_nothing_across_all_threads"/>: prints the bytes that
    /// 100 warm batch calls allocated on every thread.
    /// </summary>
    public static int MeasureBatchAllocationsAcrossThreads()
    {
        using var context = TinyCapsNet.CreateBatchContext(workerCount: 4);
        return PrintAcrossThreads(300, 50, 100, TinyBatch(context));
    }

    [Fact]
    public void PredictBatch_allocates_nothing_across_all_threads() => AssertNoneAcrossThreadsInChild("batch-allocations");

    /// <summary>PredictBatch of 64 fixed images of the Tiny model on <paramref name="context"/>.</summary>
    private static Action TinyBatch(BatchContext context)
    {
        var weights = TinyCapsNet.Weights.Embedded;
        int count = 64;
        var images = new float[count * TinyCapsNet.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = (k * 37 % 101) / 100f;
        var lengths = new float[count * TinyCapsNet.Classes];
        var classes = new int[count];
        return () => TinyCapsNet.PredictBatch(weights, images, lengths, classes, context);
    }

    /// <summary>
    /// Child-process half of an across-threads test: <paramref name="warmUp"/> calls past tiered compilation (its
    /// background re-JIT allocates a little on its own thread), a pause, <paramref name="settle"/> more, then prints
    /// <c>allocated=</c>the bytes <paramref name="measured"/> calls allocated on every thread (GC.GetTotalAllocatedBytes(precise: true)).
    /// </summary>
    internal static int PrintAcrossThreads(int warmUp, int settle, int measured, Action call)
    {
        for (int k = 0; k < warmUp; k++) call();
        Thread.Sleep(500);
        for (int k = 0; k < settle; k++) call();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int k = 0; k < measured; k++) call();
        Console.WriteLine($"allocated={GC.GetTotalAllocatedBytes(precise: true) - before}");
        return 0;
    }

    /// <summary>Runs this assembly with <paramref name="command"/> in a child process (under the test runner other threads allocate while we measure).</summary>
    internal static void AssertNoneAcrossThreadsInChild(string command)
    {
        var (code, output, error) = ChildProcess.Run(typeof(AllocationTests).Assembly.Location, [command]);
        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("allocated=0", output);
    }
}
