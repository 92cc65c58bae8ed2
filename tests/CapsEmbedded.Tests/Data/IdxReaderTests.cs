using System.Buffers.Binary;
using CapsEmbedded.Data;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Tests.Data;

public class IdxReaderTests
{
    [Fact]
    public void Fixture_images_are_200_digits_of_28x28_with_full_pixel_range()
    {
        IdxImages images = IdxReader.ReadImages(DataFixtures.ImagesPath);

        Assert.Equal(200, images.Count);
        Assert.Equal(28, images.Rows);
        Assert.Equal(28, images.Cols);
        Assert.Equal(200 * 784, images.Pixels.Length);
        Assert.Equal(0, images.Pixels.Min());
        Assert.Equal(255, images.Pixels.Max());
        // MNIST digits are white on black: the border of image 0 is background.
        Assert.Equal(0, images.Pixels[0]);
        Assert.True(images.Pixels.AsSpan(0, 784).ToArray().Count(p => p > 128) > 50);
    }

    [Fact]
    public void Fixture_labels_start_7_2_1_0_4_and_are_digits()
    {
        byte[] labels = IdxReader.ReadLabels(DataFixtures.LabelsPath);

        Assert.Equal(200, labels.Length);
        Assert.Equal(new byte[] { 7, 2, 1, 0, 4, 1, 4, 9, 5, 9 }, labels[..10]);
        Assert.All(labels, l => Assert.InRange(l, (byte)0, (byte)9));
    }

    [Fact]
    public void Gzip_and_plain_give_the_same_data_whatever_the_file_is_called()
    {
        using var temp = new TempDirectory();
        string gz = temp.Write("images.gz", DataFixtures.Gzip(DataFixtures.ImagesBytes));
        string gzWithoutExtension = temp.Write("t10k-images-idx3-ubyte", DataFixtures.Gzip(DataFixtures.ImagesBytes));
        string labelsGz = temp.Write("labels.gz", DataFixtures.Gzip(DataFixtures.LabelsBytes));

        IdxImages plain = IdxReader.ReadImages(DataFixtures.ImagesPath);
        Assert.Equal(plain.Pixels, IdxReader.ReadImages(gz).Pixels);
        Assert.Equal(plain.Pixels, IdxReader.ReadImages(gzWithoutExtension).Pixels);
        Assert.Equal(IdxReader.ReadLabels(DataFixtures.LabelsPath), IdxReader.ReadLabels(labelsGz));
    }

    [Fact]
    public void Zero_images_is_a_legal_empty_file()
    {
        IdxImages images = ReadImages(DataFixtures.ImageFile(0, 28, 28));
        Assert.Equal(0, images.Count);
        Assert.Empty(images.Pixels);
    }

    [Fact]
    public void Stream_not_at_start_is_read_from_its_position()
    {
        byte[] file = DataFixtures.ImageFile(3, 4, 5);
        var stream = new MemoryStream([9, 9, .. file]) { Position = 2 };
        Assert.Equal(3, IdxReader.ReadImages(stream, "x").Count);
    }

    [Fact]
    public void Truncated_file_names_file_and_both_sizes()
    {
        using var temp = new TempDirectory();
        string path = temp.Write("t10k-images-idx3-ubyte", DataFixtures.ImagesBytes[..^16]);

        var e = Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(path));

        Assert.Equal($"{path}: expected 156816 bytes for 200 images of 28x28, found 156800", e.Message);
        Assert.Equal(path, e.FileName);
    }

    [Fact]
    public void Trailing_bytes_are_an_error()
    {
        var e = Assert.Throws<IdxFormatException>(() => ReadImages([.. DataFixtures.ImagesBytes, 0]));
        Assert.Equal("expected 156816 bytes for 200 images of 28x28, found 156817", e.Problem);
    }

    [Fact]
    public void Truncated_gzip_content_reports_the_size_found_or_corrupt_gzip()
    {
        byte[] gz = DataFixtures.Gzip(DataFixtures.ImagesBytes);
        var e = Assert.Throws<IdxFormatException>(() => ReadImages(gz[..(gz.Length / 2)]));
        Assert.Matches("expected 156816 bytes for 200 images of 28x28, found [0-9]+|corrupt gzip", e.Problem);
    }

    [Fact]
    public void Gzip_of_a_file_with_trailing_bytes_is_an_error()
    {
        var e = Assert.Throws<IdxFormatException>(() => ReadLabels(DataFixtures.Gzip([.. DataFixtures.LabelsBytes, 1, 2, 3])));
        Assert.Equal("expected 208 bytes for 200 labels, found 211", e.Problem);
    }

    [Fact]
    public void Gzip_with_its_trailer_cut_or_damaged_is_an_error()
    {
        // GZipStream returns the full data without complaint when only the 8-byte trailer (CRC-32, size) is missing.
        byte[] gz = DataFixtures.Gzip(DataFixtures.LabelsBytes);
        for (int cut = 1; cut <= 8; cut++)
            Assert.Contains("file truncated or corrupt", Assert.Throws<IdxFormatException>(() => ReadLabels(gz[..^cut])).Problem);

        byte[] badCrc = (byte[])gz.Clone();
        badCrc[^8] ^= 1;
        // A present but wrong CRC is caught by GZipStream itself.
        Assert.Contains("gzip", Assert.Throws<IdxFormatException>(() => ReadLabels(badCrc)).Problem);
    }

    [Fact]
    public void Corrupt_gzip_stream_is_an_IdxFormatException()
    {
        byte[] gz = DataFixtures.Gzip(DataFixtures.ImagesBytes);
        for (int i = 10; i < 40; i++)
            gz[i] ^= 0xFF;
        var e = Assert.Throws<IdxFormatException>(() => ReadImages(gz));
        Assert.Contains("corrupt gzip", e.Problem);
    }

    [Fact]
    public void Labels_truncated_and_with_trailing_bytes()
    {
        byte[] labels = DataFixtures.LabelsBytes;
        Assert.Equal("expected 208 bytes for 200 labels, found 207", Assert.Throws<IdxFormatException>(() => ReadLabels(labels[..^1])).Problem);
        Assert.Equal("expected 208 bytes for 200 labels, found 210", Assert.Throws<IdxFormatException>(() => ReadLabels([.. labels, 0, 0])).Problem);
    }

    public static TheoryData<string, byte[], string> MalformedImageHeaders() => new()
    {
        { "empty", [], "file has only 0 bytes, too short for an IDX header" },
        { "three bytes", [0, 0, 8], "file has only 3 bytes, too short for an IDX header" },
        { "first magic byte", Header(0x01000803, 1, 1, 1), "bad magic 0x01000803: an IDX file starts with two zero bytes" },
        { "second magic byte", Header(0x00FF0803, 1, 1, 1), "bad magic 0x00FF0803" },
        { "float32 data", Header(0x00000D03, 1, 1, 1), "data type 0x0D (float32) is not supported; expected 0x08 (unsigned byte)" },
        { "unknown data type", Header(0x00000703, 1, 1, 1), "data type 0x07 (unknown) is not supported" },
        { "label file", DataFixtures.LabelFile(1, 2), "magic 0x00000801 is a label file; expected an image file" },
        { "two dimensions", Header(0x00000802, 1, 1), "magic 0x00000802 is a file with 2 dimensions; expected an image file" },
        { "header cut", Header(0x00000803, 1, 28, 28)[..10], "file has only 10 bytes, too short for the 16-byte header" },
        { "zero rows", Header(0x00000803, 1, 0, 28), "dimension 1 (rows) is 0" },
        { "zero cols", Header(0x00000803, 1, 28, 0), "dimension 2 (cols) is 0" },
        { "huge rows", Header(0x00000803, 1, 5000, 28), "images of 5000x28 exceed the limit of 4096x4096" },
        { "huge cols", Header(0x00000803, 1, 28, 4097), "images of 28x4097 exceed the limit of 4096x4096" },
        { "negative count", Header(0x00000803, unchecked((int)0xFFFFFFFF), 28, 28), "dimension 0 (count) is 4294967295, too large" },
        { "count beyond an array", Header(0x00000803, int.MaxValue, 28, 28), "2147483647 images of 28x28 are 1683627179248 bytes, more than one array can hold" },
        { "no pixels", Header(0x00000803, 2, 28, 28), "expected 1584 bytes for 2 images of 28x28, found 16" },
    };

    [Theory]
    [MemberData(nameof(MalformedImageHeaders))]
    public void Malformed_image_file_names_the_problem(string caseName, byte[] file, string problem)
    {
        _ = caseName;
        Assert.StartsWith("case.idx: ", DataFixtures.AssertRefusedPlainAndGzip(f => ReadImages(f), file, problem).Message);
    }

    public static TheoryData<string, byte[], string> MalformedLabelHeaders() => new()
    {
        { "image file", DataFixtures.ImageFile(1, 2, 2), "magic 0x00000803 is an image file; expected a label file" },
        { "int32 labels", Header(0x00000C01, 1), "data type 0x0C (int32) is not supported" },
        { "header cut", Header(0x00000801, 1)[..6], "file has only 6 bytes, too short for the 8-byte header" },
        { "huge count", Header(0x00000801, int.MaxValue), "2147483647 labels are more than one array can hold" },
        { "missing labels", Header(0x00000801, 5), "expected 13 bytes for 5 labels, found 8" },
    };

    [Theory]
    [MemberData(nameof(MalformedLabelHeaders))]
    public void Malformed_label_file_names_the_problem(string caseName, byte[] file, string problem)
    {
        _ = caseName;
        DataFixtures.AssertRefusedPlainAndGzip(ReadLabels, file, problem);
    }

    [Fact]
    public void Forged_huge_count_in_small_gzip_does_not_allocate_the_declared_size()
    {
        byte[] file = Header(0x00000803, 500_000, 64, 64); // 2,048,000,000 bytes declared, 16 present
        byte[] gz = DataFixtures.Gzip(file);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<IdxFormatException>(() => ReadImages(gz));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("found 16", e.Problem);
        Assert.True(allocated < 16 << 20, $"allocated {allocated} bytes");
    }

    internal static IdxImages ReadImages(byte[] file) => IdxReader.ReadImages(new MemoryStream(file), "case.idx");

    internal static byte[] ReadLabels(byte[] file) => IdxReader.ReadLabels(new MemoryStream(file), "case.idx");

    private static byte[] Header(int magic, params int[] dims)
    {
        var header = new byte[4 + 4 * dims.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, magic);
        for (int d = 0; d < dims.Length; d++)
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * d), dims[d]);
        return header;
    }
}
