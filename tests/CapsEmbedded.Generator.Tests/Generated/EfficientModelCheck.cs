using CapsEmbedded.Kernels;
using CapsEmbedded.Reference;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// The generated <see cref="TinyEfficientCapsNet"/> (batch norm folded at pack time) against the unfolded
/// <see cref="EfficientReferenceModel"/>: lengths within 1e-5 relative (+1e-6 absolute, for lengths near 0), capsules
/// within 1e-5 absolute (|v| &lt; 1), the class equal, the reconstruction within 1e-5 absolute (sigmoid outputs). Used in
/// process and by the forced-tier child processes.
/// </summary>
internal static class EfficientModelCheck
{
    private static readonly Lazy<EfficientCapsNetWeights> s_weights =
        new(() => EfficientCapsNetWeightsFile.Load(TestData.PathOf("Weights", "tiny-efficient.safetensors")));

    public static EfficientCapsNetWeights Weights => s_weights.Value;

    /// <summary>Compares <paramref name="images"/> random images on <paramref name="tier"/>; returns the failures (empty = pass).</summary>
    public static List<string> Compare(SimdTier tier, int images)
    {
        var failures = new List<string>();
        using var workspace = new TinyEfficientCapsNet.Workspace();
        var lengths = new float[TinyEfficientCapsNet.Classes];
        var capsules = new float[TinyEfficientCapsNet.DecoderInput];
        var reconstruction = new float[TinyEfficientCapsNet.DecoderOutput];
        for (int k = 0; k < images; k++)
        {
            var image = TestData.RandomImage(TinyEfficientCapsNet.InputLength, (ulong)k + 1);
            var expected = EfficientReferenceModel.Forward(Weights, image);
            int predicted = TinyEfficientCapsNet.Predict(TinyEfficientCapsNet.Weights.Embedded, workspace, image, lengths, capsules,
                reconstruction, tier);
            if (predicted != expected.PredictedClass) failures.Add($"image {k}: class {predicted}, reference {expected.PredictedClass}");
            for (int j = 0; j < lengths.Length; j++)
                if (!(Math.Abs(lengths[j] - expected.Lengths[j]) <= 1e-5 * Math.Abs(expected.Lengths[j]) + 1e-6))
                    failures.Add($"image {k}: length[{j}] = {lengths[j]}, reference {expected.Lengths[j]}");
            for (int t = 0; t < capsules.Length; t++)
                if (!(Math.Abs(capsules[t] - expected.Capsules[t]) <= 1e-5))
                    failures.Add($"image {k}: capsule value {t} = {capsules[t]}, reference {expected.Capsules[t]}");
            for (int t = 0; t < reconstruction.Length; t++)
                if (!(Math.Abs(reconstruction[t] - expected.Reconstruction[t]) <= 1e-5))
                    failures.Add($"image {k}: pixel {t} = {reconstruction[t]}, reference {expected.Reconstruction[t]}");
        }

        return failures;
    }
}
