using System.Reflection;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Runtime;

/// <summary>
/// Reads a weight file embedded as a manifest resource by CapsEmbedded.Generator.targets: as it is (<see cref="Pack(Assembly, string, long, long, CapsNetArchitecture, ReadOnlySpan{long}, ReadOnlySpan{string})"/>),
/// or, for a file wholly F16, in its one packed form (<see cref="InPlace"/>, <see cref="PackedWeightFile"/>); <see cref="ReadFile"/>
/// gives back the file's bytes from either.
/// </summary>
public static class EmbeddedWeights
{
    /// <summary>
    /// Packs the embedded file <paramref name="resourceName"/> of <paramref name="assembly"/>, checking it is the file
    /// the model was generated from (same length). The resource of an assembly loaded from disk is an
    /// <see cref="UnmanagedMemoryStream"/> over the mapped image, read in place, and each tensor's pages of the image are let
    /// go once it is packed (<see cref="MappedPages"/>), so resident memory holds the packed floats and not the file too; any
    /// other stream is copied once.
    /// </summary>
    public static PackedCapsNetWeights Pack(Assembly assembly, string resourceName, long expectedFileLength,
        long dataOffset, CapsNetArchitecture architecture, ReadOnlySpan<long> tensorBegins)
        => Pack(assembly, resourceName, expectedFileLength, dataOffset, architecture, tensorBegins, default);

    /// <summary>As above, for a file whose tensor k is stored as <paramref name="tensorDTypes"/>[k] (F16/BF16 widened when packed).</summary>
    public static unsafe PackedCapsNetWeights Pack(Assembly assembly, string resourceName, long expectedFileLength,
        long dataOffset, CapsNetArchitecture architecture, ReadOnlySpan<long> tensorBegins, ReadOnlySpan<string> tensorDTypes)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        using var stream = Open(assembly, resourceName);
        if (stream.Length != expectedFileLength)
            throw new WeightFormatException(resourceName, null,
                $"the embedded file has {stream.Length} bytes; the model was generated from one of {expectedFileLength}");
        if (expectedFileLength > int.MaxValue)
            throw new WeightFormatException(resourceName, null, $"{expectedFileLength} bytes is more than the supported 2 GB");
        if (stream is UnmanagedMemoryStream unmanaged)
        {
            byte* file = unmanaged.PositionPointer;
            nint data = (nint)(file + dataOffset);
            Action<long, long>? consumed = MappedPages.CanRelease(file)
                ? (begin, bytes) => MappedPages.Release((byte*)data + begin, bytes)
                : null;
            var dataArea = new ReadOnlySpan<byte>(file, (int)expectedFileLength).Slice((int)dataOffset);
            return PackedCapsNetWeights.Pack(architecture, dataArea, tensorBegins, tensorDTypes, resourceName, consumed);
        }
        var copy = new byte[expectedFileLength];
        stream.ReadExactly(copy);
        return PackedCapsNetWeights.Pack(architecture, copy.AsSpan((int)dataOffset), tensorBegins, tensorDTypes, resourceName);
    }

    /// <summary>
    /// The weights of the embedded packed weight file <paramref name="resourceName"/> (<see cref="PackedWeightFile"/>, made
    /// by CapsEmbedded.Generator.targets), used where they lie in the mapped image: no copy, no widening of the primary
    /// conv's panels or W (<see cref="PackedCapsNetWeights.InPlace"/>); the pages of the few regions widened at load are let
    /// go afterwards (<see cref="MappedPages"/>). The resource may lie at any byte offset (NativeAOT does not align
    /// resources). Its preamble must name the file the model was generated from (<paramref name="expectedFileLength"/>, a
    /// JSON header ending at <paramref name="dataOffset"/>). A resource that is not in mapped memory (an assembly loaded from
    /// a stream) is copied, unpacked and packed as float32 at load, as an embedded float file is.
    /// </summary>
    /// <remarks>
    /// With <paramref name="residency"/> <see cref="WeightResidency.Widened"/> the same packed weights are widened whole to
    /// float32 at load instead (their pages of the image let go afterwards): the floats <see cref="Pack(Assembly, string, long, long, CapsNetArchitecture, ReadOnlySpan{long}, ReadOnlySpan{string})"/>
    /// of the unpacked file would give, without unpacking it; with <see cref="WeightResidency.WidenedPrimary"/> only the
    /// primary conv's panels are (W stays in place).
    /// </remarks>
    public static unsafe PackedCapsNetWeights InPlace(Assembly assembly, string resourceName, long expectedFileLength, long dataOffset,
        CapsNetArchitecture architecture, ReadOnlySpan<long> tensorBegins, ReadOnlySpan<string> tensorDTypes,
        WeightResidency residency = WeightResidency.InPlace)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        using var stream = Open(assembly, resourceName);
        if (stream is UnmanagedMemoryStream unmanaged)
        {
            byte* packed = unmanaged.PositionPointer;
            var preamble = new ReadOnlySpan<byte>(packed, (int)Math.Min(stream.Length, PackedWeightFile.PreambleLength + SafeTensorsFile.LengthFieldSize));
            long layoutOffset = CheckPreamble(preamble, stream.Length, resourceName, expectedFileLength, dataOffset);
            byte* layout = packed + layoutOffset;
            Action<long, long>? consumed = MappedPages.CanRelease(layout)
                ? (begin, bytes) => MappedPages.Release(layout + begin, bytes)
                : null;
            return PackedCapsNetWeights.InPlace(architecture, layout, stream.Length - layoutOffset, resourceName, consumed, residency);
        }
        var copy = new byte[stream.Length];
        stream.ReadExactly(copy);
        CheckPreamble(copy, copy.Length, resourceName, expectedFileLength, dataOffset);
        byte[] file = PackedWeightFile.Unpack(copy, resourceName);
        return PackedCapsNetWeights.Pack(architecture, file.AsSpan((int)dataOffset), tensorBegins, tensorDTypes, resourceName);
    }

    /// <summary>
    /// The bytes of the weight file embedded as <paramref name="resourceName"/>, whether it is embedded as it is or packed
    /// (<see cref="PackedWeightFile"/>, unpacked bit for bit): what the reference model, export and metadata readers read.
    /// </summary>
    public static byte[] ReadFile(Assembly assembly, string resourceName)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        using var stream = Open(assembly, resourceName);
        if (stream.Length > Array.MaxLength)
            throw new WeightFormatException(resourceName, null, $"{stream.Length} bytes is more than an array holds");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return PackedWeightFile.IsPacked(bytes) ? PackedWeightFile.Unpack(bytes, resourceName) : bytes;
    }

    private static Stream Open(Assembly assembly, string resourceName) => assembly.GetManifestResourceStream(resourceName)
        ?? throw new InvalidOperationException($"the weight file resource '{resourceName}' is missing from assembly {assembly.GetName().Name}");

    // The preamble names the file the model was generated from; returns where the layout starts.
    private static long CheckPreamble(ReadOnlySpan<byte> preamble, long length, string resourceName, long expectedFileLength, long dataOffset)
    {
        var (fileLength, headerLength) = PackedWeightFile.ReadPreamble(preamble, length, resourceName);
        if (fileLength != expectedFileLength || SafeTensorsFile.LengthFieldSize + headerLength != dataOffset)
            throw new WeightFormatException(resourceName, null,
                $"the packed file was made from a file of {fileLength} bytes with data at {SafeTensorsFile.LengthFieldSize + headerLength}; "
                + $"the model was generated from one of {expectedFileLength} bytes with data at {dataOffset}");
        return PackedWeightFile.LayoutOffset(headerLength);
    }
}
