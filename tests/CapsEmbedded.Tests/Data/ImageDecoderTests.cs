using System.Text;
using CapsEmbedded.Data;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Tests.Data;

public class ImageDecoderTests
{
    private static float[] ExpectedDigit0 => DataFixtures.Digit0.Select(b => b / 255f).ToArray();

    [Theory]
    [InlineData("digit0.pgm")]
    [InlineData("digit0-ascii.pgm")]
    [InlineData("digit0-gray.png")]
    [InlineData("digit0-rgb.png")]
    [InlineData("digit0-rgba.png")]
    public void Every_fixture_variant_decodes_to_image_0_of_the_IDX_fixture(string fileName)
    {
        GrayImage image = ImageDecoder.LoadGray(DataFixtures.Path_(fileName));

        Assert.Equal(28, image.Width);
        Assert.Equal(28, image.Height);
        Assert.Equal(ExpectedDigit0, image.Pixels);
    }

    public static TheoryData<int> FilterTypes() => [0, 1, 2, 3, 4];

    [Theory]
    [MemberData(nameof(FilterTypes))]
    public void Each_filter_type_round_trips_gray_rgb_and_rgba(int filter)
    {
        byte[] digit = DataFixtures.Digit0;
        AssertDecodes(ExpectedDigit0, Encoder(colorType: 0, filter: _ => filter).Encode(digit));
        AssertDecodes(ExpectedDigit0, Encoder(colorType: 2, filter: _ => filter).Encode(Interleave(digit, d => [d, d, d])));
        AssertDecodes(ExpectedDigit0, Encoder(colorType: 6, filter: _ => filter).Encode(Interleave(digit, d => [d, d, d, 255])));
        AssertDecodes(ExpectedDigit0, Encoder(colorType: 4, filter: _ => filter).Encode(Interleave(digit, d => [d, 255])));
    }

    [Fact]
    public void Mixed_filters_per_row_across_bit_depths()
    {
        var random = new DeterministicRandom(0x1AA6E5UL);
        foreach ((int colorType, int depth) in new[] { (0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (4, 8), (4, 16), (6, 8), (6, 16) })
        {
            var encoder = new TestPngEncoder { Width = 13, Height = 9, BitDepth = depth, ColorType = colorType, FilterForRow = y => y % 5 };
            byte[] raw = new byte[encoder.RowBytes * encoder.Height];
            for (int i = 0; i < raw.Length; i++)
                raw[i] = (byte)random.NextInt(256);
            // Decoding a mixed-filter image must equal decoding the same rows stored unfiltered.
            var unfiltered = new TestPngEncoder { Width = 13, Height = 9, BitDepth = depth, ColorType = colorType };
            float[] expected = Decode(unfiltered.Encode(raw)).Pixels;
            Assert.Equal(expected, Decode(encoder.Encode(raw)).Pixels);
        }
    }

    [Fact]
    public void Sub_byte_gray_samples_are_packed_msb_first()
    {
        // 1-bit: 0b1010_0000 = pixels 1,0,1,0,0 of width 5; 2-bit: 0b11_01_00_10 = 3,1,0,2; 4-bit: 0xF7 = 15, 7.
        AssertDecodes([1, 0, 1, 0, 0], new TestPngEncoder { Width = 5, Height = 1, BitDepth = 1 }.Encode([0b1010_0000]));
        AssertDecodes([1, 1 / 3f, 0, 2 / 3f], new TestPngEncoder { Width = 4, Height = 1, BitDepth = 2 }.Encode([0b11_01_00_10]));
        AssertDecodes([1, 7 / 15f], new TestPngEncoder { Width = 2, Height = 1, BitDepth = 4 }.Encode([0xF7]));
        AssertDecodes([1, 0x1234 / 65535f], new TestPngEncoder { Width = 2, Height = 1, BitDepth = 16 }.Encode([0xFF, 0xFF, 0x12, 0x34]));
    }

    [Fact]
    public void Rgb_becomes_BT601_luma()
    {
        byte[] png = new TestPngEncoder { Width = 4, Height = 1, ColorType = 2 }.Encode([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
        float[] pixels = Decode(png).Pixels;
        Assert.Equal(0.299f, pixels[0], 6);
        Assert.Equal(0.587f, pixels[1], 6);
        Assert.Equal(0.114f, pixels[2], 6);
        Assert.Equal((0.299f * 10 + 0.587f * 20 + 0.114f * 30) / 255f, pixels[3], 6);
    }

    [Fact]
    public void Alpha_is_composited_on_black()
    {
        byte[] rgba = new TestPngEncoder { Width = 3, Height = 1, ColorType = 6 }.Encode([255, 255, 255, 0, 255, 255, 255, 51, 200, 200, 200, 255]);
        AssertDecodes([0, 0.2f, 200 / 255f], rgba);
        byte[] grayAlpha16 = new TestPngEncoder { Width = 1, Height = 1, ColorType = 4, BitDepth = 16 }.Encode([0xFF, 0xFF, 0x80, 0x00]);
        Assert.Equal(0x8000 / 65535f, Decode(grayAlpha16).Pixels[0], 6);
    }

    [Fact]
    public void Palette_images_with_transparency()
    {
        byte[] palette = [0, 0, 0, 255, 255, 255, 255, 0, 0];
        var encoder = new TestPngEncoder { Width = 4, Height = 1, ColorType = 3, BitDepth = 2, Palette = palette, Transparency = [255, 255, 0] };
        // Indices 1, 0, 2, 1 packed in 2 bits: 01 00 10 01; entry 2 (red) is fully transparent -> black.
        AssertDecodes([1, 0, 0, 1], encoder.Encode([0b01_00_10_01]));
        var opaque = new TestPngEncoder { Width = 1, Height = 1, ColorType = 3, BitDepth = 8, Palette = palette };
        Assert.Equal(0.299f, Decode(opaque.Encode([2])).Pixels[0], 6);
    }

    [Fact]
    public void Transparent_color_key_reads_as_black()
    {
        var gray = new TestPngEncoder { Width = 3, Height = 1, Transparency = [0, 200] };
        AssertDecodes([0, 100 / 255f, 1], gray.Encode([200, 100, 255]));
        var rgb = new TestPngEncoder { Width = 2, Height = 1, ColorType = 2, Transparency = [0, 1, 0, 2, 0, 3] };
        AssertDecodes([0, 1], rgb.Encode([1, 2, 3, 255, 255, 255]));
    }

    [Fact]
    public void Split_IDAT_and_unknown_ancillary_chunks_are_fine()
    {
        var encoder = new TestPngEncoder
        {
            Width = 28, Height = 28, IdatChunks = 4, FilterForRow = y => 4,
            ExtraChunks = [("tEXt", Encoding.ASCII.GetBytes("Comment\0hello")), ("zzZz", [1, 2, 3])],
        };
        AssertDecodes(ExpectedDigit0, encoder.Encode(DataFixtures.Digit0));
    }

    [Fact]
    public void Pgm_variants_maxval_16_bit_and_comments()
    {
        AssertDecodes([0, 0.5f, 1], Encoding.ASCII.GetBytes("P2 3 1 2 0 1 2"));
        AssertDecodes([0, 0.5f, 1], Encoding.ASCII.GetBytes("P2\n#c\n3 # width\n1\n2 # maxval\n0 1 #x\n 2"));
        AssertDecodes([0x0102 / 1000f, 1], [.. Encoding.ASCII.GetBytes("P5 2 1 1000\n"), 0x01, 0x02, 0x03, 0xE8]);
        AssertDecodes([1, 0x1234 / 65535f], [.. Encoding.ASCII.GetBytes("P5\n2 1\n65535\t"), 0xFF, 0xFF, 0x12, 0x34]);
        // The single whitespace after maxval is followed by data that may itself look like whitespace.
        AssertDecodes([10 / 255f, 32 / 255f], [.. Encoding.ASCII.GetBytes("P5 2 1 255\n"), 10, 32]);
        // A second image in the same file is ignored.
        AssertDecodes([1], [.. Encoding.ASCII.GetBytes("P5 1 1 255\n"), 255, .. Encoding.ASCII.GetBytes("P5 1 1 255\n"), 0]);
    }

    [Fact]
    public void LoadGray_names_the_file()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("digit.png", [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.LoadGray(path));
        Assert.Equal($"{path}: no IHDR chunk (file truncated after the signature?)", e.Message);
        Assert.Equal(path, e.FileName);
    }

    [Fact]
    public void Forged_huge_png_header_is_rejected_without_a_huge_allocation()
    {
        byte[] png = new TestPngEncoder { Width = 16384, Height = 16384 }.Assemble(TestPngEncoder.Compress(new byte[100]));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageFormatException>(() => Decode(png));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20);
        Assert.Equal("image data ends in row 0 of 16384 (file truncated?)", e.Problem);
    }

    public static TheoryData<string, byte[], string> MalformedPngs()
    {
        byte[] digit = DataFixtures.Digit0;
        byte[] good = Encoder(0).Encode(digit);
        var data = new TheoryData<string, byte[], string>
        {
            { "empty", [], "file is empty" },
            { "unknown format", "GIF89a"u8.ToArray(), "not a PNG or PGM image (unrecognized first bytes)" },
            { "text-mode damage", [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0A, 0x1A, 0x0A], "damaged PNG signature" },
            { "signature only", good[..8], "no IHDR chunk" },
            { "cut in chunk header", good[..15], "truncated chunk header at offset 8" },
            { "cut in IHDR", good[..20], "chunk 'IHDR' at offset 8 declares 13 bytes but only 0 remain" },
            { "cut in IDAT", good[..60], "chunk 'IDAT' at offset 33 declares" },
            { "no IEND", good[..^12], "missing IEND chunk (file truncated?)" },
            { "bad CRC", Flip(good, 29), "CRC mismatch in chunk 'IHDR' at offset 8" },
            { "first chunk not IHDR", Chunks(("IDAT", [1])), "first chunk is 'IDAT', expected IHDR" },
            { "IHDR too short", Chunks(("IHDR", new byte[12])), "IHDR chunk has 12 bytes, expected 13" },
            { "invalid chunk type", Chunks(("IH1R", new byte[13])), "invalid chunk type 'IH1R' at offset 8" },
            { "zero width", new TestPngEncoder { Width = 0, Height = 1 }.Encode([]), "image of 0x1 has no pixels" },
            { "too wide", new TestPngEncoder { Width = 16385, Height = 1 }.Assemble([]), "image of 16385x1 exceeds the limit of 16384x16384" },
            { "too tall", new TestPngEncoder { Width = 1, Height = -1 }.Assemble([]), "image of 1x4294967295 exceeds the limit" },
            { "bad depth", new TestPngEncoder { Width = 1, Height = 1, ColorType = 2, BitDepth = 4 }.Assemble([]), "bit depth 4 is not allowed for color type 2" },
            { "depth 3", new TestPngEncoder { Width = 1, Height = 1, BitDepth = 3 }.Assemble([]), "bit depth 3 is not allowed for color type 0" },
            { "color type 5", new TestPngEncoder { Width = 1, Height = 1, ColorType = 5 }.Assemble([]), "unknown color type 5" },
            { "compression 1", new TestPngEncoder { Width = 1, Height = 1, CompressionMethod = 1 }.Assemble([]), "unknown compression method 1" },
            { "filter method 1", new TestPngEncoder { Width = 1, Height = 1, FilterMethod = 1 }.Assemble([]), "unknown filter method 1" },
            { "interlaced", new TestPngEncoder { Width = 28, Height = 28, Interlace = 1 }.Encode(digit), "interlaced PNG is not supported" },
            { "interlace 2", new TestPngEncoder { Width = 1, Height = 1, Interlace = 2 }.Assemble([]), "unknown interlace method 2" },
            { "unknown critical chunk", new TestPngEncoder { Width = 28, Height = 28, ExtraChunks = [("ABCD", [])] }.Encode(digit), "unknown critical chunk 'ABCD' at offset 33" },
            { "second IHDR", new TestPngEncoder { Width = 28, Height = 28, ExtraChunks = [("IHDR", new byte[13])] }.Encode(digit), "second IHDR chunk at offset 33" },
            { "no IDAT", new TestPngEncoder { Width = 1, Height = 1 }.Assemble([]), "no IDAT chunk (no image data)" },
            { "IDAT split by another chunk", SplitIdat(digit), "IDAT chunk at offset" },
            { "palette without PLTE", new TestPngEncoder { Width = 1, Height = 1, ColorType = 3 }.Encode([0]), "palette image without a PLTE chunk" },
            { "PLTE in gray", new TestPngEncoder { Width = 1, Height = 1, Palette = [1, 2, 3] }.Encode([0]), "PLTE chunk in a grayscale PNG" },
            { "PLTE length", new TestPngEncoder { Width = 1, Height = 1, ColorType = 3, Palette = [1, 2] }.Encode([0]), "PLTE chunk has 2 bytes, expected 3 per entry" },
            { "PLTE too long for depth", new TestPngEncoder { Width = 1, Height = 1, ColorType = 3, BitDepth = 1, Palette = new byte[9] }.Encode([0]), "PLTE has 3 entries, more than bit depth 1 can index" },
            { "palette index", new TestPngEncoder { Width = 2, Height = 1, ColorType = 3, Palette = [1, 2, 3] }.Encode([0, 1]), "palette index 1 at (1, 0) is outside the 1-entry palette" },
            { "tRNS before PLTE", TrnsBeforePlte(), "tRNS chunk before PLTE" },
            { "tRNS too long", new TestPngEncoder { Width = 1, Height = 1, ColorType = 3, Palette = [1, 2, 3], Transparency = [1, 2] }.Encode([0]), "tRNS chunk has 2 entries, more than the 1 palette entries" },
            { "tRNS gray length", new TestPngEncoder { Width = 1, Height = 1, Transparency = [1] }.Encode([0]), "tRNS chunk has 1 bytes, expected 2 for a gray image" },
            { "tRNS rgb length", new TestPngEncoder { Width = 1, Height = 1, ColorType = 2, Transparency = [1, 2] }.Encode([0, 0, 0]), "tRNS chunk has 2 bytes, expected 6 for an RGB image" },
            { "filter type 5", new TestPngEncoder { Width = 28, Height = 28, FilterForRow = y => y == 3 ? 5 : 0 }.Encode(digit), "row 3 has unknown filter type 5" },
            { "too little image data", TooLittleData(digit), "image data ends in row 28 of 29" },
            { "too much image data", new TestPngEncoder { Width = 28, Height = 28 }.Assemble(TestPngEncoder.Compress(new byte[29 * 29])), "more image data than 28x28 needs" },
            { "not zlib", new TestPngEncoder { Width = 28, Height = 28 }.Assemble(new byte[50]), "corrupt zlib data in IDAT" },
            { "zlib checksum", BadAdler(digit), "corrupt zlib data in IDAT" },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(MalformedPngs))]
    public void Malformed_png_names_the_problem(string caseName, byte[] file, string problem)
    {
        _ = caseName;
        Assert.StartsWith("case.png: ", DataFixtures.AssertRefused<ImageFormatException>(() => Decode(file), problem).Message);
    }

    public static TheoryData<string, string, string> MalformedPgms() => new()
    {
        { "P6 is not PGM", "P6 1 1 255\n\0\0\0", "Netpbm format P6 is not supported; only PGM (P5, P2)" },
        { "no whitespace after magic", "P51 1 255\n\0", "expected whitespace after the magic P5" },
        { "header ends", "P5 28 28", "header ends before maxval (file truncated?)" },
        { "header ends in comment", "P2 28 # 28 255", "header ends before height" },
        { "letter in width", "P2 2x 1 255\n0 0", "unexpected byte 0x78 after width at offset 4" },
        { "not a number", "P2 w 1 255\n0", "expected a number for width at offset 3, found byte 0x77" },
        { "zero width", "P5 0 1 255\n", "image of 0x1 has no pixels" },
        { "too large", "P5 16385 1 255\n", "image of 16385x1 exceeds the limit of 16384x16384" },
        { "overflowing number", "P5 99999999999999999999 1 255\n", "image of 2147483647x1 exceeds the limit" },
        { "maxval 0", "P5 1 1 0\n\0", "maxval 0 is outside 1..65535" },
        { "maxval 65536", "P5 1 1 65536\n\0\0", "maxval 65536 is outside 1..65535" },
        { "no whitespace after maxval", "P5 1 1 255", "expected whitespace after maxval" },
        { "P5 truncated", "P5 3 2 255\n\u0001\u0002", "expected 6 bytes of pixel data for 3x2 (maxval 255), found 2 (file truncated?)" },
        { "P5 16-bit truncated", "P5 2 1 1000\n\u0001\u0002\u0003", "expected 4 bytes of pixel data for 2x1 (maxval 1000), found 3" },
        { "P5 sample over maxval", "P5 2 1 100\n\u0001\u0065", "sample 101 at (1, 0) exceeds maxval 100" },
        { "P2 sample over maxval", "P2 2 2 7\n1 2 3 8", "sample 8 at (1, 1) exceeds maxval 7" },
        { "P2 missing samples", "P2 3 1 255\n1 2      ", "pixel data ends after 2 of 3 samples (file truncated?)" },
        { "P2 too few bytes for the samples", "P2 300 300 255\n1 2 3", "300x300 needs 90000 samples but only 5 bytes follow the header" },
        { "P2 garbage sample", "P2 2 1 255\n1 x", "expected a number for sample 1 at offset 13" },
        { "P2 glued garbage", "P2 2 1 255\n1 2x", "unexpected byte 0x78 at offset 14 in sample 1" },
    };

    [Theory]
    [MemberData(nameof(MalformedPgms))]
    public void Malformed_pgm_names_the_problem(string caseName, string file, string problem)
    {
        _ = caseName;
        DataFixtures.AssertRefused<ImageFormatException>(() => Decode(Encoding.Latin1.GetBytes(file)), problem);
    }

    internal static GrayImage Decode(byte[] file) => ImageDecoder.DecodeGray(file, "case.png");

    private static void AssertDecodes(float[] expected, byte[] file)
    {
        GrayImage image = Decode(file);
        Assert.Equal(expected.Length, image.Width * image.Height);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - image.Pixels[i]) <= 1e-6f, $"pixel {i}: expected {expected[i]}, got {image.Pixels[i]}");
    }

    private static TestPngEncoder Encoder(int colorType, Func<int, int>? filter = null) =>
        new() { Width = 28, Height = 28, ColorType = colorType, FilterForRow = filter ?? (_ => 0) };

    private static byte[] Interleave(byte[] gray, Func<byte, byte[]> expand) => gray.SelectMany(expand).ToArray();

    private static byte[] Flip(byte[] file, int index)
    {
        byte[] copy = (byte[])file.Clone();
        copy[index] ^= 0x40;
        return copy;
    }

    private static byte[] Chunks(params (string Type, byte[] Data)[] chunks)
    {
        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        foreach ((string type, byte[] data) in chunks)
            TestPngEncoder.WriteChunk(png, type, data);
        return png.ToArray();
    }

    private static byte[] SplitIdat(byte[] digit)
    {
        var encoder = new TestPngEncoder { Width = 28, Height = 28, IdatChunks = 2 };
        byte[] png = encoder.Encode(digit);
        // Insert a tEXt chunk between the two IDAT chunks: IHDR ends at 33, first IDAT follows.
        int firstIdatLength = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(33));
        int split = 33 + 12 + firstIdatLength;
        var text = new MemoryStream();
        TestPngEncoder.WriteChunk(text, "tEXt", Encoding.ASCII.GetBytes("a\0b"));
        return [.. png[..split], .. text.ToArray(), .. png[split..]];
    }

    private static byte[] TrnsBeforePlte()
    {
        var encoder = new TestPngEncoder { Width = 1, Height = 1, ColorType = 3, ExtraChunks = [("tRNS", [0]), ("PLTE", [1, 2, 3])] };
        return encoder.Encode([0]);
    }

    private static byte[] TooLittleData(byte[] digit)
    {
        var encoder = new TestPngEncoder { Width = 28, Height = 29 };
        var short28Rows = new TestPngEncoder { Width = 28, Height = 28 };
        return encoder.Assemble(TestPngEncoder.Compress(short28Rows.FilterRows(digit)));
    }

    private static byte[] BadAdler(byte[] digit)
    {
        var encoder = new TestPngEncoder { Width = 28, Height = 28 };
        byte[] compressed = TestPngEncoder.Compress(encoder.FilterRows(digit));
        compressed[^1] ^= 0xFF;
        return encoder.Assemble(compressed);
    }
}
