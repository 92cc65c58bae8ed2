using System.Buffers.Binary;

namespace CapsEmbedded.Weights;

/// <summary>
/// The layout of a whole safetensors file: <c>[u64 LE header length N][N bytes of JSON header][data area]</c>.
/// Reading one validates the length field and the header (see <see cref="SafeTensorsHeader.Parse"/>) against the
/// file's real length, so every entry's bytes are known to lie inside the file. Works on any safetensors file;
/// <see cref="CapsNetWeightsFile"/> adds the CapsNet checks.
/// </summary>
public sealed class SafeTensorsFile
{
    /// <summary>Bytes of the little-endian header length that starts the file.</summary>
    public const int LengthFieldSize = 8;

    private SafeTensorsFile(string fileName, long headerLength, SafeTensorsHeader header)
    {
        FileName = fileName;
        HeaderLength = headerLength;
        Header = header;
    }

    public string FileName { get; }

    /// <summary>N, the header's length in bytes (padding included).</summary>
    public long HeaderLength { get; }

    /// <summary>Offset in the file of the data area (8 + N).</summary>
    public long DataStart => LengthFieldSize + HeaderLength;

    /// <summary>Total length of the file.</summary>
    public long FileLength => DataStart + Header.DataLength;

    public SafeTensorsHeader Header { get; }

    /// <summary>Validates the length field and header of a file held in memory.</summary>
    /// <exception cref="WeightFormatException">The bytes are not a valid safetensors file.</exception>
    public static SafeTensorsFile Parse(ReadOnlySpan<byte> file, string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        long n = CheckHeaderLength(file, file.Length, fileName);
        byte[] headerBytes = file.Slice(LengthFieldSize, (int)n).ToArray();
        var header = SafeTensorsHeader.Parse(headerBytes, file.Length - LengthFieldSize - n, fileName);
        return new SafeTensorsFile(fileName, n, header);
    }

    /// <summary>
    /// Reads and validates only the length field and header from a seekable stream positioned at the start of
    /// the file (the data area is not read), e.g. to list a file's tensors.
    /// </summary>
    /// <exception cref="WeightFormatException">The header is invalid or does not fit the stream's length.</exception>
    public static SafeTensorsFile ReadHeader(Stream stream, string fileName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(fileName);
        if (!stream.CanSeek) throw new ArgumentException("the stream must be seekable (its length is checked)", nameof(stream));
        long fileLength = stream.Length - stream.Position;
        Span<byte> lengthField = stackalloc byte[LengthFieldSize];
        int got = stream.ReadAtLeast(lengthField, LengthFieldSize, throwOnEndOfStream: false);
        long n = CheckHeaderLength(lengthField[..got], fileLength, fileName);
        var headerBytes = new byte[n];
        got = stream.ReadAtLeast(headerBytes, headerBytes.Length, throwOnEndOfStream: false);
        if (got != headerBytes.Length)
            throw new WeightFormatException(fileName, null, $"file ended after {LengthFieldSize + got} bytes, inside the {n}-byte header");
        var header = SafeTensorsHeader.Parse(headerBytes, fileLength - LengthFieldSize - n, fileName);
        return new SafeTensorsFile(fileName, n, header);
    }

    /// <summary>Reads and validates only the header of the file at <paramref name="path"/>.</summary>
    /// <exception cref="WeightFormatException">The header is invalid.</exception>
    /// <exception cref="IOException">The file cannot be read (e.g. <see cref="FileNotFoundException"/>).</exception>
    public static SafeTensorsFile ReadHeader(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 12);
        return ReadHeader(stream, path);
    }

    /// <summary>The bytes of <paramref name="entry"/> within <paramref name="file"/>, the buffer this was parsed from.</summary>
    public ReadOnlySpan<byte> GetBytes(ReadOnlySpan<byte> file, SafeTensorsEntry entry)
    {
        if (file.Length != FileLength)
            throw new ArgumentException($"the buffer is {file.Length} bytes but {FileName} is {FileLength}", nameof(file));
        return file.Slice((int)(DataStart + entry.Begin), (int)entry.ByteLength);
    }

    // Returns N after checking it against the reference limits and the file's length; `start` holds the
    // first bytes of the file (fewer than 8 only when the file is that short).
    private static long CheckHeaderLength(ReadOnlySpan<byte> start, long fileLength, string fileName)
    {
        if (fileLength < LengthFieldSize || start.Length < LengthFieldSize)
            throw new WeightFormatException(fileName, null,
                $"file is {Math.Min(fileLength, start.Length)} bytes, too short for the {LengthFieldSize}-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(start);
        if (n > SafeTensorsHeader.MaxHeaderLength)
            throw new WeightFormatException(fileName, null,
                $"header length {n} exceeds the limit of {SafeTensorsHeader.MaxHeaderLength} bytes; this is not a safetensors file");
        if (n == 0) throw new WeightFormatException(fileName, null, "header length is 0; a header is at least \"{}\"");
        if ((long)n > fileLength - LengthFieldSize)
            throw new WeightFormatException(fileName, null,
                $"header length {n} is past the end of the file (only {fileLength - LengthFieldSize} bytes follow the length field)");
        return (long)n;
    }
}
