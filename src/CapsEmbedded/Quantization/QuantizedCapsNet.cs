using System.Numerics;
using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Quantization;

/// <summary>
/// The int8 CapsNet at run time, for any architecture: conv1 in float32 (the <see cref="PackedGemm"/> kernels) → ReLU →
/// quantised to u7 codes, channels last → byte im2col → <see cref="QuantizedGemm"/> (exact int32 sums) → × s_a·s_w[n] + bias
/// → squash (eq. 1), û (eq. 2), routing (Procedure 1), lengths and decoder in float32 as the generated model does.
/// Weights are packed once into aligned native memory and read-only afterwards (one instance serves any number of threads);
/// Predict allocates nothing, its scratch lives in a <see cref="Workspace"/> per thread.
/// </summary>
public sealed class QuantizedCapsNet : IDisposable
{
    private readonly PackedCapsNetLayout _layout; // the float tensors' places in _floats
    private readonly AlignedBuffer _floats;
    private readonly AlignedBuffer _int8; // the packed int8 weight, viewed as bytes
    private readonly int _int8Length;

    private QuantizedCapsNet(QuantizedCapsNetWeights weights)
    {
        var a = weights.Architecture;
        Architecture = a;
        PrimaryInputScale = weights.PrimaryInputScale;
        _layout = new PackedCapsNetLayout(a, int8Primary: true);
        _floats = new AlignedBuffer(_layout.TotalLength);
        _int8Length = QuantizedGemm.PackedLength(a.PrimaryChannels, PrimaryK);
        _int8 = new AlignedBuffer((_int8Length + sizeof(float) - 1) / sizeof(float));
        try
        {
            Pack(weights);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Packs quantised weights (validated by <see cref="QuantizedWeightsFile"/> or made by <see cref="Quantizer"/>).</summary>
    public static QuantizedCapsNet Create(QuantizedCapsNetWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return new QuantizedCapsNet(weights);
    }

    public CapsNetArchitecture Architecture { get; }

    /// <summary>s_a, the scale of the primary conv's u7 input codes.</summary>
    public float PrimaryInputScale { get; }

    private int Conv1K => _layout.Conv1K;
    private int PrimaryK => _layout.PrimaryK;

    private Span<float> Region(PackedCapsNetLayout.Region region) => _floats.Span.Slice(region.Offset, region.Length);
    private Span<sbyte> PrimaryWeight => MemoryMarshal.Cast<float, sbyte>(_int8.Span)[.._int8Length];

    // The packed tensors, read-only, for a generated int8 model's fixed-shape layers (same kernels, same order).

    /// <summary>conv1's weight packed for <see cref="PackedGemm"/> (n = conv1 channels, k = channels·kernel²).</summary>
    public ReadOnlySpan<float> PackedConv1Weight => Region(_layout.Conv1Weight);
    public ReadOnlySpan<float> Conv1Bias => Region(_layout.Conv1Bias);
    /// <summary>The primary conv's int8 weight, columns [ky][kx][c], packed for <see cref="QuantizedGemm"/>.</summary>
    public ReadOnlySpan<sbyte> PackedPrimaryWeight => PrimaryWeight;
    /// <summary>s_a·s_w[n]: one int32 sum of channel n times this is its float conv output (bias not added).</summary>
    public ReadOnlySpan<float> PrimaryMultiplier => Region(_layout.PrimaryMultiplier);
    public ReadOnlySpan<float> PrimaryBias => Region(_layout.PrimaryBias);
    /// <summary>W_ij packed for <see cref="CapsuleTransform"/>.</summary>
    public ReadOnlySpan<float> PackedDigitWeight => Region(_layout.DigitWeight);
    public ReadOnlySpan<float> PackedFc1Weight => Region(_layout.Fc1Weight);
    public ReadOnlySpan<float> Fc1Bias => Region(_layout.Fc1Bias);
    public ReadOnlySpan<float> PackedFc2Weight => Region(_layout.Fc2Weight);
    public ReadOnlySpan<float> Fc2Bias => Region(_layout.Fc2Bias);
    public ReadOnlySpan<float> PackedFc3Weight => Region(_layout.Fc3Weight);
    public ReadOnlySpan<float> Fc3Bias => Region(_layout.Fc3Bias);

    private void Pack(QuantizedCapsNetWeights weights)
    {
        var a = Architecture;
        var w = weights.Weights;
        PackedGemm.Pack(w.Conv1Weight, a.Conv1Channels, Conv1K, Region(_layout.Conv1Weight));
        w.Conv1Bias.CopyTo(Region(_layout.Conv1Bias));
        w.PrimaryBias.CopyTo(Region(_layout.PrimaryBias));
        Span<float> multiplier = Region(_layout.PrimaryMultiplier);
        for (int n = 0; n < a.PrimaryChannels; n++) multiplier[n] = weights.PrimaryInputScale * weights.PrimaryWeightScale[n];
        // Same channels-last column order [ky][kx][c] as the float model (conv1's output is read in place, no transpose).
        var permuted = new sbyte[weights.PrimaryWeight.Length];
        PermuteToChannelsLast(weights.PrimaryWeight, a.PrimaryChannels, a.Conv1Channels, a.PrimaryKernel, permuted);
        QuantizedGemm.Pack(permuted, a.PrimaryChannels, PrimaryK, PrimaryWeight);
        CapsuleTransform.PackWeights(w.DigitWeight, a.PrimaryCapsules, a.Classes, a.ClassDims, a.PrimaryDims, Region(_layout.DigitWeight));
        PackedGemm.Pack(w.Fc1Weight, a.DecoderHidden1, a.DecoderInput, Region(_layout.Fc1Weight));
        w.Fc1Bias.CopyTo(Region(_layout.Fc1Bias));
        PackedGemm.Pack(w.Fc2Weight, a.DecoderHidden2, a.DecoderHidden1, Region(_layout.Fc2Weight));
        w.Fc2Bias.CopyTo(Region(_layout.Fc2Bias));
        PackedGemm.Pack(w.Fc3Weight, a.DecoderOutput, a.DecoderHidden2, Region(_layout.Fc3Weight));
        w.Fc3Bias.CopyTo(Region(_layout.Fc3Bias));
    }

    /// <summary>[out][in][kh][kw] → [out][kh][kw][in], as <see cref="Im2Col.PermuteWeightsToChannelsLast"/> does for floats.</summary>
    internal static void PermuteToChannelsLast(ReadOnlySpan<sbyte> weight, int outputs, int channels, int kernel, Span<sbyte> permuted)
    {
        int area = kernel * kernel, row = channels * area;
        for (int o = 0; o < outputs; o++)
            for (int c = 0; c < channels; c++)
                for (int tap = 0; tap < area; tap++)
                    permuted[o * row + tap * channels + c] = weight[o * row + c * area + tap];
    }

    /// <summary>One image on the best tiers; see the full overload.</summary>
    public int Predict(Workspace workspace, ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules = default,
        Span<float> reconstruction = default) =>
        Predict(workspace, image, lengths, capsules, reconstruction, SimdTiers.Best, Int8Tiers.Best);

    /// <summary>
    /// The class (longest digit capsule; ties to the lowest, NaN never wins) and the capsule lengths of one image
    /// [C·S·S] in [0, 1]; <paramref name="capsules"/> [classes·classDims] and <paramref name="reconstruction"/> [C·S·S]
    /// are filled when not empty. No heap allocation.
    /// </summary>
    public int Predict(Workspace workspace, ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules,
        Span<float> reconstruction, SimdTier tier, Int8Tier int8Tier)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        var a = Architecture;
        if (workspace.Architecture != a) throw new ArgumentException($"the workspace was made for {workspace.Architecture}, this model is {a}", nameof(workspace));
        if (image.Length != a.InputLength) throw new ArgumentException($"image has {image.Length} pixels; the model needs {a.InputLength}", nameof(image));
        if (lengths.Length < a.Classes) throw new ArgumentException($"lengths has room for {lengths.Length}; the model has {a.Classes} classes", nameof(lengths));
        if (!capsules.IsEmpty && capsules.Length < a.DecoderInput) throw new ArgumentException($"capsules has room for {capsules.Length}; it needs {a.DecoderInput}", nameof(capsules));
        if (!reconstruction.IsEmpty && reconstruction.Length < a.DecoderOutput) throw new ArgumentException($"reconstruction has room for {reconstruction.Length}; it needs {a.DecoderOutput}", nameof(reconstruction));
        SimdTiers.ThrowIfUnsupported(tier);
        if (!Int8Tiers.IsSupported(int8Tier)) throw new PlatformNotSupportedException($"int8 tier {int8Tier} is not supported on this machine");

        int pixels = a.Conv1OutSize * a.Conv1OutSize, positions = a.PrimaryGridSize * a.PrimaryGridSize;
        int c1 = a.Conv1Channels, n = a.PrimaryChannels, k = PrimaryK;
        var s = workspace;

        // conv1 + ReLU in float32: [pixels][c1], channels last.
        Im2Col.Run(image, a.InputChannels, a.InputSize, a.InputSize, a.Conv1Kernel, a.Conv1Stride, s.Conv1Patches);
        PackedGemm.Multiply(s.Conv1Patches, pixels, Conv1K, Region(_layout.Conv1Weight), c1, Region(_layout.Conv1Bias), Activation.Relu, s.Conv1, tier);

        // u7 codes q = min(round(x / s_a), 127), then the byte im2col in [ky][kx][c] order.
        QuantizeU7(s.Conv1, 1f / PrimaryInputScale, s.Codes);
        Im2ColChannelsLast(s.Codes, c1, a.Conv1OutSize, a.PrimaryKernel, a.PrimaryStride, a.PrimaryGridSize, s.CodePatches);

        // Exact int32 sums, then primary[p][n] = acc · s_a·s_w[n] + bias[n].
        QuantizedGemm.Multiply(s.CodePatches, positions, k, PrimaryWeight, n, s.Accumulators, int8Tier);
        Dequantise(s.Accumulators, positions, n, Region(_layout.PrimaryMultiplier), Region(_layout.PrimaryBias), s.PrimaryConv);

        PrimaryCapsuleLayout.RegroupAndSquash(s.PrimaryConv, positions, a.PrimaryDims, 0, a.PrimaryCapsules, s.Primary, tier);
        CapsuleTransform.Run(s.Primary, Region(_layout.DigitWeight), a.PrimaryCapsules, a.Classes, a.ClassDims, a.PrimaryDims, s.UHat, tier);
        Routing.Run(s.UHat, a.PrimaryCapsules, a.Classes, a.ClassDims, a.RoutingIterations, s.Logits, s.Coupling, s.DigitCaps, tier);
        Span<float> classLengths = lengths[..a.Classes];
        CapsuleLengths.Run(s.DigitCaps, a.Classes, a.ClassDims, classLengths, tier);
        int longest = TopK.ArgMax<float>(classLengths);

        if (!capsules.IsEmpty) s.DigitCaps.CopyTo(capsules);
        if (!reconstruction.IsEmpty) Decode(s, s.DigitCaps, longest, reconstruction, tier);
        return longest;
    }

    /// <summary>
    /// The decoder alone (float32, as in <see cref="Predict(Workspace, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, SimdTier, Int8Tier)"/>):
    /// the image from <paramref name="capsules"/> [classes·classDims] with every capsule but <paramref name="keep"/> zeroed.
    /// </summary>
    public void Reconstruct(Workspace workspace, ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction, SimdTier tier)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        var a = Architecture;
        if (workspace.Architecture != a) throw new ArgumentException($"the workspace was made for {workspace.Architecture}, this model is {a}", nameof(workspace));
        if (capsules.Length != a.DecoderInput) throw new ArgumentException($"capsules has {capsules.Length} values; the decoder takes {a.Classes}x{a.ClassDims}", nameof(capsules));
        if ((uint)keep >= (uint)a.Classes) throw new ArgumentOutOfRangeException(nameof(keep), keep, $"the class to keep must be in 0..{a.Classes - 1}");
        if (reconstruction.Length < a.DecoderOutput) throw new ArgumentException($"reconstruction has room for {reconstruction.Length}; it needs {a.DecoderOutput}", nameof(reconstruction));
        SimdTiers.ThrowIfUnsupported(tier);
        Decode(workspace, capsules, keep, reconstruction, tier);
    }

    /// <summary>The decoder on <paramref name="capsules"/> with every capsule but <paramref name="keep"/> masked (§4.1).</summary>
    private void Decode(Workspace s, ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction, SimdTier tier)
    {
        var a = Architecture;
        CapsuleMask.Keep(capsules, a.ClassDims, keep, s.Masked);
        var decoder = new DecoderWeights(Region(_layout.Fc1Weight), Region(_layout.Fc1Bias), Region(_layout.Fc2Weight),
            Region(_layout.Fc2Bias), Region(_layout.Fc3Weight), Region(_layout.Fc3Bias));
        CapsuleDecoder.Run(s.Masked, decoder, s.Hidden1, s.Hidden2, reconstruction[..a.DecoderOutput], tier);
    }

    /// <summary>
    /// codes[t] = min(⌊x[t]·inverseScale + ½⌋, 127) for conv1's ReLU output x ≥ 0 (a negative x gives 0).
    /// </summary>
    public static void QuantizeU7(ReadOnlySpan<float> x, float inverseScale, Span<byte> codes)
    {
        if (codes.Length < x.Length) throw new ArgumentException($"codes has room for {codes.Length}; x has {x.Length}", nameof(codes));
        int t = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= 4 * Vector<float>.Count)
        {
            int step = 4 * Vector<float>.Count; // four float vectors narrow to one byte vector
            var scale = new Vector<float>(inverseScale);
            var half = new Vector<float>(0.5f);
            var top = new Vector<float>(QuantizedCapsNetWeights.ActivationLimit);
            Vector<int> Code(ReadOnlySpan<float> v) =>
                Vector.ConvertToInt32(Vector.Min(Vector.Max(new Vector<float>(v) * scale + half, Vector<float>.Zero), top));
            for (; t <= x.Length - step; t += step)
            {
                var v = x.Slice(t, step);
                var lo = Vector.Narrow(Code(v), Code(v[Vector<float>.Count..]));
                var hi = Vector.Narrow(Code(v[(2 * Vector<float>.Count)..]), Code(v[(3 * Vector<float>.Count)..]));
                Vector.AsVectorByte(Vector.Narrow(lo, hi)).CopyTo(codes[t..]);
            }
        }
        for (; t < x.Length; t++)
        {
            float v = x[t] * inverseScale + 0.5f;
            codes[t] = v >= 1f ? (byte)Math.Min((int)MathF.Min(v, QuantizedCapsNetWeights.ActivationLimit), QuantizedCapsNetWeights.ActivationLimit) : (byte)0;
        }
    }

    /// <summary>The channels-last im2col of <see cref="Im2Col.RunChannelsLast"/> on u7 codes.</summary>
    public static void Im2ColChannelsLast(ReadOnlySpan<byte> input, int channels, int size, int kernel, int stride, int outSize, Span<byte> patches)
    {
        int run = kernel * channels, rowLength = kernel * run;
        for (int o = 0; o < outSize * outSize; o++)
        {
            int oy = o / outSize, ox = o % outSize;
            Span<byte> row = patches.Slice(o * rowLength, rowLength);
            for (int ky = 0; ky < kernel; ky++)
                input.Slice(((oy * stride + ky) * size + ox * stride) * channels, run).CopyTo(row.Slice(ky * run, run));
        }
    }

    /// <summary>output[r][j] = acc[r][j] · multiplier[j] + bias[j]: the int32 sums back to float conv outputs.</summary>
    public static void Dequantise(ReadOnlySpan<int> acc, int rows, int n, ReadOnlySpan<float> multiplier, ReadOnlySpan<float> bias, Span<float> output)
    {
        for (int r = 0; r < rows; r++)
        {
            var a = acc.Slice(r * n, n);
            var o = output.Slice(r * n, n);
            int j = 0;
            if (Vector.IsHardwareAccelerated)
                for (; j <= n - Vector<int>.Count; j += Vector<int>.Count)
                    (Vector.ConvertToSingle(new Vector<int>(a[j..])) * new Vector<float>(multiplier[j..]) + new Vector<float>(bias[j..])).CopyTo(o[j..]);
            for (; j < n; j++) o[j] = a[j] * multiplier[j] + bias[j];
        }
    }

    public void Dispose()
    {
        _floats?.Dispose();
        _int8?.Dispose();
    }

    /// <summary>Per-thread scratch of <see cref="Predict(Workspace, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, SimdTier, Int8Tier)"/>, in aligned native memory.</summary>
    public sealed class Workspace : IDisposable
    {
        private const int Align = AlignedBuffer.Alignment / sizeof(float);

        private readonly AlignedBuffer _floats;
        private readonly AlignedBuffer _ints;
        private readonly (int Offset, int Length) _conv1Patches, _conv1, _primaryConv, _primary, _uHat, _logits, _coupling,
            _digitCaps, _masked, _hidden1, _hidden2, _codes, _codePatches, _accumulators;

        public Workspace(CapsNetArchitecture architecture)
        {
            ArgumentNullException.ThrowIfNull(architecture);
            var a = architecture;
            Architecture = a;
            int pixels = a.Conv1OutSize * a.Conv1OutSize, positions = a.PrimaryGridSize * a.PrimaryGridSize;
            int offset = 0;
            (int, int) Next(int length)
            {
                var region = (offset, length);
                offset += (length + Align - 1) / Align * Align;
                return region;
            }
            _conv1Patches = Next(pixels * a.InputChannels * a.Conv1Kernel * a.Conv1Kernel);
            _conv1 = Next(pixels * a.Conv1Channels);
            _primaryConv = Next(positions * a.PrimaryChannels);
            _primary = Next(a.PrimaryCapsules * a.PrimaryDims);
            _uHat = Next(a.PrimaryCapsules * a.Classes * a.ClassDims);
            _logits = Next(a.PrimaryCapsules * a.Classes);
            _coupling = Next(a.PrimaryCapsules * a.Classes);
            _digitCaps = Next(a.DecoderInput);
            _masked = Next(a.DecoderInput);
            _hidden1 = Next(a.DecoderHidden1);
            _hidden2 = Next(a.DecoderHidden2);
            _floats = new AlignedBuffer(offset);
            // Bytes and int32 sums in a second buffer, offsets in bytes, rounded up to Align bytes (the float regions above are Align floats = 64 bytes apart).
            offset = 0;
            _codes = Next(pixels * a.Conv1Channels);
            _codePatches = Next(positions * a.Conv1Channels * a.PrimaryKernel * a.PrimaryKernel);
            _accumulators = Next(positions * a.PrimaryChannels * sizeof(int));
            _ints = new AlignedBuffer(offset / sizeof(float) + 1);
        }

        public CapsNetArchitecture Architecture { get; }

        private Span<float> F((int Offset, int Length) r) => _floats.Span.Slice(r.Offset, r.Length);
        private Span<byte> B((int Offset, int Length) r) => MemoryMarshal.AsBytes(_ints.Span).Slice(r.Offset, r.Length);

        internal Span<float> Conv1Patches => F(_conv1Patches);
        internal Span<float> Conv1 => F(_conv1);
        internal Span<float> Primary => F(_primary);
        internal Span<float> UHat => F(_uHat);
        internal Span<float> Logits => F(_logits);
        internal Span<float> Coupling => F(_coupling);
        internal Span<float> DigitCaps => F(_digitCaps);
        internal Span<float> Masked => F(_masked);
        internal Span<float> Hidden1 => F(_hidden1);
        internal Span<float> Hidden2 => F(_hidden2);
        internal Span<byte> Codes => B(_codes);
        internal Span<byte> CodePatches => B(_codePatches);
        internal Span<int> Accumulators => MemoryMarshal.Cast<byte, int>(B(_accumulators));

        /// <summary>The last Predict's primary conv output [position][channel] (dequantised, bias added), before squash.</summary>
        public Span<float> PrimaryConv => F(_primaryConv);

        /// <summary>The last Predict's u7 codes of conv1's output [pixel][channel].</summary>
        public ReadOnlySpan<byte> Conv1Codes => Codes;

        public void Dispose()
        {
            _floats.Dispose();
            _ints.Dispose();
        }
    }
}
