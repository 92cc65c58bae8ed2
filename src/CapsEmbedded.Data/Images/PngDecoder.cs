using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace CapsEmbedded.Data;

/// <summary>
/// A strict, small PNG decoder (PNG spec, 2nd ed.): non-interlaced images of every standard color type and bit depth
/// (gray 1/2/4/8/16, RGB 8/16, palette 1/2/4/8, gray+alpha 8/16, RGBA 8/16), tRNS, CRC checked, all five row filters.
/// Output is gray in [0, 1]; see <see cref="ImageDecoder"/> for the color and alpha rules.
/// </summary>
internal static class PngDecoder
{
    private const int SignatureLength = 8;

    private enum ColorType : byte
    {
        Gray = 0,
        Rgb = 2,
        Palette = 3,
        GrayAlpha = 4,
        Rgba = 6,
    }

    private readonly record struct Header(int Width, int Height, int BitDepth, ColorType ColorType)
    {
        public int Channels => ColorType switch
        {
            ColorType.Rgb => 3,
            ColorType.GrayAlpha => 2,
            ColorType.Rgba => 4,
            _ => 1,
        };
    }

    /// <summary>Width and height from IHDR, the first chunk, before anything is decompressed; null if IHDR is not where it must be.</summary>
    public static (long Width, long Height)? ReadSize(ReadOnlySpan<byte> file)
    {
        if (file.Length < SignatureLength + 8 + 13 || BinaryPrimitives.ReadUInt32BigEndian(file[SignatureLength..]) != 13
            || !file.Slice(SignatureLength + 4, 4).SequenceEqual("IHDR"u8))
            return null;
        uint width = BinaryPrimitives.ReadUInt32BigEndian(file[(SignatureLength + 8)..]);
        uint height = BinaryPrimitives.ReadUInt32BigEndian(file[(SignatureLength + 12)..]);
        return (width, height); // as stored: 4294967295 is reported as such, not as int.MaxValue
    }

    public static GrayImage Decode(ReadOnlySpan<byte> file, string fileName)
    {
        Header? header = null;
        byte[]? palette = null;      // RGB triples
        byte[]? transparency = null; // tRNS payload as stored
        var imageData = new MemoryStream();
        bool imageDataClosed = false;
        bool sawEnd = false;

        int position = SignatureLength;
        while (position < file.Length)
        {
            if (file.Length - position < 12)
                throw Fail(fileName, $"truncated chunk header at offset {position}");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(file[position..]);
            ReadOnlySpan<byte> typeBytes = file.Slice(position + 4, 4);
            string type = ChunkTypeName(typeBytes);
            if (!IsValidChunkType(typeBytes))
                throw Fail(fileName, $"invalid chunk type '{type}' at offset {position}");
            if (length > int.MaxValue || length > file.Length - position - 12)
                throw Fail(fileName, $"chunk '{type}' at offset {position} declares {length} bytes but only {Math.Max(0, file.Length - position - 12)} remain (file truncated?)");
            ReadOnlySpan<byte> data = file.Slice(position + 8, (int)length);
            uint storedCrc = BinaryPrimitives.ReadUInt32BigEndian(file[(position + 8 + (int)length)..]);
            uint actualCrc = Crc32.Compute(file.Slice(position + 4, 4 + (int)length));
            if (storedCrc != actualCrc)
                throw Fail(fileName, $"CRC mismatch in chunk '{type}' at offset {position}: stored 0x{storedCrc:X8}, computed 0x{actualCrc:X8}");
            int chunkOffset = position;
            position += 12 + (int)length;

            if (header is null && type != "IHDR")
                throw Fail(fileName, $"first chunk is '{type}', expected IHDR");
            if (imageData.Length > 0 && type != "IDAT")
                imageDataClosed = true;

            switch (type)
            {
                case "IHDR":
                    if (header is not null)
                        throw Fail(fileName, $"second IHDR chunk at offset {chunkOffset}");
                    header = ParseHeader(data, fileName);
                    break;
                case "PLTE":
                    palette = ParsePalette(data, header!.Value, fileName);
                    break;
                case "tRNS":
                    transparency = ParseTransparency(data, header!.Value, palette, fileName);
                    break;
                case "IDAT":
                    if (imageDataClosed)
                        throw Fail(fileName, $"IDAT chunk at offset {chunkOffset} does not follow the previous IDAT chunk");
                    imageData.Write(data);
                    break;
                case "IEND":
                    sawEnd = true;
                    break;
                default:
                    // Bit 5 of the first letter clear = critical: a decoder must not ignore it.
                    if ((typeBytes[0] & 0x20) == 0)
                        throw Fail(fileName, $"unknown critical chunk '{type}' at offset {chunkOffset}");
                    break;
            }
            if (sawEnd)
                break;
        }

        if (header is null)
            throw Fail(fileName, "no IHDR chunk (file truncated after the signature?)");
        if (!sawEnd)
            throw Fail(fileName, "missing IEND chunk (file truncated?)");
        if (imageData.Length == 0)
            throw Fail(fileName, "no IDAT chunk (no image data)");
        if (header.Value.ColorType == ColorType.Palette && palette is null)
            throw Fail(fileName, "palette image without a PLTE chunk");

        imageData.Position = 0;
        return DecodeImageData(imageData, header.Value, palette, transparency, fileName);
    }

    private static Header ParseHeader(ReadOnlySpan<byte> data, string fileName)
    {
        if (data.Length != 13)
            throw Fail(fileName, $"IHDR chunk has {data.Length} bytes, expected 13");
        uint width = BinaryPrimitives.ReadUInt32BigEndian(data);
        uint height = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
        byte bitDepth = data[8], colorType = data[9], compression = data[10], filter = data[11], interlace = data[12];
        if (width == 0 || height == 0)
            throw Fail(fileName, $"image of {width}x{height} has no pixels");
        if (width > ImageDecoder.MaxSide || height > ImageDecoder.MaxSide)
            throw Fail(fileName, $"image of {width}x{height} exceeds the limit of {ImageDecoder.MaxSide}x{ImageDecoder.MaxSide}");
        bool validDepth = colorType switch
        {
            0 => bitDepth is 1 or 2 or 4 or 8 or 16,
            3 => bitDepth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => bitDepth is 8 or 16,
            _ => throw Fail(fileName, $"unknown color type {colorType}"),
        };
        if (!validDepth)
            throw Fail(fileName, $"bit depth {bitDepth} is not allowed for color type {colorType}");
        if (compression != 0)
            throw Fail(fileName, $"unknown compression method {compression}");
        if (filter != 0)
            throw Fail(fileName, $"unknown filter method {filter}");
        if (interlace == 1)
            throw Fail(fileName, "interlaced PNG is not supported");
        if (interlace != 0)
            throw Fail(fileName, $"unknown interlace method {interlace}");
        return new Header((int)width, (int)height, bitDepth, (ColorType)colorType);
    }

    private static byte[] ParsePalette(ReadOnlySpan<byte> data, Header header, string fileName)
    {
        if (header.ColorType is ColorType.Gray or ColorType.GrayAlpha)
            throw Fail(fileName, "PLTE chunk in a grayscale PNG");
        if (data.Length == 0 || data.Length % 3 != 0 || data.Length / 3 > 256)
            throw Fail(fileName, $"PLTE chunk has {data.Length} bytes, expected 3 per entry and 1 to 256 entries");
        if (header.ColorType == ColorType.Palette && data.Length / 3 > 1 << header.BitDepth)
            throw Fail(fileName, $"PLTE has {data.Length / 3} entries, more than bit depth {header.BitDepth} can index");
        return data.ToArray();
    }

    private static byte[]? ParseTransparency(ReadOnlySpan<byte> data, Header header, byte[]? palette, string fileName)
    {
        switch (header.ColorType)
        {
            case ColorType.Gray when data.Length != 2:
                throw Fail(fileName, $"tRNS chunk has {data.Length} bytes, expected 2 for a gray image");
            case ColorType.Rgb when data.Length != 6:
                throw Fail(fileName, $"tRNS chunk has {data.Length} bytes, expected 6 for an RGB image");
            case ColorType.Palette when palette is null:
                throw Fail(fileName, "tRNS chunk before PLTE");
            case ColorType.Palette when data.Length > palette.Length / 3:
                throw Fail(fileName, $"tRNS chunk has {data.Length} entries, more than the {palette.Length / 3} palette entries");
            case ColorType.GrayAlpha or ColorType.Rgba:
                return null; // Not allowed with an alpha channel; ignored as libpng does.
            default:
                return data.ToArray();
        }
    }

    private static GrayImage DecodeImageData(Stream compressed, Header header, byte[]? palette, byte[]? transparency, string fileName)
    {
        int bitsPerPixel = header.Channels * header.BitDepth;
        int rowBytes = (int)(((long)header.Width * bitsPerPixel + 7) / 8);
        int filterStride = Math.Max(1, bitsPerPixel / 8); // the "bpp" of the filter definitions
        byte[] previous = new byte[rowBytes];
        byte[] current = new byte[rowBytes + 1]; // filter type byte, then the row
        var pixels = new GrowingPixels(header.Width, header.Height);

        try
        {
            using var zlib = new ZLibStream(compressed, CompressionMode.Decompress);
            for (int y = 0; y < header.Height; y++)
            {
                int read = zlib.ReadAtLeast(current, current.Length, throwOnEndOfStream: false);
                if (read < current.Length)
                    throw Fail(fileName, $"image data ends in row {y} of {header.Height} (file truncated?)");
                Span<byte> row = current.AsSpan(1);
                Unfilter(current[0], row, previous, filterStride, y, fileName);
                ConvertRow(row, header, palette, transparency, pixels.Row(y), fileName, y);
                row.CopyTo(previous);
            }
            // Reading on to the end makes zlib verify its Adler-32 checksum.
            Span<byte> probe = stackalloc byte[1];
            if (zlib.Read(probe) != 0)
                throw Fail(fileName, $"more image data than {header.Width}x{header.Height} needs");
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // The source is memory, so an IOException here is zlib reporting damaged data (its ZLibException).
            throw Fail(fileName, $"corrupt zlib data in IDAT: {e.Message}", e);
        }
        return new GrayImage(header.Width, header.Height, pixels.ToArray());
    }

    /// <summary>Reverses the row filter (PNG spec section 9.2): each byte was stored as the difference to a predictor.</summary>
    private static void Unfilter(byte filter, Span<byte> row, ReadOnlySpan<byte> previous, int stride, int y, string fileName)
    {
        switch (filter)
        {
            case 0: // None
                break;
            case 1: // Sub: predictor = left
                for (int i = stride; i < row.Length; i++)
                    row[i] += row[i - stride];
                break;
            case 2: // Up: predictor = above
                for (int i = 0; i < row.Length; i++)
                    row[i] += previous[i];
                break;
            case 3: // Average: predictor = floor((left + above) / 2)
                for (int i = 0; i < row.Length; i++)
                {
                    int left = i >= stride ? row[i - stride] : 0;
                    row[i] += (byte)((left + previous[i]) >> 1);
                }
                break;
            case 4: // Paeth: predictor = whichever of left, above, upper-left is closest to left + above - upper-left
                for (int i = 0; i < row.Length; i++)
                {
                    int left = i >= stride ? row[i - stride] : 0;
                    int upperLeft = i >= stride ? previous[i - stride] : 0;
                    row[i] += PaethPredictor(left, previous[i], upperLeft);
                }
                break;
            default:
                throw Fail(fileName, $"row {y} has unknown filter type {filter}");
        }
    }

    private static byte PaethPredictor(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        if (pa <= pb && pa <= pc)
            return (byte)a;
        return pb <= pc ? (byte)b : (byte)c;
    }

    /// <summary>
    /// One row to gray. Luma is ITU-R BT.601 (299 R + 587 G + 114 B) / 1000; alpha multiplies (composite on black).
    /// Sums are exact integers divided once in double, so R = G = B and opaque alpha give exactly the gray value.
    /// </summary>
    private static void ConvertRow(ReadOnlySpan<byte> row, Header header, byte[]? palette, byte[]? transparency,
        Span<float> destination, string fileName, int y)
    {
        int depth = header.BitDepth;
        double max = (1 << depth) - 1;
        switch (header.ColorType)
        {
            case ColorType.Gray:
            {
                int key = transparency is null ? -1 : BinaryPrimitives.ReadUInt16BigEndian(transparency);
                for (int x = 0; x < destination.Length; x++)
                {
                    int v = Sample(row, x, depth);
                    destination[x] = v == key ? 0f : ImageDecoder.Normalize(v, max);
                }
                break;
            }
            case ColorType.Rgb:
            {
                bool keyed = transparency is not null;
                int keyR = keyed ? BinaryPrimitives.ReadUInt16BigEndian(transparency) : -1;
                int keyG = keyed ? BinaryPrimitives.ReadUInt16BigEndian(transparency.AsSpan(2)) : -1;
                int keyB = keyed ? BinaryPrimitives.ReadUInt16BigEndian(transparency.AsSpan(4)) : -1;
                for (int x = 0; x < destination.Length; x++)
                {
                    int r = Sample(row, 3 * x, depth), g = Sample(row, 3 * x + 1, depth), b = Sample(row, 3 * x + 2, depth);
                    destination[x] = r == keyR && g == keyG && b == keyB ? 0f : ImageDecoder.Normalize(Luma1000(r, g, b), 1000 * max);
                }
                break;
            }
            case ColorType.Palette:
            {
                int entries = palette!.Length / 3;
                for (int x = 0; x < destination.Length; x++)
                {
                    int index = Sample(row, x, depth);
                    if (index >= entries)
                        throw Fail(fileName, $"palette index {index} at ({x}, {y}) is outside the {entries}-entry palette");
                    int alpha = transparency is not null && index < transparency.Length ? transparency[index] : 255;
                    double luma = Luma1000(palette[3 * index], palette[3 * index + 1], palette[3 * index + 2]);
                    destination[x] = ImageDecoder.Normalize(luma * alpha, 1000.0 * 255 * 255);
                }
                break;
            }
            case ColorType.GrayAlpha:
                for (int x = 0; x < destination.Length; x++)
                {
                    double v = Sample(row, 2 * x, depth), alpha = Sample(row, 2 * x + 1, depth);
                    destination[x] = ImageDecoder.Normalize(v * alpha, max * max);
                }
                break;
            case ColorType.Rgba:
                for (int x = 0; x < destination.Length; x++)
                {
                    int r = Sample(row, 4 * x, depth), g = Sample(row, 4 * x + 1, depth), b = Sample(row, 4 * x + 2, depth);
                    double alpha = Sample(row, 4 * x + 3, depth);
                    destination[x] = ImageDecoder.Normalize(Luma1000(r, g, b) * alpha, 1000 * max * max);
                }
                break;
        }
    }

    private static double Luma1000(int r, int g, int b) => 299.0 * r + 587.0 * g + 114.0 * b;

    /// <summary>Sample number <paramref name="index"/> of a row: packed most-significant-bit first below 8 bits, big-endian at 16.</summary>
    private static int Sample(ReadOnlySpan<byte> row, int index, int depth)
    {
        switch (depth)
        {
            case 8:
                return row[index];
            case 16:
                return BinaryPrimitives.ReadUInt16BigEndian(row[(2 * index)..]);
            default:
                int bit = index * depth;
                int shift = 8 - depth - (bit & 7);
                return (row[bit >> 3] >> shift) & ((1 << depth) - 1);
        }
    }

    private static bool IsValidChunkType(ReadOnlySpan<byte> type)
    {
        foreach (byte b in type)
        {
            if (!char.IsAsciiLetter((char)b))
                return false;
        }
        return true;
    }

    private static string ChunkTypeName(ReadOnlySpan<byte> type)
    {
        var name = new StringBuilder(4);
        foreach (byte b in type)
            name.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
        return name.ToString();
    }

    private static ImageFormatException Fail(string fileName, string problem, Exception? inner = null) => new(fileName, problem, inner);

    /// <summary>Output rows that grow as they are decoded, so a forged 16384x16384 header on a tiny file allocates little.</summary>
    private sealed class GrowingPixels(int width, int height)
    {
        // At most 64 Ki samples (256 KB) up front: fuzzing found 88-byte files that made the old 1 Mi-sample start cost 4 MB.
        private float[] _pixels = new float[(long)width * Math.Min(height, Math.Max(1, (1 << 16) / width))];

        public Span<float> Row(int y)
        {
            long needed = (long)(y + 1) * width;
            if (needed > _pixels.Length)
                Array.Resize(ref _pixels, (int)Math.Min((long)width * height, Math.Max(needed, 2L * _pixels.Length)));
            return _pixels.AsSpan(y * width, width);
        }

        public float[] ToArray()
        {
            if (_pixels.Length != (long)width * height)
                Array.Resize(ref _pixels, width * height);
            return _pixels;
        }
    }
}
