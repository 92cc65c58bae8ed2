using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Quantization;
using CapsEmbedded.Runtime;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Tests.Quantization;

/// <summary>
/// The int8 model as an <see cref="ICapsNetSession"/>: every call gives the bits of <see cref="QuantizedCapsNet"/>'s own
/// Predict, one image split over any number of workers and a batch over them equal one Predict per image, and warm calls
/// allocate nothing.
/// </summary>
public sealed class QuantizedSessionTests
{
    private static float[] Images(int count, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var images = new float[count * CapsNetArchitecture.Tiny.InputLength];
        for (int i = 0; i < images.Length; i++) images[i] = random.NextDouble() < 0.3 ? (float)random.NextDouble() : 0f;
        return images;
    }

    [Fact]
    public void Predict_and_Reconstruct_give_the_int8_models_own_bits()
    {
        var a = CapsNetArchitecture.Tiny;
        var weights = QuantizedFormatTests.TinyQuantized();
        using var model = QuantizedCapsNet.Create(weights);
        using var workspace = new QuantizedCapsNet.Workspace(a);
        using var session = new QuantizedSession(weights);
        Assert.Equal(nameof(QuantizedCapsNet), session.ModelName);
        Assert.Equal(a, session.Model.Architecture);
        Assert.Equal(ModelShape.Of(a), session.Shape);
        Assert.Equal(weights.Weights.ClassNames, session.ClassNames);
        Assert.Equal(SimdTiers.Best, session.Tier);
        Assert.Equal(Int8Tiers.Best, session.Int8Tier);

        var image = Images(1, 21);
        var (expectedLengths, expectedCapsules, expectedImage) = (new float[a.Classes], new float[a.DecoderInput], new float[a.DecoderOutput]);
        int expected = model.Predict(workspace, image, expectedLengths, expectedCapsules, expectedImage);
        var (lengths, capsules, reconstruction) = (new float[a.Classes], new float[a.DecoderInput], new float[a.DecoderOutput]);
        Assert.Equal(expected, session.Predict(image, lengths, capsules, reconstruction));
        Assert.Equal(expectedLengths, lengths);
        Assert.Equal(expectedCapsules, capsules);
        Assert.Equal(expectedImage, reconstruction);

        // The decoder alone, from the predicted capsule, draws what Predict drew.
        var decoded = new float[a.DecoderOutput];
        session.Reconstruct(capsules, expected, decoded);
        Assert.Equal(expectedImage, decoded);
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Reconstruct(capsules, a.Classes, decoded));
        Assert.Throws<ArgumentException>(() => session.Reconstruct(capsules.AsSpan(1).ToArray(), 0, decoded));

        // One image split over a context's workers: the same bits, on every tier pair.
        using var context = session.CreateBatchContext(3);
        foreach (var tier in SimdTiers.Supported)
            foreach (var int8Tier in Int8Tiers.Supported)
            {
                session.Tier = tier;
                session.Int8Tier = int8Tier;
                expected = model.Predict(workspace, image, expectedLengths, expectedCapsules, expectedImage, tier, int8Tier);
                Assert.Equal(expected, session.Predict(context, image, lengths, capsules, reconstruction));
                Assert.Equal(expectedLengths, lengths);
                Assert.Equal(expectedCapsules, capsules);
                Assert.Equal(expectedImage, reconstruction);
            }
    }

    /// <summary>
    /// The MNIST-sized split (conv1 rows cut at the GEMM's row granule, 36 int8 GEMM rows, 1,152 capsules) over 2 and 3
    /// workers returns the one-thread bits, and warm split calls allocate nothing.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Predict_split_over_workers_equals_the_one_thread_bits_at_MNIST_size(int workers)
    {
        var a = CapsNetArchitecture.Paper;
        var quantised = QuantizedFormatTests.Quantized(a, seed: 3);
        using var model = QuantizedCapsNet.Create(quantised);
        using var workspace = new QuantizedCapsNet.Workspace(a);
        using var context = new BatchContext(model.ScratchLayout.Length, workers);
        var random = new DeterministicRandom(17);
        var image = new float[a.InputLength];
        for (int i = 0; i < image.Length; i++) image[i] = random.NextDouble() < 0.2 ? (float)random.NextDouble() : 0f;
        var (expectedLengths, expectedCapsules, expectedImage) = (new float[a.Classes], new float[a.DecoderInput], new float[a.DecoderOutput]);
        var (lengths, capsules, reconstruction) = (new float[a.Classes], new float[a.DecoderInput], new float[a.DecoderOutput]);
        int expected = model.Predict(workspace, image, expectedLengths, expectedCapsules, expectedImage);
        Assert.Equal(expected, model.Predict(context, image, lengths, capsules, reconstruction, SimdTiers.Best, Int8Tiers.Best));
        Assert.Equal(expectedLengths, lengths);
        Assert.Equal(expectedCapsules, capsules);
        Assert.Equal(expectedImage, reconstruction);
        Allocations.AssertNone(() => model.Predict(context, image, lengths, capsules, reconstruction, SimdTiers.Best, Int8Tiers.Best));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(4, 64)]
    public void PredictBatch_over_workers_equals_one_Predict_per_image_bit_for_bit(int threads, int count)
    {
        var a = CapsNetArchitecture.Tiny;
        var weights = QuantizedFormatTests.TinyQuantized();
        using var model = QuantizedCapsNet.Create(weights);
        using var workspace = new QuantizedCapsNet.Workspace(a);
        using var session = new QuantizedSession(weights);
        using var context = session.CreateBatchContext(threads);
        var images = Images(count, (ulong)(threads * 1000 + count));
        var lengths = new float[count * a.Classes];
        var classes = new int[count];
        lengths.AsSpan().Fill(float.NaN);
        session.PredictBatch(images, lengths, classes, context);

        var expected = new float[a.Classes];
        for (int n = 0; n < count; n++)
        {
            int expectedClass = model.Predict(workspace, images.AsSpan(n * a.InputLength, a.InputLength), expected);
            Assert.Equal(expectedClass, classes[n]);
            Assert.Equal(expected, lengths.AsSpan(n * a.Classes, a.Classes).ToArray());
        }

        Allocations.AssertNone(() => session.PredictBatch(images, lengths, classes, context));
        Assert.Throws<ArgumentException>(() => session.PredictBatch(images.AsSpan(1).ToArray(), lengths, classes, context));
        Assert.Throws<ArgumentException>(() => session.PredictBatch(images, new float[count * a.Classes - 1], classes, context));
    }

    [Fact]
    public void A_context_made_elsewhere_serves_when_its_scratch_holds_the_int8_layout_and_is_refused_when_not()
    {
        var a = CapsNetArchitecture.Tiny;
        using var session = new QuantizedSession(QuantizedFormatTests.TinyQuantized());
        using var small = session.CreateBatchContext(1);
        using var large = new BatchContext(ScratchLayout.Int8(a).Length, workerCount: 4);
        using var tooSmall = new BatchContext(ScratchLayout.Float(a).Length, workerCount: 2);
        var images = Images(32, 5);
        var (one, four) = (new float[32 * a.Classes], new float[32 * a.Classes]);
        var classes = new int[32];
        session.PredictBatch(images, one, classes, small);
        session.PredictBatch(images, four, classes, large);
        Assert.Equal(one, four);
        var e = Assert.Throws<ArgumentException>(() => session.PredictBatch(images, four, classes, tooSmall));
        Assert.Contains(ScratchLayout.Int8(a).Length.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
    }

    [Fact]
    public void Warm_Predict_allocates_nothing()
    {
        var a = CapsNetArchitecture.Tiny;
        using var session = new QuantizedSession(QuantizedFormatTests.TinyQuantized());
        var image = Images(1, 8);
        var (lengths, capsules, reconstruction) = (new float[a.Classes], new float[a.DecoderInput], new float[a.DecoderOutput]);
        Allocations.AssertNone(() => session.Predict(image, lengths, capsules, reconstruction));
        Allocations.AssertNone(() => session.Reconstruct(capsules, 1, reconstruction));
    }

    [Fact]
    public void A_tier_this_machine_lacks_is_refused_by_name()
    {
        using var session = new QuantizedSession(QuantizedFormatTests.TinyQuantized());
        foreach (var tier in Enum.GetValues<SimdTier>().Where(t => !SimdTiers.IsSupported(t)))
            Assert.Contains(tier.ToString(), Assert.Throws<PlatformNotSupportedException>(() => session.Tier = tier).Message);
        foreach (var tier in Enum.GetValues<Int8Tier>().Where(t => !Int8Tiers.IsSupported(t)))
            Assert.Contains(tier.ToString(), Assert.Throws<PlatformNotSupportedException>(() => session.Int8Tier = tier).Message);
        session.Tier = SimdTier.Scalar;
        Assert.Equal(SimdTier.Scalar, session.Tier);
    }
}
