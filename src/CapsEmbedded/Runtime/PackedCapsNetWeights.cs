using System.Runtime.InteropServices;
using System.Text;
using CapsEmbedded.Kernels;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Runtime;

/// <summary>
/// A CapsNet's weights packed once for the kernels (<see cref="PackedCapsNetLayout"/>) in one 64-byte-aligned native
/// allocation, or (<see cref="InPlace"/>) packed at build time in F16 and read where they lie: then the primary conv's
/// panels and W are F16 (<see cref="HalfPrimaryWeight"/>, <see cref="HalfDigitWeight"/>) and only the small rest is
/// widened into the float buffer. Read-only after packing, so one instance serves any number of threads.
/// </summary>
public sealed unsafe class PackedCapsNetWeights : IDisposable
{
    private readonly AlignedBuffer _buffer;
    private readonly ushort* _half; // the F16 packed layout, read in place; null when every tensor is float32
    private readonly bool _primaryWidened; // with _half: the primary conv's panels are in the float buffer, only W is read in place

    private PackedCapsNetWeights(PackedCapsNetLayout layout)
    {
        Layout = layout;
        _buffer = new AlignedBuffer(layout.TotalLength);
    }

    private PackedCapsNetWeights(PackedCapsNetLayout layout, ushort* half, bool primaryWidened) : this(layout)
    {
        _half = half;
        _primaryWidened = primaryWidened;
    }

    public PackedCapsNetLayout Layout { get; }

    public CapsNetArchitecture Architecture => Layout.Architecture;

    public ReadOnlySpan<float> Conv1Weight => Slice(Layout.Conv1Weight);
    public ReadOnlySpan<float> Conv1Bias => Slice(Layout.Conv1Bias);
    /// <summary>The primary conv's float32 panels; empty when they are F16 (<see cref="HalfPrimaryWeight"/>).</summary>
    public ReadOnlySpan<float> PrimaryWeight => _half is null || _primaryWidened ? Slice(Layout.PrimaryWeight) : default;
    public ReadOnlySpan<float> PrimaryBias => Slice(Layout.PrimaryBias);
    /// <summary>W after CapsuleTransform.PackWeights as float32; empty when it is F16 (<see cref="HalfDigitWeight"/>).</summary>
    public ReadOnlySpan<float> DigitWeight => _half is null ? Slice(Layout.DigitWeight) : default;

    /// <summary>The primary conv's panels in F16, read in place (<see cref="InPlace"/>); empty when they are float32.</summary>
    public ReadOnlySpan<Half> HalfPrimaryWeight => _primaryWidened ? default : HalfSlice(Layout.PrimaryWeight);

    /// <summary>W (CapsuleTransform's layout) in F16, read in place (<see cref="InPlace"/>); empty otherwise.</summary>
    public ReadOnlySpan<Half> HalfDigitWeight => HalfSlice(Layout.DigitWeight);

    private ReadOnlySpan<Half> HalfSlice(PackedCapsNetLayout.Region region)
    {
        ObjectDisposedException.ThrowIf(_buffer.IsDisposed, this);
        return _half is null ? default : new ReadOnlySpan<Half>(_half + region.Offset, region.Length);
    }

    /// <summary>The decoder's three layers, for <see cref="CapsuleDecoder"/>.</summary>
    public DecoderWeights Decoder => new(Slice(Layout.Fc1Weight), Slice(Layout.Fc1Bias), Slice(Layout.Fc2Weight), Slice(Layout.Fc2Bias),
        Slice(Layout.Fc3Weight), Slice(Layout.Fc3Bias));

    private ReadOnlySpan<float> Slice(PackedCapsNetLayout.Region region) => _buffer.Span.Slice(region.Offset, region.Length);

    public void Dispose() => _buffer.Dispose();

    /// <summary>
    /// Weights packed at build time (CapsEmbedded.Generator.targets): <paramref name="packed"/> holds
    /// <see cref="PackedCapsNetLayout"/>'s layout in F16 elements (2·TotalLength bytes, every value finite) in memory that
    /// outlives this instance (a resource in the read-only data of the binary; NativeAOT places resources at any byte offset,
    /// and x64 and ARM64 read unaligned F16 alike, the kernels with unaligned vector loads). The primary conv's panels and W are read
    /// there in place; the other regions (conv1, biases, decoder: 17% of the values of the paper network) are widened into
    /// the float buffer, and <paramref name="consumed"/> (when given) is told each such byte range once it has been read.
    /// </summary>
    /// <remarks>
    /// With <see cref="WeightResidency.Widened"/> every region is widened into the float buffer instead (the primary conv's
    /// panels and W too: the same layout, so the same floats as packing the file) and nothing is read in place afterwards;
    /// with <see cref="WeightResidency.WidenedPrimary"/> the primary conv's panels are widened with the small regions and
    /// only W is read in place.
    /// </remarks>
    internal static PackedCapsNetWeights InPlace(CapsNetArchitecture architecture, byte* packed, long length, string source,
        Action<long, long>? consumed, WeightResidency residency = WeightResidency.InPlace)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("F16 weights are little-endian; this machine is big-endian");
        var layout = new PackedCapsNetLayout(architecture);
        if (length != 2L * layout.TotalLength)
            throw new WeightFormatException(source, null,
                $"the packed weights have {length} bytes; this architecture's layout needs {2L * layout.TotalLength}");
        if (residency == WeightResidency.Widened)
        {
            var widened = new PackedCapsNetWeights(layout);
            try
            {
                var bytes = new ReadOnlySpan<byte>(packed, checked((int)length));
                WeightPrecision.WidenHalf(bytes, widened._buffer.Span, SimdTiers.Best);
                consumed?.Invoke(0, bytes.Length);
            }
            catch
            {
                widened.Dispose();
                throw;
            }
            return widened;
        }
        bool primaryWidened = residency == WeightResidency.WidenedPrimary;
        var weights = new PackedCapsNetWeights(layout, (ushort*)packed, primaryWidened);
        try
        {
            Span<float> all = weights._buffer.Span;
            ReadOnlySpan<PackedCapsNetLayout.Region> widened =
            [
                layout.Conv1Weight, layout.Conv1Bias, layout.PrimaryBias, layout.Fc1Weight, layout.Fc1Bias, layout.Fc2Weight,
                layout.Fc2Bias, layout.Fc3Weight, layout.Fc3Bias, layout.PrimaryWeight, // the last with WidenedPrimary only
            ];
            foreach (var region in primaryWidened ? widened : widened[..^1])
            {
                var bytes = new ReadOnlySpan<byte>(packed + 2L * region.Offset, 2 * region.Length);
                WeightPrecision.WidenHalf(bytes, all.Slice(region.Offset, region.Length), SimdTiers.Best);
                consumed?.Invoke(2L * region.Offset, bytes.Length);
            }
        }
        catch
        {
            weights.Dispose();
            throw;
        }
        return weights;
    }

    /// <summary>Packs weights held in managed arrays.</summary>
    public static PackedCapsNetWeights Pack(CapsNetWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var packed = new PackedCapsNetWeights(new PackedCapsNetLayout(weights.Architecture));
        try
        {
            using var scratch = new PackingScratch(packed.Layout);
            foreach (var spec in weights.Architecture.Tensors)
                packed.PackTensor(spec.Name, MemoryMarshal.AsBytes(weights[spec.Name].AsSpan()), SafeTensorsDType.F32, scratch);
        }
        catch
        {
            packed.Dispose();
            throw;
        }
        return packed;
    }

    /// <summary>
    /// Packs the tensors of a safetensors data area (raw little-endian F32, possibly unaligned): tensor k of
    /// <see cref="CapsNetArchitecture.Tensors"/> starts at byte <paramref name="tensorBegins"/>[k].
    /// </summary>
    public static PackedCapsNetWeights Pack(CapsNetArchitecture architecture, ReadOnlySpan<byte> dataArea,
        ReadOnlySpan<long> tensorBegins, string source) => Pack(architecture, dataArea, tensorBegins, default, source);

    /// <summary>
    /// Packs the tensors of a safetensors data area whose tensor k is stored as <paramref name="tensorDTypes"/>[k] (F32,
    /// F16 or BF16; empty = all F32): F16 and BF16 are widened to float32 here, so the kernels see float32 only.
    /// </summary>
    public static PackedCapsNetWeights Pack(CapsNetArchitecture architecture, ReadOnlySpan<byte> dataArea,
        ReadOnlySpan<long> tensorBegins, ReadOnlySpan<string> tensorDTypes, string source)
        => Pack(architecture, dataArea, tensorBegins, tensorDTypes, source, consumed: null);

    /// <summary>
    /// As above; <paramref name="consumed"/> (when given) is told each tensor's byte range in <paramref name="dataArea"/>
    /// once it is packed, so a caller reading a mapped file can let its pages go (<see cref="EmbeddedWeights"/>).
    /// </summary>
    internal static PackedCapsNetWeights Pack(CapsNetArchitecture architecture, ReadOnlySpan<byte> dataArea,
        ReadOnlySpan<long> tensorBegins, ReadOnlySpan<string> tensorDTypes, string source, Action<long, long>? consumed)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; this machine is big-endian");
        var tensors = architecture.Tensors;
        if (tensorBegins.Length != tensors.Count)
            throw new ArgumentException($"{tensorBegins.Length} tensor offsets given for {tensors.Count} tensors", nameof(tensorBegins));
        if (!tensorDTypes.IsEmpty && tensorDTypes.Length != tensors.Count)
            throw new ArgumentException($"{tensorDTypes.Length} tensor dtypes given for {tensors.Count} tensors", nameof(tensorDTypes));
        var packed = new PackedCapsNetWeights(new PackedCapsNetLayout(architecture));
        try
        {
            using var scratch = new PackingScratch(packed.Layout);
            for (int k = 0; k < tensors.Count; k++)
            {
                string dtype = tensorDTypes.IsEmpty ? SafeTensorsDType.F32 : tensorDTypes[k];
                int elementBytes = WeightPrecision.BytesPerElement(dtype);
                if (elementBytes == 0)
                    throw new WeightFormatException(source, tensors[k].Name, $"dtype {dtype} is not supported; CapsNet tensors must be F32, F16 or BF16");
                long begin = tensorBegins[k], bytes = tensors[k].ElementCount * elementBytes;
                if (begin < 0 || begin + bytes > dataArea.Length)
                    throw new WeightFormatException(source, tensors[k].Name,
                        $"bytes {begin}..{begin + bytes} lie outside the data area of {dataArea.Length} bytes");
                packed.PackTensor(tensors[k].Name, dataArea.Slice((int)begin, (int)bytes), dtype, scratch);
                consumed?.Invoke(begin, bytes);
            }
        }
        catch
        {
            packed.Dispose();
            throw;
        }
        return packed;
    }

    /// <summary>Throws <see cref="WeightFormatException"/> naming every size in which <paramref name="actual"/> differs.</summary>
    public static void ThrowIfArchitectureDiffers(CapsNetArchitecture actual, CapsNetArchitecture expected, string source)
    {
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(expected);
        if (actual == expected) return;
        var differences = new StringBuilder();
        using var a = actual.Fields().GetEnumerator();
        using var e = expected.Fields().GetEnumerator();
        while (a.MoveNext() && e.MoveNext())
        {
            if (a.Current.Value == e.Current.Value) continue;
            if (differences.Length > 0) differences.Append(", ");
            differences.Append($"{a.Current.Name} is {a.Current.Value}, the model's is {e.Current.Value}");
        }
        throw new WeightFormatException(source, null,
            $"the weights are of another architecture than this generated model: {differences}");
    }

    /// <summary>
    /// Widens and packs one tensor (<paramref name="raw"/>: its bytes as <paramref name="dtype"/>) into its region, a GEMM
    /// panel or a few W_ij at a time through <paramref name="scratch"/>: the whole tensor is never widened at once, so packing
    /// touches the packed buffer and a few cache-sized blocks, nothing the size of a tensor.
    /// </summary>
    private void PackTensor(string name, ReadOnlySpan<byte> raw, string dtype, PackingScratch scratch)
    {
        var a = Architecture;
        var l = Layout;
        Span<float> all = _buffer.Span;
        switch (name)
        {
            case CapsNetArchitecture.Conv1Weight:
                PackGemmPanels(raw, dtype, a.Conv1Channels, l.Conv1K, all.Slice(l.Conv1Weight.Offset, l.Conv1Weight.Length), scratch);
                break;
            case CapsNetArchitecture.PrimaryWeight:
                // The generated model feeds conv1's pixel-major output straight to the channels-last im2col (no transpose),
                // so the patch columns are [ky][kx][c]: each panel's rows are permuted to match before packing (once, at load).
                PackGemmPanels(raw, dtype, a.PrimaryChannels, l.PrimaryK, all.Slice(l.PrimaryWeight.Offset, l.PrimaryWeight.Length), scratch,
                    permuteChannels: a.Conv1Channels, permuteKernel: a.PrimaryKernel);
                break;
            case CapsNetArchitecture.DigitWeight:
            {
                // Each W_ij is transposed on its own: pack a run of primary capsules i at a time.
                int perCapsule = a.Classes * a.ClassDims * a.PrimaryDims;
                int size = WeightPrecision.BytesPerElement(dtype);
                int step = Math.Max(1, scratch.Rows.Length / perCapsule);
                var target = all.Slice(l.DigitWeight.Offset, l.DigitWeight.Length);
                for (int i = 0; i < a.PrimaryCapsules; i += step)
                {
                    int count = Math.Min(step, a.PrimaryCapsules - i);
                    var values = scratch.Rows.Slice(0, count * perCapsule);
                    WeightPrecision.Widen(raw.Slice(i * perCapsule * size, values.Length * size), dtype, values);
                    CapsuleTransform.PackWeights(values, count, a.Classes, a.ClassDims, a.PrimaryDims, target.Slice(i * perCapsule, values.Length));
                }
                break;
            }
            case CapsNetArchitecture.Fc1Weight:
                PackGemmPanels(raw, dtype, a.DecoderHidden1, a.DecoderInput, all.Slice(l.Fc1Weight.Offset, l.Fc1Weight.Length), scratch);
                break;
            case CapsNetArchitecture.Fc2Weight:
                PackGemmPanels(raw, dtype, a.DecoderHidden2, a.DecoderHidden1, all.Slice(l.Fc2Weight.Offset, l.Fc2Weight.Length), scratch);
                break;
            case CapsNetArchitecture.Fc3Weight:
                PackGemmPanels(raw, dtype, a.DecoderOutput, a.DecoderHidden2, all.Slice(l.Fc3Weight.Offset, l.Fc3Weight.Length), scratch);
                break;
            default:
                var region = name switch
                {
                    CapsNetArchitecture.Conv1Bias => l.Conv1Bias,
                    CapsNetArchitecture.PrimaryBias => l.PrimaryBias,
                    CapsNetArchitecture.Fc1Bias => l.Fc1Bias,
                    CapsNetArchitecture.Fc2Bias => l.Fc2Bias,
                    CapsNetArchitecture.Fc3Bias => l.Fc3Bias,
                    _ => throw new ArgumentException($"'{name}' is not a CapsNet tensor", nameof(name)),
                };
                WeightPrecision.Widen(raw, dtype, all.Slice(region.Offset, region.Length)); // biases are stored as they are
                break;
        }
    }

    /// <summary>
    /// B [n][k] (<paramref name="raw"/>, as <paramref name="dtype"/>) into <see cref="PackedGemm"/>'s layout one panel of
    /// 16 rows at a time: widened into scratch, for the primary conv permuted to [ky][kx][c] (<paramref name="permuteChannels"/>
    /// &gt; 0), then packed. The same floats land in the same places as packing the widened tensor whole.
    /// </summary>
    private static void PackGemmPanels(ReadOnlySpan<byte> raw, string dtype, int n, int k, Span<float> packed, PackingScratch scratch,
        int permuteChannels = 0, int permuteKernel = 0)
    {
        int size = WeightPrecision.BytesPerElement(dtype);
        for (int panel = 0; panel * PackedGemm.PanelWidth < n; panel++)
        {
            int first = panel * PackedGemm.PanelWidth, rows = Math.Min(PackedGemm.PanelWidth, n - first);
            var values = scratch.Rows.Slice(0, rows * k);
            WeightPrecision.Widen(raw.Slice(first * k * size, values.Length * size), dtype, values);
            if (permuteChannels > 0)
            {
                var permuted = scratch.Permuted.Slice(0, values.Length);
                Im2Col.PermuteWeightsToChannelsLast(values, rows, permuteChannels, permuteKernel, permuted);
                values = permuted;
            }
            PackedGemm.PackPanel(values, panel, n, k, packed);
        }
    }

    /// <summary>
    /// Packing's scratch, in native memory freed as soon as packing ends: one GEMM panel's rows (16 · the largest k) and
    /// their permutation for the primary conv.
    /// </summary>
    private sealed class PackingScratch : IDisposable
    {
        private readonly AlignedBuffer _buffer;
        private readonly int _rows;

        public PackingScratch(PackedCapsNetLayout layout)
        {
            var a = layout.Architecture;
            int widestK = Math.Max(Math.Max(layout.Conv1K, layout.PrimaryK), Math.Max(a.DecoderInput, Math.Max(a.DecoderHidden1, a.DecoderHidden2)));
            _rows = Math.Max(PackedGemm.PanelWidth * widestK, a.Classes * a.ClassDims * a.PrimaryDims);
            _buffer = new AlignedBuffer(2 * _rows);
        }

        public Span<float> Rows => _buffer.Span.Slice(0, _rows);

        public Span<float> Permuted => _buffer.Span.Slice(_rows, _rows);

        public void Dispose() => _buffer.Dispose();
    }
}
