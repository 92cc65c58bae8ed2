using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace CapsEmbedded.Tests.Data;

/// <summary>
/// A deliberately plain PNG writer for tests: the caller gives raw (unfiltered) rows and a filter type per row, and
/// can bend every field (interlace flag, extra chunks, IDAT split, bad CRC) to build malformed files.
/// </summary>
internal sealed class TestPngEncoder
{
    public int Width { get; init; }
    public int Height { get; init; }
    public int BitDepth { get; init; } = 8;
    public int ColorType { get; init; }
    public int Interlace { get; init; }
    public int CompressionMethod { get; init; }
    public int FilterMethod { get; init; }
    public byte[]? Palette { get; init; }
    public byte[]? Transparency { get; init; }

    /// <summary>Filter type (0..4, or anything to test bad ones) used for row y.</summary>
    public Func<int, int> FilterForRow { get; init; } = _ => 0;

    /// <summary>Number of IDAT chunks the compressed data is split into.</summary>
    public int IdatChunks { get; init; } = 1;

    /// <summary>Extra chunks (type, data) written after IHDR.</summary>
    public List<(string Type, byte[] Data)> ExtraChunks { get; init; } = [];

    public int Channels => ColorType switch { 2 => 3, 4 => 2, 6 => 4, _ => 1 };

    public int RowBytes => (Width * Channels * BitDepth + 7) / 8;

    public byte[] Encode(byte[] rawRows) => Assemble(Compress(FilterRows(rawRows)));

    /// <summary>Applies the chosen filter to each row (PNG spec 9.2) and prefixes its type byte.</summary>
    public byte[] FilterRows(byte[] rawRows)
    {
        int rowBytes = RowBytes;
        int stride = Math.Max(1, Channels * BitDepth / 8);
        var filtered = new byte[Height * (rowBytes + 1)];
        var zeros = new byte[rowBytes];
        for (int y = 0; y < Height; y++)
        {
            ReadOnlySpan<byte> row = rawRows.AsSpan(y * rowBytes, rowBytes);
            ReadOnlySpan<byte> above = y > 0 ? rawRows.AsSpan((y - 1) * rowBytes, rowBytes) : zeros;
            int filter = FilterForRow(y);
            Span<byte> output = filtered.AsSpan(y * (rowBytes + 1), rowBytes + 1);
            output[0] = (byte)filter;
            for (int i = 0; i < rowBytes; i++)
            {
                int left = i >= stride ? row[i - stride] : 0;
                int upperLeft = i >= stride ? above[i - stride] : 0;
                int predictor = filter switch
                {
                    1 => left,
                    2 => above[i],
                    3 => (left + above[i]) / 2,
                    4 => Paeth(left, above[i], upperLeft),
                    _ => 0,
                };
                output[1 + i] = (byte)(row[i] - predictor);
            }
        }
        return filtered;
    }

    public static byte[] Compress(byte[] data)
    {
        var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true))
            zlib.Write(data);
        return output.ToArray();
    }

    public byte[] Assemble(byte[] compressed)
    {
        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, Width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), Height);
        header[8] = (byte)BitDepth;
        header[9] = (byte)ColorType;
        header[10] = (byte)CompressionMethod;
        header[11] = (byte)FilterMethod;
        header[12] = (byte)Interlace;
        WriteChunk(png, "IHDR", header);
        foreach ((string type, byte[] data) in ExtraChunks)
            WriteChunk(png, type, data);
        if (Palette is not null)
            WriteChunk(png, "PLTE", Palette);
        if (Transparency is not null)
            WriteChunk(png, "tRNS", Transparency);
        int chunkSize = Math.Max(1, (compressed.Length + IdatChunks - 1) / IdatChunks);
        for (int offset = 0; offset < compressed.Length; offset += chunkSize)
            WriteChunk(png, "IDAT", compressed.AsSpan(offset, Math.Min(chunkSize, compressed.Length - offset)).ToArray());
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    public static void WriteChunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        png.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typeAndData));
        png.Write(word);
    }

    /// <summary>Recomputes every chunk CRC it can find, so fuzzed bytes reach the decoder's deeper checks.</summary>
    public static void FixCrcs(byte[] png)
    {
        int position = 8;
        while (position + 12 <= png.Length)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(position));
            if (length > png.Length - position - 12)
                return;
            uint crc = Crc32(png.AsSpan(position + 4, 4 + (int)length));
            BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(position + 8 + (int)length), crc);
            position += 12 + (int)length;
        }
    }

    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
