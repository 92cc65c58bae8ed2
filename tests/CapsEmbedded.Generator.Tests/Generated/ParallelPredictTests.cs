using CapsEmbedded.Kernels;
using CapsEmbedded.Runtime;
using CapsEmbedded.Models;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// One image split over a BatchContext's workers gives the one-thread Predict's bits exactly — lengths, capsules and
/// reconstruction — for any worker count and every tier: the parts split only independent outputs, never a sum.
/// </summary>
[Collection(nameof(AllocationTests))]
public class ParallelPredictTests
{
    public static TheoryData<string, SimdTier> ModelsAndTiers()
    {
        var data = new TheoryData<string, SimdTier>();
        foreach (var model in new[] { nameof(MnistCapsNet), nameof(TinyCapsNet), nameof(MnistEfficientCapsNet), nameof(TinyEfficientCapsNet) })
            foreach (var tier in SimdTiers.Supported)
                data.Add(model, tier);
        return data;
    }

    [Theory]
    [MemberData(nameof(ModelsAndTiers))]
    public void Model_gives_the_same_bits_on_1_to_N_workers(string model, SimdTier tier)
    {
        var (session, maxWorkers, images) = SplitCase(model);
        using (session)
        {
            session.Tier = tier;
            foreach (var image in images)
                AssertSameBitsOnWorkers(session, maxWorkers, image);
        }
    }

    /// <summary>A session of the model, the most workers to split it over, and the images that exercise its cuts.</summary>
    private static (ICapsNetSession Session, int MaxWorkers, IEnumerable<float[]> Images) SplitCase(string model) => model switch
    {
        nameof(MnistCapsNet) => (new MnistCapsNet.Session(MnistCapsNet.Weights.Embedded, ownsWeights: false), 4,
            [TestData.Digits[0], TestData.Digits[3], TestData.RandomImage(MnistCapsNet.InputLength, 77)]),
        // Tiny: 64 conv1 rows (not a multiple of 12 per part), one primary panel, 18 capsules: some parts get nothing.
        nameof(TinyCapsNet) => (new TinyCapsNet.Session(TinyCapsNet.Weights.Embedded, ownsWeights: false), 5,
            RandomImages(TinyCapsNet.InputLength)),
        // The stem layers run under one fork/join with a barrier between layers (BatchContext.RunLayers): a part of
        // stem.k+1 that started before every part of stem.k had finished would read a half-written map. Many digits, so
        // that a missing barrier meets the other thread still inside a layer.
        nameof(MnistEfficientCapsNet) => (new MnistEfficientCapsNet.Session(MnistEfficientCapsNet.Weights.Embedded, ownsWeights: false), 4,
            TestData.Digits.Take(24).Append(TestData.RandomImage(MnistEfficientCapsNet.InputLength, 78))),
        // Tiny: fewer stem panels than parts, so some parts of a layer get nothing and still pass the barrier.
        nameof(TinyEfficientCapsNet) => (new TinyEfficientCapsNet.Session(TinyEfficientCapsNet.Weights.Embedded, ownsWeights: false), 5,
            RandomImages(TinyEfficientCapsNet.InputLength)),
        _ => throw new ArgumentException($"no split case for {model}", nameof(model)),
    };

    private static IEnumerable<float[]> RandomImages(int inputLength)
        => Enumerable.Range(1, 10).Select(seed => TestData.RandomImage(inputLength, (ulong)seed));

    [Fact]
    public void RunLayers_runs_each_layer_part_once_after_every_part_of_the_layer_before()
    {
        using var context = new BatchContext(scratchLength: 64, workerCount: 3);
        var weights = TinyCapsNet.Weights.Embedded;
        int parts = context.ImageParts;
        // Layer k's part p writes slot k·parts + p: 1 + the least of layer k−1's slots (cleared to 0 before each call). Layer
        // k's slots all hold k + 1 only if every part of every layer read a finished layer before it.
        ImagePartRunner<PackedCapsNetWeights> Layer(int k) => (_, scratch, _, part, n, _, _) =>
        {
            float least = 0;
            if (k > 0)
            {
                Thread.SpinWait(50 * part); // parts of a layer end at different times
                least = float.MaxValue;
                for (int q = 0; q < n; q++) least = Math.Min(least, scratch[(k - 1) * n + q]);
            }
            scratch[k * n + part] = least + 1;
        };
        var layers = new[] { Layer(0), Layer(1), Layer(2), Layer(3) };
        for (int round = 0; round < 200; round++)
        {
            context.ImageScratch.Clear();
            context.RunLayers(layers, PackedFor(weights), default, SimdTier.Scalar, default);
            for (int k = 0; k < layers.Length; k++)
                Assert.Equal(Enumerable.Repeat((float)(k + 1), parts), context.ImageScratch.Slice(k * parts, parts).ToArray());
        }
        var failing = new ImagePartRunner<PackedCapsNetWeights>[]
        {
            Layer(0), (_, _, _, part, _, _, _) => { if (part == 1) throw new InvalidOperationException("layer 1 failed"); },
        };
        var error = Assert.Throws<InvalidOperationException>(() => context.RunLayers(failing, PackedFor(weights), default, SimdTier.Scalar, default));
        Assert.Equal("layer 1 failed", error.Message);
        Assert.Throws<ArgumentNullException>(() => context.RunLayers(new[] { Layer(0), null! }, PackedFor(weights), default, SimdTier.Scalar, default));
        using var one = new BatchContext(scratchLength: 64, workerCount: 1);
        one.RunLayers(layers, PackedFor(weights), default, SimdTier.Scalar, default);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, one.ImageScratch.Slice(0, 4).ToArray());
    }

    [Fact]
    public void Parallel_Predict_allocates_nothing_on_the_caller_when_warm()
    {
        var weights = MnistCapsNet.Weights.Embedded;
        using var context = MnistCapsNet.CreateBatchContext(2);
        var image = TestData.Digits[1];
        var lengths = new float[MnistCapsNet.Classes];
        Assert.Equal(0, Allocations.OnThisThread(3, 5, _ => MnistCapsNet.Predict(weights, context, image, lengths)));
    }

    /// <summary>Child-process half of <see cref="Parallel_Predict_allocates_nothing_across_all_threads"/>.</summary>
    public static int MeasureAllocationsAcrossThreads()
    {
        var weights = TinyCapsNet.Weights.Embedded;
        using var context = TinyCapsNet.CreateBatchContext(workerCount: 3);
        var image = TestData.RandomImage(TinyCapsNet.InputLength, 5);
        var lengths = new float[TinyCapsNet.Classes];
        var reconstruction = new float[TinyCapsNet.DecoderOutput];
        return AllocationTests.PrintAcrossThreads(3000, 100, 1000, () => TinyCapsNet.Predict(weights, context, image, lengths, default, reconstruction));
    }

    [Fact]
    public void Parallel_Predict_allocates_nothing_across_all_threads() => AllocationTests.AssertNoneAcrossThreadsInChild("parallel-allocations");

    [Fact]
    public void Parallel_Predict_checks_its_arguments_and_rethrows_nothing_silently()
    {
        var weights = TinyCapsNet.Weights.Embedded;
        using var context = TinyCapsNet.CreateBatchContext(2);
        var lengths = new float[TinyCapsNet.Classes];
        var e = Assert.Throws<ArgumentException>(() => TinyCapsNet.Predict(weights, context, new float[TinyCapsNet.InputLength - 1], lengths));
        Assert.Contains("the image has", e.Message);
        using var small = new BatchContext(scratchLength: 8, workerCount: 2);
        e = Assert.Throws<ArgumentException>(() => TinyCapsNet.Predict(weights, small, new float[TinyCapsNet.InputLength], lengths));
        Assert.Contains("scratch", e.Message);
    }

    [Fact]
    public void RunParts_runs_each_part_once_and_rethrows_a_part_failure()
    {
        using var context = new BatchContext(scratchLength: 16, workerCount: 3);
        var weights = TinyCapsNet.Weights.Embedded;
        int parts = context.ImageParts;
        Assert.Equal(3 * BatchContext.PartsPerWorker, parts);
        var seen = new int[parts];
        // A part writes its own scratch slot: the parts share worker 0's scratch, whichever thread runs them.
        context.RunParts((_, scratch, _, part, n, _) => { scratch[part] = part + 10 * n; Interlocked.Increment(ref seen[part]); },
            PackedFor(weights), default, SimdTier.Scalar);
        Assert.All(seen, count => Assert.Equal(1, count));
        Assert.Equal(Enumerable.Range(0, parts).Select(p => (float)(p + 10 * parts)), context.ImageScratch.Slice(0, parts).ToArray());
        var error = Assert.Throws<InvalidOperationException>(() => context.RunParts(
            (_, _, _, part, _, _) => { if (part == 2) throw new InvalidOperationException("part 2 failed"); },
            PackedFor(weights), default, SimdTier.Scalar));
        Assert.Equal("part 2 failed", error.Message);
        // The context still works after a failed part.
        context.RunParts((_, _, _, part, _, _) => Interlocked.Increment(ref seen[part]), PackedFor(weights), default, SimdTier.Scalar);
        Assert.All(seen, count => Assert.Equal(2, count));
        using var one = new BatchContext(scratchLength: 16, workerCount: 1);
        Assert.Equal(1, one.ImageParts);
    }

    [Theory]
    [InlineData(400, 12, 2)]
    [InlineData(400, 12, 3)]
    [InlineData(16, 2, 3)]
    [InlineData(18, 8, 5)]
    [InlineData(0, 4, 2)]
    [InlineData(36, 1, 4)]
    public void PartRange_covers_everything_once_cut_at_the_granule(int count, int granule, int parts)
    {
        int next = 0;
        for (int part = 0; part < parts; part++)
        {
            var (begin, end) = BatchContext.PartRange(count, granule, part, parts);
            Assert.Equal(next, begin);
            Assert.True(end >= begin);
            Assert.True(begin % granule == 0 || begin == count);
            next = end;
        }
        Assert.Equal(count, next);
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchContext.PartRange(count, granule, parts, parts));
    }

    // TinyCapsNet is generated into this assembly, so its internal packed weights are visible here.
    private static PackedCapsNetWeights PackedFor(TinyCapsNet.Weights weights) => weights.Packed;

    /// <summary>
    /// The class and the bits of lengths, capsules and reconstruction of one image split over 1 to
    /// <paramref name="maxWorkers"/> workers equal the one-thread Predict's (both on the session's tier).
    /// </summary>
    private static void AssertSameBitsOnWorkers(ICapsNetSession session, int maxWorkers, float[] image)
    {
        var shape = session.Shape;
        float[] lengths = new float[shape.Classes], capsules = new float[shape.DecoderInput], reconstruction = new float[shape.DecoderOutput];
        int expected = session.Predict(image, lengths, capsules, reconstruction);
        for (int workers = 1; workers <= maxWorkers; workers++)
        {
            using var context = session.CreateBatchContext(workers);
            float[] l = new float[lengths.Length], c = new float[capsules.Length], r = new float[reconstruction.Length];
            Assert.Equal(expected, session.Predict(context, image, l, c, r));
            string against = $"{workers} workers against one thread, {session.ModelName}, {session.Tier}";
            FloatBits.AssertSame(lengths, l, $"lengths, {against}");
            FloatBits.AssertSame(capsules, c, $"capsules, {against}");
            FloatBits.AssertSame(reconstruction, r, $"reconstruction, {against}");
        }
    }
}
