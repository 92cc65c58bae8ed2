using CapsEmbedded.Kernels;
using CapsEmbedded.Reference;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// The generated Efficient-CapsNets (<see cref="TinyEfficientCapsNet"/>, P = 2; <see cref="TinyEfficientP1CapsNet"/>,
/// P = 1 as MNIST; batch norm folded at pack time) against the unfolded <see cref="EfficientReferenceModel"/>: lengths
/// within 1e-5 relative (+1e-6 absolute, for lengths near 0), capsules within 1e-5 absolute (|v| &lt; 1), the class equal,
/// the reconstruction within 1e-5 absolute (sigmoid outputs). Used in process and by the forced-tier child processes.
/// </summary>
internal static class EfficientModelCheck
{
    /// <summary>One generated model's Predict with the tier forced.</summary>
    public delegate int Predictor(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules, Span<float> reconstruction,
        SimdTier tier);

    private static readonly Lazy<EfficientCapsNetWeights> s_weights = new(() => Load("tiny-efficient.safetensors"));
    private static readonly Lazy<EfficientCapsNetWeights> s_p1 = new(() => Load("tiny-efficient-p1.safetensors"));

    public static EfficientCapsNetWeights Weights => s_weights.Value;

    public static EfficientCapsNetWeights WeightsP1 => s_p1.Value;

    private static EfficientCapsNetWeights Load(string file) => EfficientCapsNetWeightsFile.Load(TestData.PathOf("Weights", file));

    /// <summary>Both tiny models on <paramref name="tier"/>, <paramref name="images"/> random images each; the failures (empty = pass).</summary>
    public static List<string> Compare(SimdTier tier, int images)
    {
        using var workspace = new TinyEfficientCapsNet.Workspace();
        using var workspaceP1 = new TinyEfficientP1CapsNet.Workspace();
        var failures = Compare("tiny", Weights, (image, lengths, capsules, reconstruction, t) =>
            TinyEfficientCapsNet.Predict(TinyEfficientCapsNet.Weights.Embedded, workspace, image, lengths, capsules, reconstruction, t),
            tier, images);
        failures.AddRange(Compare("tiny-p1", WeightsP1, (image, lengths, capsules, reconstruction, t) =>
            TinyEfficientP1CapsNet.Predict(TinyEfficientP1CapsNet.Weights.Embedded, workspaceP1, image, lengths, capsules, reconstruction, t),
            tier, images));
        return failures;
    }

    private static readonly Lazy<EfficientCapsNetWeights> s_mnist = new(() => CapsEmbedded.Models.CompiledModel.MnistEfficient.ReadEmbeddedEfficient());

    /// <summary>
    /// The shipped <see cref="CapsEmbedded.Models.MnistEfficientCapsNet"/> (its embedded file) on the first
    /// <paramref name="digits"/> fixture digits on <paramref name="tier"/>, against the unfolded reference on the same file.
    /// </summary>
    public static List<string> CompareMnist(SimdTier tier, int digits)
    {
        using var workspace = new CapsEmbedded.Models.MnistEfficientCapsNet.Workspace();
        var images = TestData.Digits.Take(digits).ToArray();
        return Compare("mnist-efficient", s_mnist.Value, (image, lengths, capsules, reconstruction, t) =>
            CapsEmbedded.Models.MnistEfficientCapsNet.Predict(CapsEmbedded.Models.MnistEfficientCapsNet.Weights.Embedded, workspace, image,
                lengths, capsules, reconstruction, t), tier, images.Length, k => images[k]);
    }

    private static List<string> Compare(string name, EfficientCapsNetWeights weights, Predictor predict, SimdTier tier, int images,
        Func<int, float[]>? imageOf = null)
    {
        var a = weights.Architecture;
        var failures = new List<string>();
        var lengths = new float[a.Classes];
        var capsules = new float[a.DecoderInput];
        var reconstruction = new float[a.DecoderOutput];
        for (int k = 0; k < images; k++)
        {
            var image = imageOf?.Invoke(k) ?? TestData.RandomImage(a.InputLength, (ulong)k + 1);
            var expected = EfficientReferenceModel.Forward(weights, image);
            int predicted = predict(image, lengths, capsules, reconstruction, tier);
            if (predicted != expected.PredictedClass) failures.Add($"{name} image {k}: class {predicted}, reference {expected.PredictedClass}");
            for (int j = 0; j < lengths.Length; j++)
                if (!(Math.Abs(lengths[j] - expected.Lengths[j]) <= 1e-5 * Math.Abs(expected.Lengths[j]) + 1e-6))
                    failures.Add($"{name} image {k}: length[{j}] = {lengths[j]}, reference {expected.Lengths[j]}");
            for (int t = 0; t < capsules.Length; t++)
                if (!(Math.Abs(capsules[t] - expected.Capsules[t]) <= 1e-5))
                    failures.Add($"{name} image {k}: capsule value {t} = {capsules[t]}, reference {expected.Capsules[t]}");
            for (int t = 0; t < reconstruction.Length; t++)
                if (!(Math.Abs(reconstruction[t] - expected.Reconstruction[t]) <= 1e-5))
                    failures.Add($"{name} image {k}: pixel {t} = {reconstruction[t]}, reference {expected.Reconstruction[t]}");
        }

        return failures;
    }
}
