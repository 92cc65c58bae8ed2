using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Quantization;
using CapsEmbedded.Runtime;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Tests.Quantization;

/// <summary>
/// The int8 model as an <see cref="ICapsNetSession"/>: every call gives the bits of <see cref="QuantizedCapsNet"/>'s own
/// Predict, a batch over any number of workers equals one Predict per image, and warm calls allocate nothing.
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
        Assert.Equal(a, session.Architecture);
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

        // The one-image split has no int8 path: on a context it is the same call on this thread.
        using var context = session.CreateBatchContext(3);
        Assert.Equal(expected, session.Predict(context, image, lengths));
        Assert.Equal(expectedLengths, lengths);
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
    public void A_context_with_more_workers_than_the_sessions_own_gets_workspaces_for_all_of_them()
    {
        var a = CapsNetArchitecture.Tiny;
        using var session = new QuantizedSession(QuantizedFormatTests.TinyQuantized());
        using var small = session.CreateBatchContext(1);
        using var large = new BatchContext(scratchLength: 0, workerCount: 4);
        var images = Images(32, 5);
        var (one, four) = (new float[32 * a.Classes], new float[32 * a.Classes]);
        var classes = new int[32];
        session.PredictBatch(images, one, classes, small);
        session.PredictBatch(images, four, classes, large);
        Assert.Equal(one, four);
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
