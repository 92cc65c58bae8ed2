using CapsEmbedded.Weights;

namespace CapsEmbedded.Runtime;

/// <summary>
/// The check every caller of a model makes before it reports a class (capsnet eval and predict, capsnet-serve, the C
/// exports): finite weights can still overflow on an input (a 3.4e38 weight times a pixel is ∞), and a NaN length would
/// otherwise read as class 0.
/// </summary>
public static class NonFiniteLengths
{
    /// <summary>True when any capsule length is NaN or ±∞; allocates nothing.</summary>
    public static bool Any(ReadOnlySpan<float> lengths) => CapsNetWeights.IndexOfNonFinite(lengths) >= 0;

    /// <summary>The one-line refusal when <see cref="Any"/> is true; <paramref name="subject"/> names the input ("image 3", a path).</summary>
    public static string Message(string subject) =>
        $"the model gave {subject} non-finite capsule lengths (NaN/Inf): its weights are unusable for this input; no class reported";
}
