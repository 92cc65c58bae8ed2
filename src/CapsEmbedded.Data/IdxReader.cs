using System.Buffers.Binary;
using System.IO.Compression;
using CapsEmbedded.IO;

namespace CapsEmbedded.Data;

/// <summary>
/// Reads IDX files, the container of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian magic
/// 00 00 TT NN (TT = data type, NN = number of dimensions), NN big-endian int32 sizes, then the raw data.
/// Unsigned-byte data (TT = 0x08: images, labels, MultiMNIST's pair labels) and, for MultiMNIST's pair recipes, int32
/// (TT = 0x0C) are accepted. Gzip-compressed files are detected by their magic 1f 8b, whatever
/// the file is called. Every defect of the content becomes an <see cref="IdxFormatException"/> naming file and problem.
/// </summary>
public static class IdxReader
{
    /// <summary>Magic of an unsigned-byte file with 3 dimensions (count, rows, cols).</summary>
    public const int ImageMagic = 0x00000803;

    /// <summary>Magic of an unsigned-byte file with 1 dimension (count).</summary>
    public const int LabelMagic = 0x00000801;

    /// <summary>Magic of an unsigned-byte file with 2 dimensions (count, 2): MultiMNIST's two labels per image.</summary>
    public const int PairLabelMagic = 0x00000802;

    /// <summary>Magic of an int32 file with 2 dimensions (count, columns): a table of whole numbers, big-endian.</summary>
    public const int Int32TableMagic = 0x00000C02;

    /// <summary>Largest accepted image side; MNIST is 28, anything near this limit is a corrupt header.</summary>
    public const int MaxImageSide = 4096;

    private const byte UnsignedByteType = 0x08;
    private const byte Int32Type = 0x0C;

    /// <summary>What a reader expects: the data type, the names of the dimensions, and how errors describe the file.</summary>
    private sealed record Layout(byte Type, string[] Dimensions, string Kind);

    private static readonly Layout Images = new(UnsignedByteType, ["count", "rows", "cols"], "an image file (magic 0x00000803: count, rows, cols)");
    private static readonly Layout Labels = new(UnsignedByteType, ["count"], "a label file (magic 0x00000801: count)");
    private static readonly Layout PairLabels = new(UnsignedByteType, ["count", "labels per image"], "a pair-label file (magic 0x00000802: count, 2)");
    private static readonly Layout Int32Table = new(Int32Type, ["count", "columns"], "an int32 table (magic 0x00000C02: count, columns)");

    /// <summary>Trailing bytes beyond this many are not counted, only reported as "more than".</summary>
    private const long TrailingCountLimit = 1L << 30;

    public static byte[] ReadPairLabels(string path)
    {
        using var file = OpenRead(path);
        return ReadPairLabels(file, path);
    }

    public static int[] ReadInt32Table(string path, int columns)
    {
        using var file = OpenRead(path);
        return ReadInt32Table(file, path, columns);
    }

    public static IdxImages ReadImages(string path)
    {
        using var file = OpenRead(path);
        return ReadImages(file, path);
    }

    public static byte[] ReadLabels(string path)
    {
        using var file = OpenRead(path);
        return ReadLabels(file, path);
    }

    /// <summary>Reads an image file from a seekable stream (plain or gzip); <paramref name="fileName"/> names it in errors.</summary>
    public static IdxImages ReadImages(Stream stream, string fileName)
    {
        return WithContent(stream, fileName, content =>
        {
            ReadHeader(content, fileName, Images, out int[] dims);
            int count = dims[0], rows = dims[1], cols = dims[2];
            if (rows > MaxImageSide || cols > MaxImageSide)
                throw new IdxFormatException(fileName, $"images of {rows}x{cols} exceed the limit of {MaxImageSide}x{MaxImageSide} (corrupt header?)");
            long payload = (long)count * rows * cols;
            if (payload > Array.MaxLength)
                throw new IdxFormatException(fileName, $"{count} images of {rows}x{cols} are {payload} bytes, more than one array can hold (corrupt header?)");
            string what = $"{count} images of {rows}x{cols}";
            byte[] pixels = ReadPayload(content, fileName, headerLength: 16, (int)payload, what);
            return new IdxImages(count, rows, cols, pixels);
        });
    }

    /// <summary>Reads a label file from a seekable stream (plain or gzip); <paramref name="fileName"/> names it in errors.</summary>
    public static byte[] ReadLabels(Stream stream, string fileName)
    {
        return WithContent(stream, fileName, content =>
        {
            ReadHeader(content, fileName, Labels, out int[] dims);
            int count = dims[0];
            if (count > Array.MaxLength)
                throw new IdxFormatException(fileName, $"{count} labels are more than one array can hold (corrupt header?)");
            return ReadPayload(content, fileName, headerLength: 8, count, $"{count} labels");
        });
    }

    /// <summary>
    /// Reads a pair-label file (MultiMNIST: [count, 2], the first digit's class then the second's) from a seekable
    /// stream (plain or gzip); returns the 2·count labels in file order. The second dimension must be 2.
    /// </summary>
    public static byte[] ReadPairLabels(Stream stream, string fileName)
    {
        return WithContent(stream, fileName, content =>
        {
            ReadHeader(content, fileName, PairLabels, out int[] dims);
            int count = dims[0];
            if (dims[1] != 2)
                throw new IdxFormatException(fileName, $"dimension 1 (labels per image) is {dims[1]}; a pair-label file has 2 (the first digit's class, the second's)");
            if (2L * count > Array.MaxLength)
                throw new IdxFormatException(fileName, $"{count} label pairs are more than one array can hold (corrupt header?)");
            return ReadPayload(content, fileName, headerLength: 12, 2 * count, $"{count} label pairs");
        });
    }

    /// <summary>
    /// Reads an int32 table ([count, <paramref name="columns"/>], big-endian, as MultiMNIST's pair recipes) from a
    /// seekable stream (plain or gzip); returns count·columns values, row-major. The second dimension must be
    /// <paramref name="columns"/>.
    /// </summary>
    public static int[] ReadInt32Table(Stream stream, string fileName, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        return WithContent(stream, fileName, content =>
        {
            ReadHeader(content, fileName, Int32Table, out int[] dims);
            int count = dims[0];
            if (dims[1] != columns)
                throw new IdxFormatException(fileName, $"dimension 1 (columns) is {dims[1]}; expected {columns}");
            long payload = 4L * count * columns;
            if (payload > Array.MaxLength)
                throw new IdxFormatException(fileName, $"{count} rows of {columns} int32 are {payload} bytes, more than one array can hold (corrupt header?)");
            byte[] bytes = ReadPayload(content, fileName, headerLength: 12, (int)payload, $"{count} rows of {columns} int32");
            var values = new int[count * columns];
            for (int k = 0; k < values.Length; k++)
                values[k] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 * k));
            return values;
        });
    }

    private static FileStream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return InputFile.OpenRead(path, Array.MaxLength, "IDX file"); // a FIFO or /dev/zero is refused before reading

    }

    /// <summary>Runs <paramref name="read"/> on the decompressed content; gzip damage becomes an IdxFormatException.</summary>
    private static T WithContent<T>(Stream stream, string fileName, Func<Stream, T> read)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
            throw new ArgumentException("the stream must be seekable (the gzip magic is peeked)", nameof(stream));
        if (!IsGzip(stream))
            return read(stream);

        // The compressed bytes are taken into memory first, so that any IOException from decompression is about the
        // data (zlib reports some damage as an IOException subtype) and never confused with a failing disk.
        long compressedLength = stream.Length - stream.Position;
        if (compressedLength > Array.MaxLength)
            throw new IdxFormatException(fileName, $"gzip file of {compressedLength} bytes is larger than any IDX file this reader accepts");
        byte[] compressedBytes = new byte[compressedLength];
        stream.ReadExactly(compressedBytes);
        var compressed = new MemoryStream(compressedBytes, writable: false);

        T result;
        CountingStream content;
        try
        {
            using var gzip = new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: true);
            content = new CountingStream(gzip);
            result = read(content);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new IdxFormatException(fileName, $"corrupt gzip data: {e.Message}", e);
        }
        CheckGzipTrailer(compressed, content, fileName);
        return result;
    }

    /// <summary>
    /// GZipStream verifies the 8-byte trailer (CRC-32, size mod 2^32; RFC 1952) when it is there, but silently accepts a
    /// stream whose trailer is cut off. The last 4 bytes must therefore be the size of what was decompressed; a cut
    /// trailer puts other bytes there. Only single-member gzip files pass, which is what MNIST distributions use.
    /// </summary>
    private static void CheckGzipTrailer(Stream stream, CountingStream content, string fileName)
    {
        const int MinimumGzipLength = 18; // 10-byte header + 8-byte trailer
        if (stream.Length < MinimumGzipLength)
            throw new IdxFormatException(fileName, $"gzip file of {stream.Length} bytes is too short to be complete");
        stream.Seek(-4, SeekOrigin.End);
        Span<byte> trailer = stackalloc byte[4];
        stream.ReadExactly(trailer);
        uint storedSize = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        if (storedSize != (uint)content.BytesRead)
            throw new IdxFormatException(fileName,
                $"gzip trailer gives the size as {storedSize} bytes but {content.BytesRead} were decompressed: file truncated or corrupt");
    }

    private static bool IsGzip(Stream stream)
    {
        long start = stream.Position;
        Span<byte> magic = stackalloc byte[2];
        int read = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        stream.Position = start;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    private static void ReadHeader(Stream content, string fileName, Layout layout, out int[] dims)
    {
        int expectedDims = layout.Dimensions.Length;
        string kind = layout.Kind;

        Span<byte> header = stackalloc byte[16];
        int headerLength = 4 + 4 * expectedDims;
        int read = content.ReadAtLeast(header[..headerLength], headerLength, throwOnEndOfStream: false);
        if (read < 4)
            throw new IdxFormatException(fileName, $"file has only {read} bytes, too short for an IDX header");

        uint magic = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (header[0] != 0 || header[1] != 0)
            throw new IdxFormatException(fileName, $"bad magic 0x{magic:X8}: an IDX file starts with two zero bytes; expected {kind}");
        if (header[2] != layout.Type)
            throw new IdxFormatException(fileName, $"data type 0x{header[2]:X2} ({TypeName(header[2])}) is not supported; expected 0x{layout.Type:X2} ({TypeName(layout.Type)})");
        if (header[3] != expectedDims)
        {
            string actually = header[3] switch
            {
                1 => "a label file",
                3 => "an image file",
                _ => $"a file with {header[3]} dimensions",
            };
            throw new IdxFormatException(fileName, $"magic 0x{magic:X8} is {actually}; expected {kind}");
        }
        if (read < headerLength)
            throw new IdxFormatException(fileName, $"file has only {read} bytes, too short for the {headerLength}-byte header of {kind}");

        dims = new int[expectedDims];
        for (int d = 0; d < expectedDims; d++)
        {
            uint size = BinaryPrimitives.ReadUInt32BigEndian(header[(4 + 4 * d)..]);
            if (size > int.MaxValue)
                throw new IdxFormatException(fileName, $"dimension {d} ({layout.Dimensions[d]}) is {size}, too large (corrupt header?)");
            // A zero count is a legal (empty) data set; zero rows, columns or labels per image is not.
            if (size == 0 && d > 0)
                throw new IdxFormatException(fileName, $"dimension {d} ({layout.Dimensions[d]}) is 0");
            dims[d] = (int)size;
        }
    }

    private static byte[] ReadPayload(Stream content, string fileName, int headerLength, int payloadLength, string what)
    {
        long expectedTotal = headerLength + (long)payloadLength;

        // Plain seekable file: the length is known, so a wrong size is reported before reading anything, and the
        // payload array can be sized exactly.
        if (content.CanSeek)
        {
            long remaining = content.Length - content.Position;
            if (remaining != payloadLength)
                throw SizeMismatch(fileName, expectedTotal, what, (headerLength + remaining).ToString(System.Globalization.CultureInfo.InvariantCulture));
            byte[] exact = new byte[payloadLength];
            if (content.ReadAtLeast(exact, payloadLength, throwOnEndOfStream: false) == payloadLength)
                return exact;
            throw new IdxFormatException(fileName, "file ended while being read (changed on disk?)");
        }

        int got = BoundedReader.ReadUpTo(content, payloadLength, out byte[] payload);
        if (got < payloadLength)
            throw SizeMismatch(fileName, expectedTotal, what, (headerLength + (long)got).ToString(System.Globalization.CultureInfo.InvariantCulture));

        long trailing = BoundedReader.CountRemaining(content, TrailingCountLimit);
        if (trailing > 0)
        {
            string found = trailing >= TrailingCountLimit ? $"more than {expectedTotal + trailing}" : (expectedTotal + trailing).ToString(System.Globalization.CultureInfo.InvariantCulture);
            throw SizeMismatch(fileName, expectedTotal, what, found);
        }
        return payload;
    }

    private static IdxFormatException SizeMismatch(string fileName, long expected, string what, string found) =>
        new(fileName, $"expected {expected} bytes for {what}, found {found}");

    private static string TypeName(byte type) => type switch
    {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "unknown",
    };

    /// <summary>Counts the decompressed bytes as they are read, for the gzip trailer check.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int read = inner.Read(buffer);
            BytesRead += read;
            return read;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
