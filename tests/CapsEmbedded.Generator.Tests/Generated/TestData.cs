using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.Kernels;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>Weights, images and comparison helpers shared by the generated-model tests.</summary>
internal static class TestData
{
    private static readonly Lazy<CapsNetWeights> s_tiny = new(() => CapsNetWeightsFile.Load(PathOf("Weights", "tiny.safetensors")));
    private static readonly Lazy<CapsNetWeights> s_paper = new(() => CapsNetWeightsFile.Load(PathOf("Weights", "mnist.safetensors")));
    private static readonly Lazy<CapsNetWeights> s_fashion = new(() => CapsNetWeightsFile.Load(PathOf("Weights", "fashion-mnist.safetensors")));
    private static readonly Lazy<CapsNetWeights> s_multiMnist = new(() => CapsNetWeightsFile.Load(PathOf("Weights", "multimnist.safetensors")));
    private static readonly Lazy<float[][]> s_digits = new(() => LoadImages("mnist"));
    private static readonly Lazy<float[][]> s_pairs = new(ComposePairs);
    private static readonly Lazy<float[][]> s_fashionImages = new(() => LoadImages("fashion"));
    private static readonly Lazy<byte[]> s_fashionLabels = new(() => IdxReader.ReadLabels(PathOf("Fixtures", "fashion", "t10k-200-labels-idx1-ubyte")));

    public static string PathOf(params string[] parts) => Path.Combine(AppContext.BaseDirectory, Path.Combine(parts));

    /// <summary>The tiny model's weights read by the weights branch's reader (what ReferenceModel runs on).</summary>
    public static CapsNetWeights Tiny => s_tiny.Value;

    /// <summary>weights/mnist.safetensors: the paper network, random init seed 1.</summary>
    public static CapsNetWeights Paper => s_paper.Value;

    /// <summary>Uniform [0, 1) pixels, deterministic.</summary>
    public static float[] RandomImage(int length, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var image = new float[length];
        for (int k = 0; k < length; k++) image[k] = random.NextUniform(0f, 1f);
        return image;
    }

    /// <summary>The first MNIST test digits (fixture committed by the data helper), pixels / 255.</summary>
    public static float[][] Digits => s_digits.Value;

    /// <summary>weights/multimnist.safetensors (F16), the file MultiMnistCapsNet embeds.</summary>
    public static CapsNetWeights MultiMnist => s_multiMnist.Value;

    /// <summary>
    /// 36×36 MultiMNIST pairs of the fixture's digits (<see cref="MultiMnistPairs"/>, seed 36: each of the first 20 digits
    /// with a partner of another class), pixels / 255.
    /// </summary>
    public static float[][] Pairs => s_pairs.Value;

    private static float[][] ComposePairs()
    {
        var file = IdxReader.ReadImages(PathOf("Fixtures", "mnist", "t10k-200-images-idx3-ubyte"));
        var labels = IdxReader.ReadLabels(PathOf("Fixtures", "mnist", "t10k-200-labels-idx1-ubyte"));
        var digits = new LabeledImages(file.Count, file.Rows, file.Cols, file.Pixels, labels);
        var random = new DeterministicRandom(36);
        byte[] first = new byte[MultiMnistPairs.CanvasLength], second = new byte[first.Length], merged = new byte[first.Length];
        var pairs = new float[20][];
        for (int i = 0; i < pairs.Length; i++)
        {
            MultiMnistPairs.Compose(digits, MultiMnistPairs.Draw(labels, i, random), first, second, merged);
            pairs[i] = merged.Select(b => b / 255f).ToArray();
        }
        return pairs;
    }

    /// <summary>weights/fashion-mnist.safetensors (F16), the file FashionCapsNet embeds.</summary>
    public static CapsNetWeights Fashion => s_fashion.Value;

    /// <summary>The first 200 Fashion-MNIST test images (fixture), pixels / 255, and their labels.</summary>
    public static float[][] FashionImages => s_fashionImages.Value;

    public static byte[] FashionLabels => s_fashionLabels.Value;

    /// <summary>Fixtures/&lt;set&gt;/t10k-200-images-idx3-ubyte as images of pixels / 255.</summary>
    private static float[][] LoadImages(string set)
    {
        var file = IdxReader.ReadImages(PathOf("Fixtures", set, "t10k-200-images-idx3-ubyte"));
        int pixels = file.Rows * file.Cols;
        var images = new float[file.Count][];
        for (int i = 0; i < file.Count; i++)
        {
            images[i] = new float[pixels];
            for (int p = 0; p < pixels; p++) images[i][p] = file.Pixels[i * pixels + p] / 255f;
        }
        return images;
    }

    public static IEnumerable<object[]> SupportedTiers => SimdTiers.Supported.Select(t => new object[] { t });

    /// <summary>Largest |actual − expected| / (|expected| + floor) over the pairs; the floor keeps near-zero values from dominating.</summary>
    public static double MaxRelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double floor)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"lengths {actual.Length} vs {expected.Length}");
        double worst = 0;
        for (int k = 0; k < actual.Length; k++)
            worst = Math.Max(worst, Math.Abs((double)actual[k] - expected[k]) / (Math.Abs(expected[k]) + floor));
        return worst;
    }
}
