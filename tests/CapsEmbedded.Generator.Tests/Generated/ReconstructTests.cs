using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using CapsEmbedded.Reference;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>The generated <c>Reconstruct</c> (decoder from caller-supplied capsules) against Predict and the reference decoder.</summary>
public class ReconstructTests
{
    [Theory]
    [MemberData(nameof(TestData.SupportedTiers), MemberType = typeof(TestData))]
    public void Reconstruct_from_the_predicted_capsules_equals_Predicts_reconstruction(SimdTier tier)
    {
        using var workspace = new TinyCapsNet.Workspace();
        var weights = TinyCapsNet.Weights.Embedded;
        for (int k = 0; k < 10; k++)
        {
            var image = TestData.RandomImage(TinyCapsNet.InputLength, (ulong)k + 40);
            var lengths = new float[TinyCapsNet.Classes];
            var capsules = new float[TinyCapsNet.DecoderInput];
            var expected = new float[TinyCapsNet.DecoderOutput];
            int predicted = TinyCapsNet.Predict(weights, workspace, image, lengths, capsules, expected, tier);
            var actual = new float[TinyCapsNet.DecoderOutput];
            TinyCapsNet.Reconstruct(weights, workspace, capsules, predicted, actual, tier);
            Assert.Equal(expected, actual); // same kernels, same order: bit for bit
        }
    }

    [Theory]
    [MemberData(nameof(TestData.SupportedTiers), MemberType = typeof(TestData))]
    public void Edited_capsules_of_any_class_decode_as_the_reference_decoder(SimdTier tier)
    {
        using var workspace = new TinyCapsNet.Workspace();
        var capsules = TestData.RandomImage(TinyCapsNet.DecoderInput, 9); // values in [0, 1): a perturbed pose
        for (int keep = 0; keep < TinyCapsNet.Classes; keep++)
        {
            var masked = new float[TinyCapsNet.DecoderInput];
            ReferenceModel.Mask<float>(capsules, TinyCapsNet.Classes, TinyCapsNet.ClassDims, keep, masked);
            var expected = new float[TinyCapsNet.DecoderOutput];
            ReferenceModel.Decoder<float>(masked, TestData.Tiny, expected);
            var actual = new float[TinyCapsNet.DecoderOutput];
            TinyCapsNet.Reconstruct(TinyCapsNet.Weights.Embedded, workspace, capsules, keep, actual, tier);
            for (int p = 0; p < actual.Length; p++)
                Assert.True(Math.Abs(expected[p] - actual[p]) <= 1e-5f, $"class {keep}, pixel {p}, {tier}: {actual[p]} vs {expected[p]}");
        }
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_their_name()
    {
        using var workspace = new TinyCapsNet.Workspace();
        var weights = TinyCapsNet.Weights.Embedded;
        var output = new float[TinyCapsNet.DecoderOutput];
        Assert.Equal("capsules", Assert.Throws<ArgumentException>(() =>
            TinyCapsNet.Reconstruct(weights, workspace, new float[TinyCapsNet.DecoderInput - 1], 0, output)).ParamName);
        Assert.Equal("keep", Assert.Throws<ArgumentOutOfRangeException>(() =>
            TinyCapsNet.Reconstruct(weights, workspace, new float[TinyCapsNet.DecoderInput], TinyCapsNet.Classes, output)).ParamName);
        Assert.Equal("keep", Assert.Throws<ArgumentOutOfRangeException>(() =>
            TinyCapsNet.Reconstruct(weights, workspace, new float[TinyCapsNet.DecoderInput], -1, output)).ParamName);
        Assert.Equal("reconstruction", Assert.Throws<ArgumentException>(() =>
            TinyCapsNet.Reconstruct(weights, workspace, new float[TinyCapsNet.DecoderInput], 0, new float[5])).ParamName);
    }
}
