using System.Reflection;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Runtime;

/// <summary>Reads a weight file embedded as a manifest resource (by CapsEmbedded.Generator.targets) and packs it.</summary>
public static class EmbeddedWeights
{
    /// <summary>
    /// Packs the embedded file <paramref name="resourceName"/> of <paramref name="assembly"/>, checking it is the file
    /// the model was generated from (same length). The resource of an assembly loaded from disk is an
    /// <see cref="UnmanagedMemoryStream"/> over the mapped image, read in place; any other stream is copied once.
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
            var file = new ReadOnlySpan<byte>(unmanaged.PositionPointer, (int)expectedFileLength);
            return PackedCapsNetWeights.Pack(architecture, file.Slice((int)dataOffset), tensorBegins, tensorDTypes, resourceName);
        }
        var copy = new byte[expectedFileLength];
        stream.ReadExactly(copy);
        return PackedCapsNetWeights.Pack(architecture, copy.AsSpan((int)dataOffset), tensorBegins, tensorDTypes, resourceName);
    }
}
