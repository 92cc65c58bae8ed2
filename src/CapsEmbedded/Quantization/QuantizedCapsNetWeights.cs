using CapsEmbedded.Weights;

namespace CapsEmbedded.Quantization;

/// <summary>
/// A CapsNet whose primary-capsule conv is quantised (scheme <see cref="Scheme"/>): the weight as int8 [out][in][kh][kw]
/// with one scale per output channel, w ≈ q · s_w[out], and one scale for its input (conv1's ReLU output),
/// x ≈ q · s_a with q in [0, 127]. Every other tensor stays float32. Held in managed arrays, like <see cref="CapsNetWeights"/>.
/// </summary>
public sealed class QuantizedCapsNetWeights
{
    /// <summary>The <c>capsnet.quantization</c> value: symmetric int8 weights per output channel, unsigned 7-bit activations.</summary>
    public const string Scheme = QuantizedHeaderValidator.Scheme;

    /// <summary>Largest |q| of a weight: symmetric, so −128 is never used (and never accepted).</summary>
    public const int WeightLimit = 127;

    /// <summary>Largest activation code: 7 bits keep u7 × s8 pairs clear of vpmaddubsw's 16-bit saturation.</summary>
    public const int ActivationLimit = 127;

    public const string PrimaryWeightScaleName = QuantizedHeaderValidator.PrimaryWeightScaleName;
    public const string PrimaryInputScaleName = QuantizedHeaderValidator.PrimaryInputScaleName;

    public const string SchemeKey = QuantizedHeaderValidator.SchemeKey;
    public const string WeightsKey = QuantizedHeaderValidator.WeightsKey;
    public const string WeightScalesKey = QuantizedHeaderValidator.WeightScalesKey;
    public const string InputScalesKey = QuantizedHeaderValidator.InputScalesKey;
    public const string CalibrationKey = SchemeKey + ".calibration";

    /// <param name="weights">Every float tensor; its primary-capsule weight is overwritten with the dequantised q · s_w.</param>
    /// <param name="primaryWeight">q, [out][in][kh][kw] in [−127, 127].</param>
    /// <param name="primaryWeightScale">s_w, one per output channel, finite and &gt; 0.</param>
    /// <param name="primaryInputScale">s_a, finite and &gt; 0.</param>
    public QuantizedCapsNetWeights(CapsNetWeights weights, sbyte[] primaryWeight, float[] primaryWeightScale, float primaryInputScale)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(primaryWeight);
        ArgumentNullException.ThrowIfNull(primaryWeightScale);
        var a = weights.Architecture;
        if (primaryWeight.Length != weights.PrimaryWeight.Length)
            throw new ArgumentException($"the int8 weight has {primaryWeight.Length} values; the architecture needs {weights.PrimaryWeight.Length}", nameof(primaryWeight));
        if (primaryWeightScale.Length != a.PrimaryChannels)
            throw new ArgumentException($"{primaryWeightScale.Length} weight scales for {a.PrimaryChannels} output channels", nameof(primaryWeightScale));
        if (!IsScale(primaryInputScale)) throw new ArgumentOutOfRangeException(nameof(primaryInputScale), primaryInputScale, "a scale must be finite and > 0");
        foreach (float s in primaryWeightScale)
            if (!IsScale(s)) throw new ArgumentOutOfRangeException(nameof(primaryWeightScale), s, "a scale must be finite and > 0");
        foreach (sbyte q in primaryWeight)
            if (q < -WeightLimit) throw new ArgumentOutOfRangeException(nameof(primaryWeight), q, "int8 weights are symmetric: -128 is not used");

        Weights = weights;
        PrimaryWeight = primaryWeight;
        PrimaryWeightScale = primaryWeightScale;
        PrimaryInputScale = primaryInputScale;
        int perChannel = primaryWeight.Length / a.PrimaryChannels;
        float[] dequantised = weights.PrimaryWeight;
        for (int k = 0; k < primaryWeight.Length; k++) dequantised[k] = primaryWeight[k] * primaryWeightScale[k / perChannel];
        weights.Metadata[SchemeKey] = Scheme;
        weights.Metadata[WeightsKey] = CapsNetArchitecture.PrimaryWeight;
        weights.Metadata[WeightScalesKey] = PrimaryWeightScaleName;
        weights.Metadata[InputScalesKey] = PrimaryInputScaleName;
    }

    public CapsNetArchitecture Architecture => Weights.Architecture;

    /// <summary>The float tensors; <see cref="CapsNetWeights.PrimaryWeight"/> holds the dequantised int8 weight (for the reference model).</summary>
    public CapsNetWeights Weights { get; }

    /// <summary>All <c>__metadata__</c>: architecture, quantisation keys, provenance.</summary>
    public Dictionary<string, string> Metadata => Weights.Metadata;

    /// <summary>primary_caps.weight as int8, PyTorch layout [out][in][kh][kw], each in [−127, 127].</summary>
    public sbyte[] PrimaryWeight { get; }

    /// <summary>s_w[out]: primary_caps.weight[out, …] ≈ q · s_w[out].</summary>
    public float[] PrimaryWeightScale { get; }

    /// <summary>s_a: conv1's ReLU output x ≈ q · s_a with q = clamp(round(x / s_a), 0, 127).</summary>
    public float PrimaryInputScale { get; }

    internal static bool IsScale(float s) => float.IsFinite(s) && s > 0f;
}
