using System.Reflection;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Runtime;

/// <summary>Reads a weight file embedded as a manifest resource (by CapsEmbedded.Generator.targets) and packs it.</summary>
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
        using var stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException(
                $"the weight file resource '{resourceName}' is missing from assembly {assembly.GetName().Name}");
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
    /// The weights of the embedded resource <paramref name="packedResourceName"/>, packed at build time in F16
    /// (CapsEmbedded.Generator.targets), used where they lie in the mapped image: no copy, no widening of the primary conv's
    /// panels or W (<see cref="PackedCapsNetWeights.InPlace"/>); the pages of the few regions widened at load are let go
    /// afterwards (<see cref="MappedPages"/>). The resource may lie at any byte offset (NativeAOT does not align resources).
    /// A resource that is not in mapped memory (an assembly loaded from a stream) falls back to <see cref="Pack(Assembly, string, long, long, CapsNetArchitecture, ReadOnlySpan{long}, ReadOnlySpan{string})"/>
    /// on the weight file itself (<paramref name="resourceName"/> and the rest), packed as float32 at load.
    /// </summary>
    public static unsafe PackedCapsNetWeights InPlace(Assembly assembly, string packedResourceName, string resourceName,
        long expectedFileLength, long dataOffset, CapsNetArchitecture architecture, ReadOnlySpan<long> tensorBegins,
        ReadOnlySpan<string> tensorDTypes)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        using (var stream = assembly.GetManifestResourceStream(packedResourceName)
            ?? throw new InvalidOperationException(
                $"the packed weight resource '{packedResourceName}' is missing from assembly {assembly.GetName().Name}"))
        {
            if (stream is UnmanagedMemoryStream unmanaged)
            {
                byte* packed = unmanaged.PositionPointer;
                Action<long, long>? consumed = MappedPages.CanRelease(packed)
                    ? (begin, bytes) => MappedPages.Release(packed + begin, bytes)
                    : null;
                return PackedCapsNetWeights.InPlace(architecture, packed, stream.Length, packedResourceName, consumed);
            }
        }
        return Pack(assembly, resourceName, expectedFileLength, dataOffset, architecture, tensorBegins, tensorDTypes);
    }
}
