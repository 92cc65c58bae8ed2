using System.Collections.Concurrent;
using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using CapsEmbedded.Reference;
using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>One generated model's Predict with a forced tier (through its Session, the one interface of every model).</summary>
internal delegate int ModelPredict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules,
    Span<float> reconstruction, SimdTier tier);

/// <summary>
/// Compares a generated model with <see cref="ReferenceModel.Forward"/> (single precision) on one image.
/// Tolerances, and why: the kernels accumulate in another order than the reference's plain loops (blocked GEMM with
/// FMA, k up to 20 736 for the primary conv; vector reductions in routing), so float results differ in the last bits and
/// the differences grow through squash and three routing iterations.
/// <list type="bullet">
/// <item>lengths |v_j|: relative error ≤ <see cref="LengthTolerance"/> (1e-5), measured against |v_j| + <see cref="LengthFloor"/>
/// (0.01): a short capsule's s_j is a sum that nearly cancels, so its few remaining bits differ more (the shipped model's
/// digit 2 has a length of 0.005 that differs by 5e-8, 1.0e-5 relative); below 0.01 the bound is 1e-7 absolute;</item>
/// <item>capsules v: |Δ| ≤ <see cref="CapsuleTolerance"/> (1e-5) × the largest |v| component;</item>
/// <item>reconstruction (sigmoid, in (0, 1)): |Δ| ≤ <see cref="ReconstructionTolerance"/> (1e-5) absolute;</item>
/// <item>the predicted class is the same.</item>
/// </list>
/// </summary>
internal static class ModelCheck
{
    public const double LengthTolerance = 1e-5;
    public const double LengthFloor = 0.01;
    public const double CapsuleTolerance = 1e-5;
    public const double ReconstructionTolerance = 1e-5;

    public sealed record Result(double Lengths, double Capsules, double Reconstruction, int Class, int ReferenceClass)
    {
        public bool WithinTolerance => Lengths <= LengthTolerance && Capsules <= CapsuleTolerance
            && Reconstruction <= ReconstructionTolerance && Class == ReferenceClass;

        public override string ToString() => FormattableString.Invariant(
            $"lengths rel {Lengths:E2}, capsules {Capsules:E2}, reconstruction {Reconstruction:E2}, class {Class} vs reference {ReferenceClass}");
    }

    private static readonly ConcurrentDictionary<(string, int), ReferenceOutput> s_references = new();

    public static ModelPredict Tiny() => Of(new TinyCapsNet.Session(TinyCapsNet.Weights.Embedded, ownsWeights: false));

    public static ModelPredict Paper() => Of(new MnistCapsNet.Session(MnistCapsNet.Weights.Embedded, ownsWeights: false));

    public static ModelPredict Fashion() => Of(new FashionCapsNet.Session(FashionCapsNet.Weights.Embedded, ownsWeights: false));

    public static ModelPredict MultiMnist() => Of(new MultiMnistCapsNet.Session(MultiMnistCapsNet.Weights.Embedded, ownsWeights: false));

    /// <summary>The generated Predict behind <paramref name="session"/> (its Session forwards on its tier) with the tier forced.</summary>
    private static ModelPredict Of(ICapsNetSession session) => (image, lengths, capsules, reconstruction, tier) =>
    {
        session.Tier = tier;
        return session.Predict(image, lengths, capsules, reconstruction);
    };

    /// <summary>The reference output for an image, computed once per (model, key).</summary>
    public static ReferenceOutput Reference(string model, int key, CapsNetWeights weights, float[] image)
        => s_references.GetOrAdd((model, key), _ => ReferenceModel.Forward(weights, image));

    public static Result Compare(ModelPredict predict, CapsNetArchitecture a, ReferenceOutput expected, float[] image, SimdTier tier)
    {
        var lengths = new float[a.Classes];
        var capsules = new float[a.DecoderInput];
        var reconstruction = new float[a.DecoderOutput];
        int predicted = predict(image, lengths, capsules, reconstruction, tier);
        double capsuleScale = expected.Capsules.Max(MathF.Abs);
        double capsuleError = 0, reconstructionError = 0;
        for (int k = 0; k < capsules.Length; k++)
            capsuleError = Math.Max(capsuleError, Math.Abs(capsules[k] - expected.Capsules[k]) / capsuleScale);
        for (int k = 0; k < reconstruction.Length; k++)
            reconstructionError = Math.Max(reconstructionError, Math.Abs(reconstruction[k] - expected.Reconstruction[k]));
        return new Result(TestData.MaxRelativeError(lengths, expected.Lengths, LengthFloor), capsuleError, reconstructionError,
            predicted, expected.PredictedClass);
    }
}
