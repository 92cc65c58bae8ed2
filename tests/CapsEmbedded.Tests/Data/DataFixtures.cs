using System.Buffers.Binary;
using System.IO.Compression;
using CapsEmbedded.Data;

namespace CapsEmbedded.Tests.Data;

/// <summary>
/// Paths and builders for the committed MNIST fixture (Fixtures/mnist, copied to the test output), and the check that a
/// reader refuses a malformed file.
/// </summary>
internal static class DataFixtures
{
    public const int Count = 200;
    public const int Side = 28;
    public const int ImageLength = Side * Side;

    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist");

    public static string ImagesPath => Path.Combine(Directory, "t10k-200-images-idx3-ubyte");

    public static string LabelsPath => Path.Combine(Directory, "t10k-200-labels-idx1-ubyte");

    public static string Path_(string fileName) => Path.Combine(Directory, fileName);

    public static byte[] ImagesBytes => File.ReadAllBytes(ImagesPath);

    public static byte[] LabelsBytes => File.ReadAllBytes(LabelsPath);

    /// <summary>Pixels of image 0 (a 7), 784 bytes.</summary>
    public static byte[] Digit0 => ImagesBytes.AsSpan(16, ImageLength).ToArray();

    public static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
            gzip.Write(data);
        return output.ToArray();
    }

    /// <summary>An IDX image file of <paramref name="count"/> images, pixel value = (index * 7 + n) mod 256.</summary>
    public static byte[] ImageFile(int count, int rows, int cols)
    {
        var file = new byte[16 + count * rows * cols];
        BinaryPrimitives.WriteInt32BigEndian(file, 0x00000803);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(12), cols);
        for (int i = 16; i < file.Length; i++)
            file[i] = (byte)(i * 7);
        return file;
    }

    public static byte[] LabelFile(params byte[] labels)
    {
        var file = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(file, 0x00000801);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(4), labels.Length);
        labels.CopyTo(file, 8);
        return file;
    }

    /// <summary>
    /// Asserts that <paramref name="read"/> refuses its file with a <typeparamref name="T"/> whose problem starts with
    /// <paramref name="problem"/>; returns it for checks of the message.
    /// </summary>
    public static T AssertRefused<T>(Func<object> read, string problem) where T : DataFormatException
    {
        var e = Assert.Throws<T>(read);
        Assert.StartsWith(problem, e.Problem);
        return e;
    }

    /// <summary>
    /// <see cref="AssertRefused{T}"/> for an IDX <paramref name="file"/> as it is and gzip-compressed: the reader refuses
    /// both with the same problem. Returns the first refusal.
    /// </summary>
    public static IdxFormatException AssertRefusedPlainAndGzip(Func<byte[], object> read, byte[] file, string problem)
    {
        var e = AssertRefused<IdxFormatException>(() => read(file), problem);
        AssertRefused<IdxFormatException>(() => read(Gzip(file)), problem);
        return e;
    }
}
