using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using CapsEmbedded.Weights;
using Xunit.Abstractions;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>The generated models against ReferenceModel, in every SIMD tier this process supports (tolerances: <see cref="ModelCheck"/>).</summary>
public class ModelVsReferenceTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(TestData.SupportedTiers), MemberType = typeof(TestData))]
    public void Tiny_model_matches_the_reference_on_random_images(SimdTier tier)
    {
        var images = Enumerable.Range(0, 50).Select(k => TestData.RandomImage(TinyCapsNet.InputLength, (ulong)k + 1));
        AssertAllMatch(ModelCheck.Tiny(), TinyCapsNet.Architecture, "tiny", TestData.Tiny, images, tier, "image");
    }

    [Theory]
    [MemberData(nameof(TestData.SupportedTiers), MemberType = typeof(TestData))]
    public void Paper_model_matches_the_reference_on_random_images(SimdTier tier)
    {
        var images = Enumerable.Range(0, 2).Select(k => TestData.RandomImage(MnistCapsNet.InputLength, (ulong)k + 100));
        AssertAllMatch(ModelCheck.Paper(), MnistCapsNet.Architecture, "paper-random", TestData.Paper, images, tier, "random image");
    }

    [Theory]
    [MemberData(nameof(TestData.SupportedTiers), MemberType = typeof(TestData))]
    public void Paper_model_matches_the_reference_on_mnist_digits(SimdTier tier)
    {
        AssertAllMatch(ModelCheck.Paper(), MnistCapsNet.Architecture, "paper-digit", TestData.Paper, TestData.Digits.Take(4), tier, "digit");
    }

    [Theory]
    [MemberData(nameof(TestData.SupportedTiers), MemberType = typeof(TestData))]
    public void Fashion_model_matches_the_reference_on_fashion_images(SimdTier tier)
    {
        // The reference reads the F16 file widened to float32, as FashionCapsNet packs it.
        AssertAllMatch(ModelCheck.Fashion(), FashionCapsNet.Architecture, "fashion", TestData.Fashion, TestData.FashionImages.Take(4), tier, "fashion image");
    }

    [Theory]
    [MemberData(nameof(TestData.SupportedTiers), MemberType = typeof(TestData))]
    public void MultiMnist_model_matches_the_reference_on_pairs_and_random_images(SimdTier tier)
    {
        // 36×36: 3,200 primary capsules, a 10×10 primary grid (100 GEMM rows), decoder output 1,296.
        var images = TestData.Pairs.Take(3).Append(TestData.RandomImage(MultiMnistCapsNet.InputLength, 36));
        AssertAllMatch(ModelCheck.MultiMnist(), MultiMnistCapsNet.Architecture, "multimnist", TestData.MultiMnist, images, tier, "pair");
    }

    [Fact]
    public void Tiny_model_on_mnist_digits_cropped_to_its_input()
    {
        // The tiny network takes 10×10: use the digits' centre so real strokes (not noise) go through it.
        var images = TestData.Digits.Take(20).Select(digit =>
        {
            var image = new float[TinyCapsNet.InputLength];
            for (int y = 0; y < 10; y++)
                for (int x = 0; x < 10; x++) image[y * 10 + x] = digit[(y + 9) * 28 + x + 9];
            return image;
        });
        AssertAllMatch(ModelCheck.Tiny(), TinyCapsNet.Architecture, "tiny-digit", TestData.Tiny, images, SimdTiers.Best, "digit");
    }

    /// <summary>Image k of <paramref name="images"/> through the model on <paramref name="tier"/> against the reference (cached under <paramref name="key"/>, k).</summary>
    private void AssertAllMatch(ModelPredict predict, CapsNetArchitecture architecture, string key, CapsNetWeights weights,
        IEnumerable<float[]> images, SimdTier tier, string what)
    {
        int k = 0;
        foreach (var image in images)
        {
            var expected = ModelCheck.Reference(key, k, weights, image);
            var result = ModelCheck.Compare(predict, architecture, expected, image, tier);
            output.WriteLine($"{what} {k}, {tier}: {result}");
            Assert.True(result.WithinTolerance, $"{what} {k}, {tier}: {result}");
            k++;
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
