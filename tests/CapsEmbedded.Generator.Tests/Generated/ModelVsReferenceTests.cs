using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using Xunit;
using Xunit.Abstractions;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>The generated models against ReferenceModel, in every SIMD tier this process supports (tolerances: <see cref="ModelCheck"/>).</summary>
public class ModelVsReferenceTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Tiers => TestData.SupportedTiers;

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Tiny_model_matches_the_reference_on_random_images(SimdTier tier)
    {
        var predict = ModelCheck.Tiny();
        for (int k = 0; k < 50; k++)
        {
            var image = TestData.RandomImage(TinyCapsNet.InputLength, (ulong)k + 1);
            var expected = ModelCheck.Reference("tiny", k, TestData.Tiny, image);
            var result = ModelCheck.Compare(predict, TinyCapsNet.Architecture, expected, image, tier);
            Assert.True(result.WithinTolerance, $"image {k}, {tier}: {result}");
        }
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Paper_model_matches_the_reference_on_random_images(SimdTier tier)
    {
        var predict = ModelCheck.Paper();
        for (int k = 0; k < 2; k++)
        {
            var image = TestData.RandomImage(MnistCapsNet.InputLength, (ulong)k + 100);
            var expected = ModelCheck.Reference("paper-random", k, TestData.Paper, image);
            var result = ModelCheck.Compare(predict, MnistCapsNet.Architecture, expected, image, tier);
            output.WriteLine($"random image {k}, {tier}: {result}");
            Assert.True(result.WithinTolerance, $"random image {k}, {tier}: {result}");
        }
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Paper_model_matches_the_reference_on_mnist_digits(SimdTier tier)
    {
        var predict = ModelCheck.Paper();
        for (int k = 0; k < 4; k++)
        {
            var image = TestData.Digits[k];
            var expected = ModelCheck.Reference("paper-digit", k, TestData.Paper, image);
            var result = ModelCheck.Compare(predict, MnistCapsNet.Architecture, expected, image, tier);
            output.WriteLine($"digit {k}, {tier}: {result}");
            Assert.True(result.WithinTolerance, $"digit {k}, {tier}: {result}");
        }
    }

    [Fact]
    public void Tiny_model_on_mnist_digits_cropped_to_its_input()
    {
        // The tiny network takes 10×10: use the digits' centre so real strokes (not noise) go through it.
        var predict = ModelCheck.Tiny();
        for (int k = 0; k < 20; k++)
        {
            var digit = TestData.Digits[k];
            var image = new float[TinyCapsNet.InputLength];
            for (int y = 0; y < 10; y++)
                for (int x = 0; x < 10; x++) image[y * 10 + x] = digit[(y + 9) * 28 + x + 9];
            var expected = ModelCheck.Reference("tiny-digit", k, TestData.Tiny, image);
            var result = ModelCheck.Compare(predict, TinyCapsNet.Architecture, expected, image, SimdTiers.Best);
            Assert.True(result.WithinTolerance, $"digit {k}: {result}");
        }
    }

    [Fact]
    public void Without_spans_for_capsules_and_reconstruction_the_class_and_lengths_are_the_same()
    {
        using var workspace = new TinyCapsNet.Workspace();
        var image = TestData.RandomImage(TinyCapsNet.InputLength, 7);
        var full = new float[TinyCapsNet.Classes];
        var lean = new float[TinyCapsNet.Classes];
        int a = TinyCapsNet.Predict(TinyCapsNet.Weights.Embedded, workspace, image, full, new float[TinyCapsNet.DecoderInput],
            new float[TinyCapsNet.DecoderOutput]);
        int b = TinyCapsNet.Predict(TinyCapsNet.Weights.Embedded, workspace, image, lean);
        Assert.Equal(a, b);
        Assert.Equal(full, lean);
    }

    [Fact]
    public void Spans_of_the_wrong_size_are_rejected_with_their_name()
    {
        using var workspace = new TinyCapsNet.Workspace();
        var weights = TinyCapsNet.Weights.Embedded;
        Assert.Equal("image", Assert.Throws<ArgumentException>(() =>
            TinyCapsNet.Predict(weights, workspace, new float[99], new float[3])).ParamName);
        Assert.Equal("lengths", Assert.Throws<ArgumentException>(() =>
            TinyCapsNet.Predict(weights, workspace, new float[100], new float[2])).ParamName);
        Assert.Equal("reconstruction", Assert.Throws<ArgumentException>(() =>
            TinyCapsNet.Predict(weights, workspace, new float[100], new float[3], default, new float[5])).ParamName);
    }

    [Fact]
    public void Generated_constants_describe_the_paper_network()
    {
        Assert.Equal(CapsNetArchitecture.Paper, MnistCapsNet.Architecture);
        Assert.Equal(1152, MnistCapsNet.PrimaryCapsules);
        Assert.Equal(MnistCapsNet.ParameterCount, CapsNetArchitecture.Paper.ParameterCount);
        Assert.Equal(SimdTiers.Best, MnistCapsNet.ActiveTier);
        Assert.Equal(MnistCapsNet.WeightsFileLength, new FileInfo(TestData.PathOf("Weights", "mnist.safetensors")).Length);
        Assert.Equal(CapsNetArchitecture.Tiny, TinyCapsNet.Architecture);
    }
}
