using System.Numerics;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Weights;

/// <summary>
/// A CapsNet's parameters in managed arrays, one per tensor, in PyTorch layouts (conv [out,in,kh,kw],
/// linear [out,in], digit capsules [i, j, classDims, primaryDims]). This is what the reference model, the
/// trainer and the weight-file reader/writer share; the fast runtime reads the same layout from one blob.
/// </summary>
public sealed class CapsNetWeights : NamedTensors
{
    /// <summary>Zero-filled weights of the given architecture.</summary>
    public CapsNetWeights(CapsNetArchitecture architecture, IReadOnlyDictionary<string, string>? metadata = null)
        : base(architecture, "a CapsNet", metadata) => Architecture = architecture;

    public CapsNetArchitecture Architecture { get; }

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

    public float[] Conv1Weight => this[CapsNetArchitecture.Conv1Weight];
    public float[] Conv1Bias => this[CapsNetArchitecture.Conv1Bias];
    public float[] PrimaryWeight => this[CapsNetArchitecture.PrimaryWeight];
    public float[] PrimaryBias => this[CapsNetArchitecture.PrimaryBias];
    public float[] DigitWeight => this[CapsNetArchitecture.DigitWeight];
    public float[] Fc1Weight => this[CapsNetArchitecture.Fc1Weight];
    public float[] Fc1Bias => this[CapsNetArchitecture.Fc1Bias];
    public float[] Fc2Weight => this[CapsNetArchitecture.Fc2Weight];
    public float[] Fc2Bias => this[CapsNetArchitecture.Fc2Bias];
    public float[] Fc3Weight => this[CapsNetArchitecture.Fc3Weight];
    public float[] Fc3Bias => this[CapsNetArchitecture.Fc3Bias];

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
        int conv1FanIn = a.InputChannels * a.Conv1Kernel * a.Conv1Kernel;
        int primaryFanIn = a.Conv1Channels * a.PrimaryKernel * a.PrimaryKernel;
        Uniform(weights.Conv1Weight, conv1FanIn, random);
        Uniform(weights.Conv1Bias, conv1FanIn, random);
        Uniform(weights.PrimaryWeight, primaryFanIn, random);
        Uniform(weights.PrimaryBias, primaryFanIn, random);
        var w = weights.DigitWeight;
        for (int k = 0; k < w.Length; k++) w[k] = (float)(0.01 * random.NextGaussian());
        InitializeDecoder(name => weights[name], a.DecoderInput, a.DecoderHidden1, a.DecoderHidden2, random);
        return weights;
    }

    /// <summary>Fills <paramref name="tensor"/> uniformly in ±1/√fan_in (PyTorch's default for conv and linear layers).</summary>
    internal static void Uniform(float[] tensor, int fanIn, DeterministicRandom random)
    {
        float bound = 1f / MathF.Sqrt(fanIn);
        for (int k = 0; k < tensor.Length; k++) tensor[k] = random.NextUniform(-bound, bound);
    }

    /// <summary>
    /// The reconstruction decoder's initialisation, the same in every family (same names, same layers): fc1, fc2, fc3,
    /// weight then bias, each uniform in ±1/√fan_in.
    /// </summary>
    internal static void InitializeDecoder(Func<string, float[]> tensor, int input, int hidden1, int hidden2,
        DeterministicRandom random)
    {
        foreach (var (weight, bias, fanIn) in new[]
        {
            (CapsNetArchitecture.Fc1Weight, CapsNetArchitecture.Fc1Bias, input),
            (CapsNetArchitecture.Fc2Weight, CapsNetArchitecture.Fc2Bias, hidden1),
            (CapsNetArchitecture.Fc3Weight, CapsNetArchitecture.Fc3Bias, hidden2),
        })
        {
            Uniform(tensor(weight), fanIn, random);
            Uniform(tensor(bias), fanIn, random);
        }
    }
}
