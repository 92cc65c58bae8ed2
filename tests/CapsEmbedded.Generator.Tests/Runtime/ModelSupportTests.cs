using CapsEmbedded.Generator.Tests.Generated;
using CapsEmbedded.Kernels;
using CapsEmbedded.Reference;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Generator.Tests.Runtime;

/// <summary>
/// The shape-free runtime code every generated model calls (TopK.ArgMax, CapsuleMask, CapsuleDecoder,
/// PrimaryCapsuleLayout, ModelArguments), each on its own against the reference model or a plain loop.
/// </summary>
public class ModelSupportTests
{
    [Fact]
    public void ArgMax_takes_the_lowest_of_ties_and_never_NaN()
    {
        Assert.Equal(1, TopK.ArgMax<float>([0.3f, 0.5f, 0.5f]));
        Assert.Equal(2, TopK.ArgMax<float>([float.NaN, 0.1f, 0.5f]));
        Assert.Equal(0, TopK.ArgMax<float>([float.NaN, float.NaN]));
        Assert.Equal(1, TopK.ArgMax<double>([0.0, 1.0, double.NaN]));
        Assert.Equal(0, TopK.ArgMax<float>([float.PositiveInfinity, float.PositiveInfinity]));
        Assert.Throws<ArgumentException>(() => TopK.ArgMax<float>([]));
        // The first of TopK.Longest is the argmax, on lengths with ties and NaN.
        var random = new Random(5);
        for (int trial = 0; trial < 200; trial++)
        {
            var lengths = Enumerable.Range(0, 10).Select(_ => random.Next(4) switch { 0 => float.NaN, 1 => 0.5f, _ => random.NextSingle() }).ToArray();
            var classes = new int[1];
            TopK.Longest(lengths, classes);
            Assert.Equal(classes[0], TopK.ArgMax<float>(lengths));
        }
    }

    [Fact]
    public void Mask_keeps_one_capsule_as_the_reference_does_and_names_a_bad_class()
    {
        float[] capsules = Enumerable.Range(1, 12).Select(v => (float)v).ToArray();
        for (int keep = 0; keep < 3; keep++)
        {
            float[] masked = Enumerable.Repeat(9f, 12).ToArray(), expected = new float[12];
            CapsuleMask.Keep(capsules, 4, keep, masked);
            ReferenceModel.Mask<float>(capsules, 3, 4, keep, expected);
            Assert.Equal(expected, masked);
        }
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CapsuleMask.Keep(capsules, 4, 3, new float[12]));
        Assert.Contains("0..2", e.Message);
        Assert.Throws<ArgumentException>(() => CapsuleMask.Keep(capsules, 4, 0, new float[11]));
    }

    [Theory]
    [MemberData(nameof(TestData.SupportedTiers), MemberType = typeof(TestData))]
    public void Decoder_matches_the_reference_decoder(SimdTier tier)
    {
        var weights = TestData.Tiny;
        var a = weights.Architecture;
        using var packed = PackedCapsNetWeights.Pack(weights);
        var decoder = packed.Decoder;
        for (int k = 0; k < 10; k++)
        {
            float[] masked = new float[a.DecoderInput];
            CapsuleMask.Keep(TestData.RandomImage(a.DecoderInput, (ulong)k + 50), a.ClassDims, k % a.Classes, masked);
            float[] hidden1 = new float[a.DecoderHidden1], hidden2 = new float[a.DecoderHidden2], reconstruction = new float[a.DecoderOutput];
            CapsuleDecoder.Run(masked, decoder, hidden1, hidden2, reconstruction, tier);
            var expected = new double[a.DecoderOutput];
            ReferenceModel.Decoder<double>(masked.Select(v => (double)v).ToArray(), weights, expected);
            // float32 sums of at most 16 products against float64: 1e-5 relative is ample and would catch any wrong layer.
            Assert.True(TestData.MaxRelativeError(reconstruction, expected.Select(v => (float)v).ToArray(), 1e-3) < 1e-5);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.SupportedTiers), MemberType = typeof(TestData))]
    public void RegroupAndSquash_takes_capsule_i_from_type_i_over_positions_and_squashes_it(SimdTier tier)
    {
        const int positions = 9, types = 2, dims = 4, capsules = positions * types;
        var conv = TestData.RandomImage(positions * types * dims, 3);
        // Capsule i = type·positions + position holds channels type·dims .. +dims at that position.
        var expected = new float[capsules * dims];
        for (int i = 0; i < capsules; i++)
            for (int d = 0; d < dims; d++)
                expected[i * dims + d] = conv[(i % positions) * types * dims + (i / positions) * dims + d];
        Squash.Run(expected, capsules, dims, tier);

        var all = new float[capsules * dims];
        PrimaryCapsuleLayout.RegroupAndSquash(conv, positions, dims, 0, capsules, all, tier);
        Assert.Equal(expected, all);
        // A part [5, 13) writes only its capsules, the same bits.
        var part = new float[8 * dims];
        PrimaryCapsuleLayout.RegroupAndSquash(conv, positions, dims, 5, 13, part, tier);
        Assert.Equal(expected.AsSpan(5 * dims, 8 * dims).ToArray(), part);
        Assert.Throws<ArgumentException>(() => PrimaryCapsuleLayout.RegroupAndSquash(conv, positions, dims, 0, 2, new float[7], tier));
        Assert.Throws<ArgumentOutOfRangeException>(() => PrimaryCapsuleLayout.RegroupAndSquash(conv, positions, dims, 10, 19, new float[36], tier));
    }

    [Fact]
    public void Argument_checks_name_the_argument_and_the_sizes()
    {
        var a = TinyCapsNet.Architecture;
        float[] image = new float[a.InputLength], lengths = new float[a.Classes];
        ModelArguments.CheckImage(a, image, lengths, default, default);
        var e = Assert.Throws<ArgumentException>(() => ModelArguments.CheckImage(a, new float[5], lengths, default, default));
        Assert.Equal("image", e.ParamName);
        Assert.Contains("the image has 5 values; this model takes 100 (10x10x1)", e.Message);
        e = Assert.Throws<ArgumentException>(() => ModelArguments.CheckImage(a, image, new float[2], default, default));
        Assert.Equal("lengths", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => ModelArguments.CheckImage(a, image, lengths, new float[3], default));
        Assert.Contains("3x4 are needed", e.Message);
        e = Assert.Throws<ArgumentException>(() => ModelArguments.CheckImage(a, image, lengths, default, new float[99]));
        Assert.Equal("reconstruction", e.ParamName);

        Assert.Equal(3, ModelArguments.CheckImages(a, new float[300]));
        e = Assert.Throws<ArgumentException>(() => ModelArguments.CheckImages(a, new float[301]));
        Assert.Contains("not a multiple of the image size 100", e.Message);
        e = Assert.Throws<ArgumentException>(() => ModelArguments.CheckBatchOutputs(a, 3, new float[8], new int[3]));
        Assert.Equal("lengths", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => ModelArguments.CheckBatchOutputs(a, 3, new float[9], new int[2]));
        Assert.Equal("classes", e.ParamName);

        var range = Assert.Throws<ArgumentOutOfRangeException>(() => ModelArguments.CheckReconstruct(a, new float[12], 3, new float[100]));
        Assert.Contains("0..2", range.Message);
        e = Assert.Throws<ArgumentException>(() => ModelArguments.CheckReconstruct(a, new float[11], 0, new float[100]));
        Assert.Equal("capsules", e.ParamName);

        Assert.Throws<PlatformNotSupportedException>(() => ModelArguments.CheckTier((SimdTier)99));
        foreach (var tier in Enum.GetValues<SimdTier>())
            if (SimdTiers.IsSupported(tier)) ModelArguments.CheckTier(tier);
            else Assert.Contains(tier + " is not supported", Assert.Throws<PlatformNotSupportedException>(() => ModelArguments.CheckTier(tier)).Message);

        using var context = new BatchContext(10, 1);
        e = Assert.Throws<ArgumentException>(() => ModelArguments.CheckContext(context, 11));
        Assert.Contains("holds 10 floats; this model needs 11", e.Message);
        Assert.Throws<ArgumentNullException>(() => ModelArguments.CheckContext(null!, 11));
    }
}
