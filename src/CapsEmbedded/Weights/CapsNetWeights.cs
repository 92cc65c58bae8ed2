using System.Numerics;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Weights;

/// <summary>
/// A CapsNet's parameters in managed arrays, one per tensor, in PyTorch layouts (conv [out,in,kh,kw],
/// linear [out,in], digit capsules [i, j, classDims, primaryDims]). This is what the reference model, the
/// trainer and the weight-file reader/writer share; the fast runtime reads the same layout from one blob.
/// </summary>
public sealed class CapsNetWeights
{
    private readonly Dictionary<string, float[]> _tensors;

    /// <summary>Zero-filled weights of the given architecture.</summary>
    public CapsNetWeights(CapsNetArchitecture architecture, IReadOnlyDictionary<string, string>? metadata = null)
    {
        string? error = architecture.Validate();
        if (error is not null) throw new ArgumentException($"invalid architecture: {error}", nameof(architecture));
        Architecture = architecture;
        _tensors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var spec in architecture.Tensors) _tensors[spec.Name] = new float[spec.ElementCount];
        Metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
            foreach (var (key, value) in metadata) Metadata[key] = value;
        foreach (var (key, value) in architecture.ToMetadata()) Metadata[key] = value;
    }

    public CapsNetArchitecture Architecture { get; }

    /// <summary>All <c>__metadata__</c> entries: the <c>capsnet.*</c> architecture keys plus provenance.</summary>
    public Dictionary<string, string> Metadata { get; }

    /// <summary>
    /// One name per class from the <c>capsnet.class_names</c> metadata, or "0".."classes−1" when there is none.
    /// </summary>
    /// <exception cref="WeightFormatException">The metadata entry is malformed (a file read from disk was checked already).</exception>
    public IReadOnlyList<string> ClassNames =>
        CapsNetClassNames.Read(Metadata, Architecture.Classes, "weights") ?? CapsNetClassNames.Default(Architecture.Classes);

    /// <summary>The tensor with this name (see <see cref="CapsNetArchitecture.Tensors"/>).</summary>
    public float[] this[string name] => _tensors.TryGetValue(name, out var t)
        ? t : throw new KeyNotFoundException($"no tensor named '{name}' in a CapsNet");

    /// <summary>
    /// Index of the first NaN or ±Inf in <paramref name="values"/>, or −1. One vectorised pass over the exponent bits
    /// (all ones = not finite), so checking the 8.2 M paper weights at load costs a few milliseconds.
    /// </summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        var bits = MemoryMarshal.Cast<float, uint>(values);
        const uint exponent = 0x7F80_0000u;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var mask = new Vector<uint>(exponent);
            for (; i <= bits.Length - Vector<uint>.Count; i += Vector<uint>.Count)
                if (Vector.EqualsAny(new Vector<uint>(bits[i..]) & mask, mask)) break;
        }
        for (; i < bits.Length; i++)
            if ((bits[i] & exponent) == exponent) return i;
        return -1;
    }

    public float[] Conv1Weight => _tensors[CapsNetArchitecture.Conv1Weight];
    public float[] Conv1Bias => _tensors[CapsNetArchitecture.Conv1Bias];
    public float[] PrimaryWeight => _tensors[CapsNetArchitecture.PrimaryWeight];
    public float[] PrimaryBias => _tensors[CapsNetArchitecture.PrimaryBias];
    public float[] DigitWeight => _tensors[CapsNetArchitecture.DigitWeight];
    public float[] Fc1Weight => _tensors[CapsNetArchitecture.Fc1Weight];
    public float[] Fc1Bias => _tensors[CapsNetArchitecture.Fc1Bias];
    public float[] Fc2Weight => _tensors[CapsNetArchitecture.Fc2Weight];
    public float[] Fc2Bias => _tensors[CapsNetArchitecture.Fc2Bias];
    public float[] Fc3Weight => _tensors[CapsNetArchitecture.Fc3Weight];
    public float[] Fc3Bias => _tensors[CapsNetArchitecture.Fc3Bias];

    /// <summary>
    /// Deterministic random initialisation: every weight uniform in ±1/√fan_in (PyTorch's default for conv and
    /// linear layers), biases likewise, W_ij normal with σ = 0.01 (as the paper authors' code). The same seed gives
    /// the same bits on every machine and .NET version (see <see cref="DeterministicRandom"/>).
    /// </summary>
    public static CapsNetWeights CreateRandom(CapsNetArchitecture architecture, ulong seed)
    {
        var weights = new CapsNetWeights(architecture);
        weights.Metadata["capsnet.init"] = $"random seed={seed}";
        var random = new DeterministicRandom(seed);
        var a = architecture;
        void Uniform(float[] t, int fanIn)
        {
            float bound = 1f / MathF.Sqrt(fanIn);
            for (int k = 0; k < t.Length; k++) t[k] = random.NextUniform(-bound, bound);
        }
        int conv1FanIn = a.InputChannels * a.Conv1Kernel * a.Conv1Kernel;
        int primaryFanIn = a.Conv1Channels * a.PrimaryKernel * a.PrimaryKernel;
        Uniform(weights.Conv1Weight, conv1FanIn);
        Uniform(weights.Conv1Bias, conv1FanIn);
        Uniform(weights.PrimaryWeight, primaryFanIn);
        Uniform(weights.PrimaryBias, primaryFanIn);
        var w = weights.DigitWeight;
        for (int k = 0; k < w.Length; k++) w[k] = (float)(0.01 * random.NextGaussian());
        Uniform(weights.Fc1Weight, a.DecoderInput);
        Uniform(weights.Fc1Bias, a.DecoderInput);
        Uniform(weights.Fc2Weight, a.DecoderHidden1);
        Uniform(weights.Fc2Bias, a.DecoderHidden1);
        Uniform(weights.Fc3Weight, a.DecoderHidden2);
        Uniform(weights.Fc3Bias, a.DecoderHidden2);
        return weights;
    }
}
