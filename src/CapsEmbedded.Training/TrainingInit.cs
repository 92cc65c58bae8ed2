using CapsEmbedded.Weights;

namespace CapsEmbedded.Training;

/// <summary>
/// The trainer's initialisation: conv and linear layers as PyTorch's defaults (uniform ±1/√fan_in, weights and biases),
/// W_ij normal with σ = 0.01 as in the authors' code — this is <see cref="CapsNetWeights.CreateRandom"/>, bit for bit,
/// with σ adjustable. With σ = 0.01 the initial digit capsules are short (|v| ≈ 0.01–0.1), so the margin loss starts
/// near 0.81 per image from the true class and its gradient is informative; the network trains from there.
/// </summary>
public static class TrainingInit
{
    public const double DefaultDigitSigma = 0.01;

    public static CapsNetWeights Create(CapsNetArchitecture architecture, ulong seed, double digitSigma = DefaultDigitSigma)
    {
        if (!(digitSigma > 0) || double.IsInfinity(digitSigma))
            throw new ArgumentOutOfRangeException(nameof(digitSigma), $"σ of W_ij must be positive and finite, got {digitSigma}");
        var weights = CapsNetWeights.CreateRandom(architecture, seed);
        if (digitSigma != DefaultDigitSigma)
        {
            // CreateRandom draws 0.01·N(0,1): rescaling gives σ·N(0,1) from the same draws.
            float factor = (float)(digitSigma / DefaultDigitSigma);
            var w = weights.DigitWeight;
            for (int k = 0; k < w.Length; k++) w[k] *= factor;
        }
        weights.Metadata["capsnet.init"] = Describe(seed, digitSigma);
        return weights;
    }

    /// <summary>One line for weight-file metadata: how <see cref="Create"/> initialised a run.</summary>
    public static string Describe(ulong seed, double digitSigma) => FormattableString.Invariant(
        $"seed={seed}; conv/linear uniform ±1/sqrt(fan_in); W_ij normal sigma={digitSigma}");
}
