namespace CapsEmbedded.Weights;

/// <summary>
/// An Efficient-CapsNet's parameters in managed arrays, one per tensor of <see cref="EfficientCapsNetArchitecture.Tensors"/>,
/// in PyTorch layouts and state_dict names (conv [out,in,kh,kw], depthwise [C,1,K,K], digit capsules W [j, i, d_in, d_out],
/// b [j, i], linear [out,in], batch norm γ, β, μ, σ² per channel).
/// </summary>
public sealed class EfficientCapsNetWeights : NamedTensors
{
    /// <summary>Zero-filled weights of the given architecture (every running variance 0: set them before use).</summary>
    public EfficientCapsNetWeights(EfficientCapsNetArchitecture architecture, IReadOnlyDictionary<string, string>? metadata = null)
        : base(architecture, "an Efficient-CapsNet", metadata) => Architecture = architecture;

    public EfficientCapsNetArchitecture Architecture { get; }

    /// <summary>Stem layer <paramref name="layer"/>'s convolution, [out, in, k, k] and [out].</summary>
    public (float[] Weight, float[] Bias) StemConv(int layer) =>
        (this[EfficientCapsNetArchitecture.StemConvWeight(layer)], this[EfficientCapsNetArchitecture.StemConvBias(layer)]);

    /// <summary>Stem layer <paramref name="layer"/>'s batch norm: γ, β, running mean μ and running variance σ², each [out].</summary>
    public (float[] Gamma, float[] Beta, float[] Mean, float[] Variance) StemBatchNorm(int layer) =>
        (this[EfficientCapsNetArchitecture.StemBnWeight(layer)], this[EfficientCapsNetArchitecture.StemBnBias(layer)],
         this[EfficientCapsNetArchitecture.StemBnMean(layer)], this[EfficientCapsNetArchitecture.StemBnVariance(layer)]);

    /// <summary>The depthwise primary-capsule conv, [C, 1, K, K] and [C].</summary>
    public (float[] Weight, float[] Bias) Primary =>
        (this[EfficientCapsNetArchitecture.PrimaryWeight], this[EfficientCapsNetArchitecture.PrimaryBias]);

    /// <summary>FC-caps: W [j, i, d_in, d_out] and the coupling bias b [j, i].</summary>
    public (float[] Weight, float[] Bias) Digit =>
        (this[EfficientCapsNetArchitecture.DigitWeight], this[EfficientCapsNetArchitecture.DigitBias]);

    /// <summary>
    /// Deterministic random weights for tests: convs, depthwise and linear layers uniform in ±1/√fan_in (PyTorch's
    /// default), W normal with σ = √(2/d_in) (he_normal, as the authors), b uniform ±0.1, and batch-norm statistics far
    /// from the identity (γ ∈ [0.5, 1.5], β ∈ ±0.5, μ ∈ ±0.5, σ² ∈ [0.25, 2]) so that folding them is really exercised.
    /// The same seed gives the same bits on every machine (see <see cref="DeterministicRandom"/>).
    /// </summary>
    public static EfficientCapsNetWeights CreateRandom(EfficientCapsNetArchitecture architecture, ulong seed)
    {
        var weights = new EfficientCapsNetWeights(architecture);
        weights.Metadata["capsnet.init"] = $"random seed={seed}";
        var random = new DeterministicRandom(seed);
        var a = architecture;
        void Uniform(float[] t, float low, float high)
        {
            for (int k = 0; k < t.Length; k++) t[k] = random.NextUniform(low, high);
        }
        for (int layer = 0; layer < a.Stem.Count; layer++)
        {
            int fanIn = a.StemInputChannels(layer) * a.Stem[layer].Kernel * a.Stem[layer].Kernel;
            var (conv, convBias) = weights.StemConv(layer);
            CapsNetWeights.Uniform(conv, fanIn, random);
            CapsNetWeights.Uniform(convBias, fanIn, random);
            var (gamma, beta, mean, variance) = weights.StemBatchNorm(layer);
            Uniform(gamma, 0.5f, 1.5f);
            Uniform(beta, -0.5f, 0.5f);
            Uniform(mean, -0.5f, 0.5f);
            Uniform(variance, 0.25f, 2f);
        }
        var (primary, primaryBias) = weights.Primary;
        CapsNetWeights.Uniform(primary, a.PrimaryKernel * a.PrimaryKernel, random);
        CapsNetWeights.Uniform(primaryBias, a.PrimaryKernel * a.PrimaryKernel, random);
        var (w, b) = weights.Digit;
        for (int k = 0; k < w.Length; k++) w[k] = (float)(Math.Sqrt(2.0 / a.PrimaryDims) * random.NextGaussian());
        Uniform(b, -0.1f, 0.1f);
        CapsNetWeights.InitializeDecoder(name => weights[name], a.DecoderInput, a.DecoderHidden1, a.DecoderHidden2, random);
        return weights;
    }
}
