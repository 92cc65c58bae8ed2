using System.Buffers.Binary;
using CapsEmbedded.Kernels;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Runtime;

/// <summary>
/// The one form in which CapsEmbedded.Generator.targets embeds a CapsNet weight file stored wholly as F16 (resource
/// <c>CapsNetWeights/&lt;file name&gt;.packed</c>): the generated model reads its weights where they lie in it, and
/// <see cref="Unpack"/> gives the weight file back, byte for byte, to every other reader (the reference model, ONNX export,
/// metadata), so the file is not embedded a second time. Layout, little-endian:
/// <list type="bullet">
/// <item>bytes 0..8: <see cref="Magic"/> ("CNPACK01"; no safetensors file starts with it: as a header length it is far
/// over the 100 MB limit);</item>
/// <item>bytes 8..16: the weight file's length;</item>
/// <item>bytes 16..: the file's 8-byte header length and JSON header, verbatim (tensor offsets, dtypes, metadata);</item>
/// <item>zeros to the next multiple of 64 (<see cref="LayoutOffset"/>);</item>
/// <item>to the end: <see cref="PackedCapsNetLayout"/> in F16 elements (2·TotalLength bytes): GEMM weights in
/// <see cref="PackedGemm"/>'s panels (primary_caps.weight permuted to [ky][kx][c] first), each W_ij transposed as
/// <see cref="CapsuleTransform.PackWeights"/> does, biases as they are. Bits are moved, never converted.</item>
/// </list>
/// The targets pack only a file whose tensors tile its data area exactly, so every byte of the file has one place here.
/// </summary>
public static class PackedWeightFile
{
    /// <summary>The first 8 bytes, "CNPACK01" (CapsNet packed, version 1), read as a little-endian integer.</summary>
    public const ulong Magic = 0x3130_4B43_4150_4E43;

    /// <summary>Bytes before the file's header: the magic and the file length.</summary>
    public const int PreambleLength = 16;

    /// <summary>Whether <paramref name="bytes"/> starts as a packed weight file (else it is read as a safetensors file).</summary>
    public static bool IsPacked(ReadOnlySpan<byte> bytes) => bytes.Length >= 8 && BinaryPrimitives.ReadUInt64LittleEndian(bytes) == Magic;

    /// <summary>Where the packed layout starts for a file whose JSON header has <paramref name="headerLength"/> bytes.</summary>
    public static long LayoutOffset(long headerLength) =>
        (PreambleLength + SafeTensorsFile.LengthFieldSize + headerLength + AlignedBuffer.Alignment - 1) / AlignedBuffer.Alignment * AlignedBuffer.Alignment;

    /// <summary>
    /// Checks the preamble (the first 24 bytes at least) of a packed file of <paramref name="length"/> bytes: the magic, and
    /// a file length and header length that fit. Returns the file length and the JSON header's length; throws
    /// <see cref="WeightFormatException"/> naming <paramref name="source"/> otherwise.
    /// </summary>
    public static (long FileLength, long HeaderLength) ReadPreamble(ReadOnlySpan<byte> preamble, long length, string source)
    {
        var packed = preamble;
        if (packed.Length < PreambleLength + SafeTensorsFile.LengthFieldSize || !IsPacked(packed))
            throw new WeightFormatException(source, null, "not a packed weight file (it does not start with \"CNPACK01\")");
        long fileLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(packed[8..]);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(packed[PreambleLength..]);
        if (headerLength < 2 || headerLength > SafeTensorsHeader.MaxHeaderLength || fileLength < SafeTensorsFile.LengthFieldSize + headerLength
            || fileLength > Array.MaxLength || LayoutOffset(headerLength) > length)
            throw new WeightFormatException(source, null,
                $"the packed file's lengths do not fit: file {fileLength} bytes, header {headerLength}, packed {length}");
        return (fileLength, headerLength);
    }

    /// <summary>
    /// The weight file <paramref name="packed"/> was made from, bit for bit: its header copied, each tensor's F16 bits read
    /// back from their places in the layout. Throws <see cref="WeightFormatException"/> (naming <paramref name="source"/>)
    /// when the header is not a CapsNet's or the layout's length is not its architecture's.
    /// </summary>
    public static byte[] Unpack(ReadOnlySpan<byte> packed, string source)
    {
        var (fileLength, headerLength) = ReadPreamble(packed, packed.Length, source);
        long dataStart = SafeTensorsFile.LengthFieldSize + headerLength;
        var header = SafeTensorsHeader.Parse(packed.Slice(PreambleLength + SafeTensorsFile.LengthFieldSize, (int)headerLength).ToArray(),
            fileLength - dataStart, source);
        var architecture = CapsNetHeaderValidator.Validate(header, source);
        var layout = new PackedCapsNetLayout(architecture);
        var data = packed[(int)LayoutOffset(headerLength)..];
        if (data.Length != 2L * layout.TotalLength)
            throw new WeightFormatException(source, null,
                $"the packed layout has {data.Length} bytes; the architecture in its header needs {2L * layout.TotalLength}");

        var file = new byte[fileLength];
        packed.Slice(PreambleLength, (int)dataStart).CopyTo(file);
        var a = architecture;
        foreach (var spec in a.Tensors)
        {
            var entry = header.Find(spec.Name)!;
            if (entry.DType != SafeTensorsDType.F16)
                throw new WeightFormatException(source, spec.Name, $"dtype {entry.DType}; a packed file holds F16 tensors only");
            var target = file.AsSpan((int)(dataStart + entry.Begin), (int)(2 * spec.ElementCount));
            switch (spec.Name)
            {
                case CapsNetArchitecture.Conv1Weight:
                    UnpackPanels(data, layout.Conv1Weight, a.Conv1Channels, layout.Conv1K, 0, 0, target);
                    break;
                case CapsNetArchitecture.PrimaryWeight:
                    UnpackPanels(data, layout.PrimaryWeight, a.PrimaryChannels, layout.PrimaryK, a.Conv1Channels, a.PrimaryKernel, target);
                    break;
                case CapsNetArchitecture.DigitWeight:
                    UnpackTransposed(data, layout.DigitWeight, a.PrimaryCapsules * a.Classes, a.ClassDims, a.PrimaryDims, target);
                    break;
                case CapsNetArchitecture.Fc1Weight:
                    UnpackPanels(data, layout.Fc1Weight, a.DecoderHidden1, a.DecoderInput, 0, 0, target);
                    break;
                case CapsNetArchitecture.Fc2Weight:
                    UnpackPanels(data, layout.Fc2Weight, a.DecoderHidden2, a.DecoderHidden1, 0, 0, target);
                    break;
                case CapsNetArchitecture.Fc3Weight:
                    UnpackPanels(data, layout.Fc3Weight, a.DecoderOutput, a.DecoderHidden2, 0, 0, target);
                    break;
                default:
                    var region = spec.Name switch
                    {
                        CapsNetArchitecture.Conv1Bias => layout.Conv1Bias,
                        CapsNetArchitecture.PrimaryBias => layout.PrimaryBias,
                        CapsNetArchitecture.Fc1Bias => layout.Fc1Bias,
                        CapsNetArchitecture.Fc2Bias => layout.Fc2Bias,
                        _ => layout.Fc3Bias,
                    };
                    data.Slice(2 * region.Offset, 2 * region.Length).CopyTo(target); // biases are stored as they are
                    break;
            }
        }
        return file;
    }

    /// <summary>
    /// B [n][k] back from <see cref="PackedGemm"/>'s panels (<see cref="PackedGemm.PackedIndex"/>, the layout's one
    /// formula); for the primary conv (<paramref name="channels"/> &gt; 0) the packed column [ky][kx][c] is the file's
    /// [c][ky][kx] column (<see cref="Im2Col.PermuteWeightsToChannelsLast"/>).
    /// </summary>
    private static void UnpackPanels(ReadOnlySpan<byte> data, PackedCapsNetLayout.Region region, int n, int k, int channels, int kernel,
        Span<byte> target)
    {
        var packed = data.Slice(2 * region.Offset, 2 * region.Length);
        int panels = PackedGemm.PanelCount(n), window = kernel * kernel;
        for (int row = 0; row < n; row++)
        {
            for (int kk = 0; kk < k; kk++)
            {
                int column = channels > 0 ? kk % channels * window + kk / channels : kk;
                int from = 2 * PackedGemm.PackedIndex(row, kk, k, panels), to = 2 * (row * k + column);
                target[to] = packed[from];
                target[to + 1] = packed[from + 1];
            }
        }
    }

    /// <summary>Each W_ij ([d][p] in the file) back from its transpose [p][d] (<see cref="CapsuleTransform.PackWeights"/>).</summary>
    private static void UnpackTransposed(ReadOnlySpan<byte> data, PackedCapsNetLayout.Region region, int blocks, int d, int p, Span<byte> target)
    {
        var packed = data.Slice(2 * region.Offset, 2 * region.Length);
        int block = d * p;
        for (int ij = 0; ij < blocks; ij++)
            for (int row = 0; row < d; row++)
                for (int column = 0; column < p; column++)
                {
                    int from = 2 * (ij * block + column * d + row), to = 2 * (ij * block + row * p + column);
                    target[to] = packed[from];
                    target[to + 1] = packed[from + 1];
                }
    }
}
