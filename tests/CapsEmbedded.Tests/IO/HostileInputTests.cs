using System.Buffers.Binary;
using System.Diagnostics;
using CapsEmbedded.Data;
using CapsEmbedded.IO;
using CapsEmbedded.Tests.Data;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.IO;

/// <summary>
/// Every reader stats its input first: a FIFO is refused without blocking, /dev/zero without reading, a directory by
/// name, and a huge sparse file or a PNG declaring 16384x16384 fails on its header with a few kilobytes allocated.
/// </summary>
public sealed class HostileInputTests() : TempDirectoryTest("capsnet-hostile-")
{
    public static TheoryData<string> Readers() => ["weights", "checkpoint", "idx", "image"];

    private static void Read(string reader, string path)
    {
        switch (reader)
        {
            case "weights": CapsNetWeightsFile.Load(path); break;
            case "checkpoint": TrainingCheckpoint.Load(path); break;
            case "idx": IdxReader.ReadImages(path); break;
            default: ImageDecoder.LoadGray(path); break;
        }
    }

    [Theory]
    [MemberData(nameof(Readers))]
    public async Task A_FIFO_is_refused_without_blocking(string reader)
    {
        using var mkfifo = Process.Start("mkfifo", [P("fifo")]);
        await mkfifo.WaitForExitAsync();
        var read = Task.Run(() => Assert.Throws<IOException>(() => Read(reader, P("fifo"))));
        var e = await read.WaitAsync(TimeSpan.FromSeconds(20)); // before: blocked in open(2) forever
        Assert.Contains("FIFO", e.Message);
    }

    [Theory]
    [MemberData(nameof(Readers))]
    public void Dev_zero_is_refused_before_a_byte_is_read(string reader)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<IOException>(() => Read(reader, "/dev/zero"));
        Assert.Contains("character device", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Theory]
    [MemberData(nameof(Readers))]
    public void A_directory_is_named_as_one(string reader)
    {
        var e = Assert.Throws<IOException>(() => Read(reader, Dir));
        Assert.Contains("is a directory", e.Message);
    }

    [Fact]
    public void A_sparse_weight_file_over_2_GB_is_refused_by_its_size()
    {
        using (var f = File.Create(P("huge.safetensors"))) f.SetLength(3L << 30);
        var e = Assert.Throws<IOException>(() => CapsNetWeightsFile.Load(P("huge.safetensors")));
        Assert.Contains("more than", e.Message);
    }

    [Fact]
    public void A_1_GB_weight_file_with_a_wrong_header_fails_after_reading_only_the_header()
    {
        // A valid tiny header whose architecture is the paper's but whose data area is 1 GB of zeros: wrong tensor sizes.
        byte[] tiny = CapsNetWeightsFile.Write(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1));
        int header = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(tiny);
        using (var f = File.Create(P("big.safetensors")))
        {
            f.Write(tiny, 0, header);
            f.SetLength(1L << 30);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Load(P("big.safetensors")));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20, "the whole file was read before the header check");
    }

    [Fact]
    public void A_PNG_declaring_16384x16384_is_refused_from_its_IHDR_before_decoding()
    {
        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, 16384);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), 16384);
        ihdr[8] = 8; // 8-bit gray
        TestPngEncoder.WriteChunk(png, "IHDR", ihdr);
        // 256 MiB of zero rows (filter byte 0 + 16384 zeros each) deflate to ~260 KB: the shape of the reported attack.
        TestPngEncoder.WriteChunk(png, "IDAT", TestPngEncoder.Compress(new byte[16385 * 1024]));
        TestPngEncoder.WriteChunk(png, "IEND", []);
        File.WriteAllBytes(P("big.png"), png.ToArray());
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.LoadGray(P("big.png"), (28, 28)));
        Assert.Contains("is 16384x16384; the model needs 28x28", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20, "pixels were decoded before the size check");
    }

    [Fact]
    public void Sizes_come_from_the_PGM_header_too()
    {
        File.WriteAllText(P("big.pgm"), "P5 16384 16384 255\n");
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.LoadGray(P("big.pgm"), (28, 28)));
        Assert.Contains("is 16384x16384", e.Message);
    }

    [Fact]
    public void Stat_tells_the_kinds_apart()
    {
        Assert.Equal(FileKind.CharacterDevice, FileStat.Of("/dev/null").Kind);
        Assert.Equal(FileKind.Directory, FileStat.Of(Dir).Kind);
        Assert.Equal(FileKind.Missing, FileStat.Of(P("none")).Kind);
        File.WriteAllBytes(P("five"), new byte[5]);
        var five = FileStat.Of(P("five"));
        Assert.Equal((FileKind.Regular, 5L), (five.Kind, five.Size));
        // The identity is stat(2)'s device and inode, as stat(1) prints them (the runtime's FileStatus layout read right).
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-L", "-c", "%d %i", P("five")]) { RedirectStandardOutput = true })!;
        string expected = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        Assert.Equal(expected, FormattableString.Invariant($"{five.Identity.Device} {five.Identity.Inode}"));
    }
}
