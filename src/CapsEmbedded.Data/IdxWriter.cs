using System.Buffers.Binary;

namespace CapsEmbedded.Data;

/// <summary>
/// Writes the IDX files <see cref="IdxReader"/> reads: a big-endian magic 00 00 TT NN, NN big-endian int32 sizes, then
/// the data. Only what capsnet writes itself: unsigned bytes (TT = 0x08) and big-endian int32 (TT = 0x0C).
/// </summary>
public static class IdxWriter
{
    /// <summary>The header of an unsigned-byte file with these dimensions (1 to 3 of them; the magic names their number).</summary>
    public static void WriteByteHeader(Stream stream, params ReadOnlySpan<int> dimensions) => WriteHeader(stream, 0x08, dimensions);

    /// <summary>The header of an int32 file with these dimensions.</summary>
    public static void WriteInt32Header(Stream stream, params ReadOnlySpan<int> dimensions) => WriteHeader(stream, 0x0C, dimensions);

    /// <summary>Values as big-endian int32, the IDX byte order.</summary>
    public static void WriteInt32(Stream stream, ReadOnlySpan<int> values)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> bytes = stackalloc byte[4];
        foreach (int value in values)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes, value);
            stream.Write(bytes);
        }
    }

    private static void WriteHeader(Stream stream, byte type, ReadOnlySpan<int> dimensions)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (dimensions.Length is < 1 or > 3)
            throw new ArgumentException($"an IDX header here has 1 to 3 dimensions, got {dimensions.Length}", nameof(dimensions));
        Span<byte> header = stackalloc byte[4 + 4 * dimensions.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, (type << 8) | dimensions.Length);
        for (int d = 0; d < dimensions.Length; d++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(dimensions[d]);
            BinaryPrimitives.WriteInt32BigEndian(header[(4 + 4 * d)..], dimensions[d]);
        }
        stream.Write(header);
    }
}
