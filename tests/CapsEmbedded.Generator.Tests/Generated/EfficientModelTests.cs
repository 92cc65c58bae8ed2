using CapsEmbedded.Kernels;
using CapsEmbedded.Reference;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>The generated Efficient-CapsNet (<see cref="TinyEfficientCapsNet"/>) against the unfolded reference, per tier.</summary>
public sealed class EfficientModelTests
{
    public static TheoryData<SimdTier> Tiers()
    {
        var data = new TheoryData<SimdTier>();
        foreach (var tier in SimdTiers.Supported) data.Add(tier);
        return data;
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Matches_the_unfolded_reference_on_every_tier(SimdTier tier)
    {
        var failures = EfficientModelCheck.Compare(tier, 30);
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Shipped_mnist_efficient_matches_the_unfolded_reference_on_200_digits(SimdTier tier)
    {
        Assert.Equal(200, TestData.Digits.Length);
        var failures = EfficientModelCheck.CompareMnist(tier, 200);
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public void Shipped_session_is_the_static_model_and_allocates_nothing()
    {
        using var session = CapsEmbedded.Models.CompiledModel.MnistEfficient.Open(weightsPath: null);
        Assert.Equal("MnistEfficientCapsNet", session.ModelName);
        Assert.Equal(CapsNetFamily.Efficient, session.Shape.Family);
        Assert.Equal(CapsEmbedded.Models.MnistEfficientCapsNet.MultiplyAdds, session.Shape.MultiplyAdds);
        var images = TestData.Digits.Take(8).SelectMany(d => d).ToArray();
        var lengths = new float[10];
        var capsules = new float[160];
        var reconstruction = new float[784];
        using var workspace = new CapsEmbedded.Models.MnistEfficientCapsNet.Workspace();
        var batchLengths = new float[8 * 10];
        var batchClasses = new int[8];
        using var context = session.CreateBatchContext(2);
        session.PredictBatch(images, batchLengths, batchClasses, context);
        for (int k = 0; k < 8; k++)
        {
            var image = images.AsSpan(k * 784, 784);
            var expected = new float[10];
            int expectedClass = CapsEmbedded.Models.MnistEfficientCapsNet.Predict(CapsEmbedded.Models.MnistEfficientCapsNet.Weights.Embedded,
                workspace, image, expected);
            Assert.Equal(expectedClass, session.Predict(image, lengths));
            Assert.Equal(expected, lengths);
            Assert.Equal(expectedClass, session.Predict(context, image, lengths)); // the split call: stems over 2 workers, same bits
            Assert.Equal(expected, lengths);
            Assert.Equal(expectedClass, batchClasses[k]);
            Assert.Equal(expected, batchLengths.AsSpan(k * 10, 10).ToArray());
        }
        var first = images.AsSpan(0, 784).ToArray();
        Assert.Equal(0, Allocations.OnThisThread(10, 1000, _ => session.Predict(first, lengths, capsules, reconstruction)));
        Assert.Equal(0, Allocations.OnThisThread(10, 100, _ => session.PredictBatch(images, batchLengths, batchClasses, context)));
        Assert.Equal(0, Allocations.OnThisThread(10, 100, _ => session.Predict(context, first, lengths)));
    }

    [Fact]
    public void Every_supported_tier_matches_the_scalar_tier()
    {
        using var workspace = new TinyEfficientCapsNet.Workspace();
        var image = TestData.RandomImage(TinyEfficientCapsNet.InputLength, 77);
        var scalar = new float[TinyEfficientCapsNet.Classes];
        TinyEfficientCapsNet.Predict(TinyEfficientCapsNet.Weights.Embedded, workspace, image, scalar, default, default, SimdTier.Scalar);
        foreach (var tier in SimdTiers.Supported)
        {
            var lengths = new float[TinyEfficientCapsNet.Classes];
            TinyEfficientCapsNet.Predict(TinyEfficientCapsNet.Weights.Embedded, workspace, image, lengths, default, default, tier);
            for (int j = 0; j < lengths.Length; j++) Assert.Equal(scalar[j], lengths[j], 1e-5f * Math.Max(1f, scalar[j]));
        }
    }

    [Fact]
    public void Embedded_weights_are_the_files_and_the_architecture_is_tiny()
    {
        Assert.Equal(EfficientCapsNetArchitecture.Tiny, TinyEfficientCapsNet.Architecture);
        Assert.Equal(EfficientModelCheck.Weights.Architecture, TinyEfficientCapsNet.Architecture);
        Assert.Equal(TinyEfficientCapsNet.MultiplyAdds, EfficientCapsNetArchitecture.Tiny.MultiplyAdds);
        using var loaded = TinyEfficientCapsNet.Weights.Load(TestData.PathOf("Weights", "tiny-efficient.safetensors"));
        using var workspace = new TinyEfficientCapsNet.Workspace();
        var image = TestData.RandomImage(TinyEfficientCapsNet.InputLength, 5);
        float[] a = new float[3], b = new float[3];
        TinyEfficientCapsNet.Predict(loaded, workspace, image, a);
        TinyEfficientCapsNet.Predict(TinyEfficientCapsNet.Weights.Embedded, workspace, image, b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Weights_of_another_architecture_are_refused()
    {
        var other = EfficientCapsNetWeights.CreateRandom(EfficientCapsNetArchitecture.Tiny with { Classes = 4 }, 3);
        var e = Assert.Throws<WeightFormatException>(() => TinyEfficientCapsNet.Weights.FromWeights(other, "other"));
        Assert.Contains("TinyEfficientCapsNet", e.Message);
    }

    [Fact]
    public void Reconstruct_keeps_one_capsule_as_the_reference_decoder()
    {
        using var workspace = new TinyEfficientCapsNet.Workspace();
        var image = TestData.RandomImage(TinyEfficientCapsNet.InputLength, 9);
        var expected = EfficientReferenceModel.Forward(EfficientModelCheck.Weights, image, maskClass: 2);
        var reconstruction = new float[TinyEfficientCapsNet.DecoderOutput];
        TinyEfficientCapsNet.Reconstruct(TinyEfficientCapsNet.Weights.Embedded, workspace, expected.Capsules, 2, reconstruction,
            SimdTiers.Best);
        for (int t = 0; t < reconstruction.Length; t++) Assert.Equal(expected.Reconstruction[t], reconstruction[t], 1e-5f);
    }

    [Fact]
    public void Wrong_spans_throw()
    {
        using var workspace = new TinyEfficientCapsNet.Workspace();
        Assert.Throws<ArgumentException>(() =>
            TinyEfficientCapsNet.Predict(TinyEfficientCapsNet.Weights.Embedded, workspace, new float[5], new float[3]));
        Assert.Throws<ArgumentException>(() => TinyEfficientCapsNet.Predict(TinyEfficientCapsNet.Weights.Embedded, workspace,
            new float[TinyEfficientCapsNet.InputLength], new float[2]));
    }
}
