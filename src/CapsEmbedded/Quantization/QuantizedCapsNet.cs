using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Quantization;

/// <summary>
/// The int8 CapsNet at run time, for any architecture: conv1 in float32 (the <see cref="PackedGemm"/> kernels) → ReLU →
/// quantised to u7 codes, channels last → byte im2col → <see cref="QuantizedGemm"/> (exact int32 sums) → × s_a·s_w[n] + bias
/// → squash (eq. 1) → û (eq. 2) with W quantised at load to int8 per W_ij (<see cref="QuantizedTransform"/>) → routing
/// (Procedure 1), lengths and decoder in float32 as the generated model does.
/// Weights are packed once into aligned native memory and read-only afterwards (one instance serves any number of threads);
/// Predict allocates nothing, its scratch lives in a <see cref="Workspace"/> per thread.
/// </summary>
public sealed class QuantizedCapsNet : IDisposable
{
    private readonly PackedCapsNetLayout _layout; // the float tensors' places in _floats
    private readonly AlignedBuffer _floats;
    private readonly AlignedBuffer _int8; // the packed int8 weight, viewed as bytes
    private readonly int _int8Length;
    private readonly AlignedBuffer _digitWeight; // W of û in int8, viewed as bytes
    private readonly int _digitWeightLength;
    private readonly AlignedBuffer _digitWeightScale; // s_ij, one per W_ij

    private QuantizedCapsNet(QuantizedCapsNetWeights weights)
    {
        var a = weights.Architecture;
        Architecture = a;
        PrimaryInputScale = weights.PrimaryInputScale;
        _layout = new PackedCapsNetLayout(a, int8Primary: true);
        ScratchLayout = ScratchLayout.Int8(a);
        _floats = new AlignedBuffer(_layout.TotalLength);
        _int8Length = QuantizedGemm.PackedLength(a.PrimaryChannels, PrimaryK);
        _int8 = new AlignedBuffer((_int8Length + sizeof(float) - 1) / sizeof(float));
        _digitWeightLength = CapsuleTransform.WeightsLength(a.PrimaryCapsules, a.Classes, a.ClassDims, a.PrimaryDims);
        _digitWeight = new AlignedBuffer((_digitWeightLength + sizeof(float) - 1) / sizeof(float));
        _digitWeightScale = new AlignedBuffer(a.PrimaryCapsules * a.Classes);
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
    /// <summary>
    /// W_ij of û in int8, in <see cref="CapsuleTransform.PackWeights"/>' layout [N][J][P][D], quantised at load from the
    /// file's float W (<see cref="Quantizer.QuantizeDigitWeight"/>): û streams W once per image, and int8 is a quarter of
    /// float32's bytes and half of F16's.
    /// </summary>
    public ReadOnlySpan<sbyte> QuantizedDigitWeight => MemoryMarshal.Cast<float, sbyte>(_digitWeight.Span)[.._digitWeightLength];

    /// <summary>s_ij [N][J]: W_ij ≈ <see cref="QuantizedDigitWeight"/>'s block ij · s_ij.</summary>
    public ReadOnlySpan<float> DigitWeightScale => _digitWeightScale.Span[..(Architecture.PrimaryCapsules * Architecture.Classes)];

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
        PackDigitWeight(w.DigitWeight);
        PackedGemm.Pack(w.Fc1Weight, a.DecoderHidden1, a.DecoderInput, Region(_layout.Fc1Weight));
        w.Fc1Bias.CopyTo(Region(_layout.Fc1Bias));
        PackedGemm.Pack(w.Fc2Weight, a.DecoderHidden2, a.DecoderHidden1, Region(_layout.Fc2Weight));
        w.Fc2Bias.CopyTo(Region(_layout.Fc2Bias));
        PackedGemm.Pack(w.Fc3Weight, a.DecoderOutput, a.DecoderHidden2, Region(_layout.Fc3Weight));
        w.Fc3Bias.CopyTo(Region(_layout.Fc3Bias));
    }

    /// <summary>W transposed per W_ij (<see cref="CapsuleTransform.PackWeights"/>), then quantised to int8 per W_ij.</summary>
    private void PackDigitWeight(ReadOnlySpan<float> w)
    {
        var a = Architecture;
        int n = a.PrimaryCapsules, j = a.Classes, d = a.ClassDims, p = a.PrimaryDims;
        var packed = new float[_digitWeightLength]; // once, at load
        CapsuleTransform.PackWeights(w, n, j, d, p, packed);
        Quantizer.QuantizeDigitWeight(packed, n, j, d, p, MemoryMarshal.Cast<float, sbyte>(_digitWeight.Span)[.._digitWeightLength],
            _digitWeightScale.Span[..(n * j)]);
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

    /// <summary>The scratch regions of one forward pass (<see cref="ScratchLayout.Int8"/>), as in the generated int8 model.</summary>
    public ScratchLayout ScratchLayout { get; }

    /// <summary>The decoder's three layers, for <see cref="CapsuleDecoder"/>.</summary>
    public DecoderWeights Decoder => new(Region(_layout.Fc1Weight), Region(_layout.Fc1Bias), Region(_layout.Fc2Weight),
        Region(_layout.Fc2Bias), Region(_layout.Fc3Weight), Region(_layout.Fc3Bias));

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
        CheckWorkspace(workspace);
        CheckPredict(image, lengths, capsules, reconstruction, tier, int8Tier);
        return Forward(this, image, lengths, workspace.Scratch, tier, int8Tier, capsules, reconstruction);
    }

    /// <summary>
    /// As the workspace overload, with the image's work split over the context's workers (conv1 and its u7 codes by pixel
    /// rows, the int8 primary conv by grid positions, squash and û by capsules; routing on the caller): the exact int32 sums
    /// and the float steps are computed as by one thread, so the results are the same bits for any worker count.
    /// </summary>
    public int Predict(BatchContext context, ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules,
        Span<float> reconstruction, SimdTier tier, Int8Tier int8Tier)
    {
        ModelArguments.CheckContext(context, ScratchLayout.Length);
        CheckPredict(image, lengths, capsules, reconstruction, tier, int8Tier);
        context.RunParts(s_conv1Part, this, image, tier, int8Tier);
        context.RunParts(s_primaryConvPart, this, image, tier, int8Tier);
        context.RunParts(s_capsulesPart, this, image, tier, int8Tier);
        return DigitCapsules.Finish(ScratchLayout, context.ImageScratch, Decoder, lengths, capsules, reconstruction, tier);
    }

    /// <summary>
    /// Classifies <c>images.Length / InputLength</c> images spread over the context's workers (each on its own scratch):
    /// lengths [count·classes], classes [count]; bit-identical to one Predict per image.
    /// </summary>
    public void PredictBatch(ReadOnlySpan<float> images, Span<float> lengths, Span<int> classes, BatchContext context, SimdTier tier,
        Int8Tier int8Tier)
    {
        ModelArguments.CheckContext(context, ScratchLayout.Length);
        ModelArguments.CheckTier(tier);
        Int8Tiers.ThrowIfUnsupported(int8Tier);
        ModelArguments.CheckImages(Architecture, images);
        context.Run(s_predictItem, this, tier, int8Tier, images, Architecture.InputLength, lengths, Architecture.Classes, classes);
    }

    // Cached once, so a call allocates no delegate.
    private static readonly ImagePartRunner<QuantizedCapsNet> s_conv1Part = static (m, s, image, part, parts, tier, _) =>
        m.Conv1(s, image, part, parts, tier);
    private static readonly ImagePartRunner<QuantizedCapsNet> s_primaryConvPart = static (m, s, _, part, parts, _, int8Tier) =>
        m.PrimaryConv(s, part, parts, int8Tier);
    private static readonly ImagePartRunner<QuantizedCapsNet> s_capsulesPart = static (m, s, _, part, parts, tier, _) =>
        m.Capsules(s, part, parts, tier);
    private static readonly BatchItemPredictor<QuantizedCapsNet> s_predictItem = static (m, image, lengths, s, tier, int8Tier) =>
        Forward(m, image, lengths, s, tier, int8Tier, default, default);

    /// <summary>The forward pass for one image on one thread: every part taken whole (part 0 of 1), the same arithmetic.</summary>
    private static int Forward(QuantizedCapsNet m, ReadOnlySpan<float> image, Span<float> lengths, Span<float> scratch, SimdTier tier,
        Int8Tier int8Tier, Span<float> capsules, Span<float> reconstruction)
    {
        m.Conv1(scratch, image, 0, 1, tier);
        m.PrimaryConv(scratch, 0, 1, int8Tier);
        m.Capsules(scratch, 0, 1, tier);
        return DigitCapsules.Finish(m.ScratchLayout, scratch, m.Decoder, lengths, capsules, reconstruction, tier);
    }

    /// <summary>This part's pixel rows of conv1 + ReLU in float32 ([pixels][c1], channels last), and their u7 codes.</summary>
    private void Conv1(Span<float> scratch, ReadOnlySpan<float> image, int part, int parts, SimdTier tier)
    {
        var a = Architecture;
        var s = ScratchLayout;
        int pixels = a.Conv1OutSize * a.Conv1OutSize, k = Conv1K, c1 = a.Conv1Channels;
        var (first, end) = BatchContext.PartRange(pixels, PackedGemm.RowGranule, part, parts);
        int rows = end - first;
        if (rows == 0) return;
        Span<float> patches = s.Patches.In(scratch), conv1 = s.Conv1.In(scratch);
        Im2Col.Run(image, a.InputChannels, a.InputSize, a.InputSize, a.Conv1Kernel, a.Conv1Stride, patches, first, rows);
        PackedGemm.Multiply(patches.Slice(first * k, rows * k), rows, k, PackedConv1Weight, c1, Conv1Bias, Activation.Relu,
            conv1.Slice(first * c1, rows * c1), tier);
        // u7 codes q = min(round(x / s_a), 127), element-wise: this part's pixels only.
        QuantizeU7.Run(conv1.Slice(first * c1, rows * c1), 1f / PrimaryInputScale, s.Codes!.Bytes(scratch, pixels * c1).Slice(first * c1));
    }

    /// <summary>
    /// This part's grid positions of the primary conv: the byte im2col in [ky][kx][c] order, exact int32 sums on the int8
    /// kernels, then primary[p][n] = acc · s_a·s_w[n] + bias[n].
    /// </summary>
    private void PrimaryConv(Span<float> scratch, int part, int parts, Int8Tier int8Tier)
    {
        var a = Architecture;
        var s = ScratchLayout;
        int positions = a.PrimaryGridSize * a.PrimaryGridSize, c1 = a.Conv1Channels, n = a.PrimaryChannels, k = PrimaryK;
        var (first, end) = BatchContext.PartRange(positions, 1, part, parts);
        if (end == first) return;
        Span<byte> patches = s.CodePatches!.Bytes(scratch, positions * k);
        Span<int> sums = s.Accumulators!.Ints(scratch);
        Im2Col.RunChannelsLast<byte>(s.Codes!.Bytes(scratch, a.Conv1OutSize * a.Conv1OutSize * c1), c1, a.Conv1OutSize, a.Conv1OutSize,
            a.PrimaryKernel, a.PrimaryStride, patches, first, end - first);
        QuantizedGemm.Multiply(patches, positions, k, PrimaryWeight, n, sums, first, end, int8Tier);
        Dequantise.Run(sums.Slice(first * n, (end - first) * n), end - first, n, PrimaryMultiplier, PrimaryBias,
            s.PrimaryConv.In(scratch).Slice(first * n, (end - first) * n));
    }

    /// <summary>This part's capsules: regrouped from the primary conv's channels and squashed (eq. 1), then their û (eq. 2).</summary>
    private void Capsules(Span<float> scratch, int part, int parts, SimdTier tier)
    {
        var a = Architecture;
        var s = ScratchLayout;
        int positions = a.PrimaryGridSize * a.PrimaryGridSize, dims = a.PrimaryDims, outputs = a.Classes * a.ClassDims;
        var (first, end) = BatchContext.PartRange(a.PrimaryCapsules, 8, part, parts);
        int count = end - first;
        Span<float> primary = s.Primary.In(scratch).Slice(first * dims, count * dims);
        PrimaryCapsuleLayout.RegroupAndSquash(s.PrimaryConv.In(scratch), positions, dims, first, end, primary, tier);
        Transform(primary, first, count, s.UHat.In(scratch).Slice(first * outputs, count * outputs), tier);
    }

    /// <summary>
    /// û_{j|i} = s_ij · W_ij u_i (eq. 2, W in int8: <see cref="QuantizedDigitWeight"/>) of primary capsules
    /// first..first+count−1 (<paramref name="primary"/>: theirs only) into <paramref name="uHat"/>.
    /// </summary>
    public void Transform(ReadOnlySpan<float> primary, int first, int count, Span<float> uHat, SimdTier tier)
    {
        var a = Architecture;
        int dims = a.PrimaryDims, outputs = a.Classes * a.ClassDims;
        QuantizedTransform.Run(primary, QuantizedDigitWeight.Slice(first * outputs * dims, count * outputs * dims),
            DigitWeightScale.Slice(first * a.Classes, count * a.Classes), count, a.Classes, a.ClassDims, dims, uHat, tier);
    }

    /// <summary>
    /// The decoder alone (float32, as in <see cref="Predict(Workspace, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, SimdTier, Int8Tier)"/>):
    /// the image from <paramref name="capsules"/> [classes·classDims] with every capsule but <paramref name="keep"/> zeroed.
    /// </summary>
    public void Reconstruct(Workspace workspace, ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction, SimdTier tier)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        CheckWorkspace(workspace);
        DigitCapsules.Reconstruct(ScratchLayout, workspace.Scratch, Decoder, capsules, keep, reconstruction, tier);
    }

    private void CheckWorkspace(Workspace workspace)
    {
        if (workspace.Architecture != Architecture)
            throw new ArgumentException($"the workspace was made for {workspace.Architecture}, this model is {Architecture}", nameof(workspace));
    }

    private void CheckPredict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules, Span<float> reconstruction,
        SimdTier tier, Int8Tier int8Tier)
    {
        ModelArguments.CheckImage(Architecture, image, lengths, capsules, reconstruction);
        ModelArguments.CheckTier(tier);
        Int8Tiers.ThrowIfUnsupported(int8Tier);
    }

    public void Dispose()
    {
        _floats?.Dispose();
        _int8?.Dispose();
        _digitWeight?.Dispose();
        _digitWeightScale?.Dispose();
    }

    /// <summary>
    /// Per-thread scratch of <see cref="Predict(Workspace, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, SimdTier, Int8Tier)"/>:
    /// one aligned buffer laid out by <see cref="ScratchLayout.Int8"/>, as the generated int8 model's.
    /// </summary>
    public sealed class Workspace(CapsNetArchitecture architecture) : ModelWorkspace(ScratchLayout.Int8(architecture).Length)
    {
        private readonly ScratchLayout _layout = ScratchLayout.Int8(architecture);

        public CapsNetArchitecture Architecture => _layout.Architecture;

        /// <summary>The last Predict's primary conv output [position][channel] (dequantised, bias added), before squash.</summary>
        public Span<float> PrimaryConv => _layout.PrimaryConv.In(Scratch);

        /// <summary>The last Predict's u7 codes of conv1's output [pixel][channel].</summary>
        public ReadOnlySpan<byte> Conv1Codes
            => _layout.Codes!.Bytes(Scratch, Architecture.Conv1OutSize * Architecture.Conv1OutSize * Architecture.Conv1Channels);
    }
}
