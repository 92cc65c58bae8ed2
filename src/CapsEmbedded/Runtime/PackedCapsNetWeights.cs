using System.Runtime.InteropServices;
using System.Text;
using CapsEmbedded.Kernels;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Runtime;

/// <summary>
/// A CapsNet's weights packed once for the kernels (<see cref="PackedCapsNetLayout"/>) in one 64-byte-aligned native
/// allocation. Read-only after packing, so one instance serves any number of threads.
/// </summary>
public sealed class PackedCapsNetWeights : IDisposable
{
    private readonly AlignedBuffer _buffer;

    private PackedCapsNetWeights(PackedCapsNetLayout layout)
    {
        Layout = layout;
        _buffer = new AlignedBuffer(layout.TotalLength);
    }

    public PackedCapsNetLayout Layout { get; }

    public CapsNetArchitecture Architecture => Layout.Architecture;

    public ReadOnlySpan<float> Conv1Weight => Slice(Layout.Conv1Weight);
    public ReadOnlySpan<float> Conv1Bias => Slice(Layout.Conv1Bias);
    public ReadOnlySpan<float> PrimaryWeight => Slice(Layout.PrimaryWeight);
    public ReadOnlySpan<float> PrimaryBias => Slice(Layout.PrimaryBias);
    public ReadOnlySpan<float> DigitWeight => Slice(Layout.DigitWeight);
    public ReadOnlySpan<float> Fc1Weight => Slice(Layout.Fc1Weight);
    public ReadOnlySpan<float> Fc1Bias => Slice(Layout.Fc1Bias);
    public ReadOnlySpan<float> Fc2Weight => Slice(Layout.Fc2Weight);
    public ReadOnlySpan<float> Fc2Bias => Slice(Layout.Fc2Bias);
    public ReadOnlySpan<float> Fc3Weight => Slice(Layout.Fc3Weight);
    public ReadOnlySpan<float> Fc3Bias => Slice(Layout.Fc3Bias);

    private ReadOnlySpan<float> Slice(PackedCapsNetLayout.Region region) => _buffer.Span.Slice(region.Offset, region.Length);

    public void Dispose() => _buffer.Dispose();

    /// <summary>Packs weights held in managed arrays.</summary>
    public static PackedCapsNetWeights Pack(CapsNetWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var packed = new PackedCapsNetWeights(new PackedCapsNetLayout(weights.Architecture));
        packed.PackAll(name => weights[name]);
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
            float[]? widened = null;
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
                var raw = dataArea.Slice((int)begin, (int)bytes);
                if (dtype == SafeTensorsDType.F32 && BitConverter.IsLittleEndian)
                {
                    // x64 and ARM64 read unaligned floats; the packers copy them into aligned memory.
                    packed.PackOne(tensors[k].Name, MemoryMarshal.Cast<byte, float>(raw));
                    continue;
                }
                // One scratch array as long as the largest tensor, reused: widened once here, never in the kernels.
                int count = (int)tensors[k].ElementCount;
                if (widened is null || widened.Length < count) widened = new float[count];
                var values = widened.AsSpan(0, count);
                WeightPrecision.Widen(raw, dtype, values);
                packed.PackOne(tensors[k].Name, values);
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

    private void PackAll(Func<string, float[]> tensor)
    {
        foreach (var spec in Architecture.Tensors) PackOne(spec.Name, tensor(spec.Name));
    }

    private void PackOne(string name, ReadOnlySpan<float> source)
    {
        var a = Architecture;
        var l = Layout;
        Span<float> all = _buffer.Span;
        switch (name)
        {
            case CapsNetArchitecture.Conv1Weight:
                PackedGemm.Pack(source, a.Conv1Channels, l.Conv1K, all.Slice(l.Conv1Weight.Offset, l.Conv1Weight.Length));
                break;
            case CapsNetArchitecture.PrimaryWeight:
            {
                // The generated model feeds conv1's pixel-major output straight to the channels-last im2col (no transpose),
                // so the patch columns are [ky][kx][c]: permute the weight to match before packing (once, at load).
                float[] permuted = new float[l.PrimaryK * a.PrimaryChannels];
                Im2Col.PermuteWeightsToChannelsLast(source, a.PrimaryChannels, a.Conv1Channels, a.PrimaryKernel, permuted);
                PackedGemm.Pack(permuted, a.PrimaryChannels, l.PrimaryK, all.Slice(l.PrimaryWeight.Offset, l.PrimaryWeight.Length));
                break;
            }
            case CapsNetArchitecture.DigitWeight:
                CapsuleTransform.PackWeights(source, a.PrimaryCapsules, a.Classes, a.ClassDims, a.PrimaryDims,
                    all.Slice(l.DigitWeight.Offset, l.DigitWeight.Length));
                break;
            case CapsNetArchitecture.Fc1Weight:
                PackedGemm.Pack(source, a.DecoderHidden1, a.DecoderInput, all.Slice(l.Fc1Weight.Offset, l.Fc1Weight.Length));
                break;
            case CapsNetArchitecture.Fc2Weight:
                PackedGemm.Pack(source, a.DecoderHidden2, a.DecoderHidden1, all.Slice(l.Fc2Weight.Offset, l.Fc2Weight.Length));
                break;
            case CapsNetArchitecture.Fc3Weight:
                PackedGemm.Pack(source, a.DecoderOutput, a.DecoderHidden2, all.Slice(l.Fc3Weight.Offset, l.Fc3Weight.Length));
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
                source.Slice(0, region.Length).CopyTo(all.Slice(region.Offset, region.Length));
                break;
        }
    }
}
