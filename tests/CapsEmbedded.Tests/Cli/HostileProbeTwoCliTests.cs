using System.Buffers.Binary;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// Issue 34's second hostile-input probe, the CLI rows: writers that clobbered (2), unbounded threads (5), late failures
/// (11), bench's unbounded runs (13), and the smaller findings (averaging, row 10, is in <see cref="AverageCommandTests"/>).
/// Each failed before its fix.
/// </summary>
public sealed class HostileProbeTwoCliTests() : TempDirectoryTest("capsnet-probe2-cli-")
{
    private static readonly string Png = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist", "digit0-gray.png");

    private string Tiny() => InitOnce(P("tiny.safetensors"), seed: 3);

    // ---- 2. --dump-lengths and --reconstruction never clobber without --force

    [Fact]
    public void Dump_lengths_and_reconstruction_keep_an_existing_file_without_force()
    {
        string data = CopyMnistFixture();
        File.WriteAllText(P("victim.safetensors"), "weights");
        var result = Capsnet("eval", "--data", data, "--limit", "5", "--dump-lengths", P("victim.safetensors"));
        AssertOneLineError(result, $"--dump-lengths {P("victim.safetensors")} exists; pass --force");
        Assert.DoesNotContain("accuracy", result.Output);
        Assert.Equal("weights", File.ReadAllText(P("victim.safetensors")));

        File.WriteAllText(P("run.ckpt"), "checkpoint");
        File.CreateSymbolicLink(P("link.pgm"), P("run.ckpt"));
        AssertOneLineError(Capsnet("predict", "--reconstruction", P("link.pgm"), Png), "--reconstruction");
        Assert.Equal("checkpoint", File.ReadAllText(P("run.ckpt")));

        var both = Capsnet("eval", "--data", data, "--limit", "5", "--dump-lengths", P("same.txt"), "--plot", P("same.txt"));
        AssertOneLineError(both, $"--plot {P("same.txt")} is the same file as --dump-lengths"); // one would replace the other
        Assert.False(File.Exists(P("same.txt")));
        Assert.Equal(0, Capsnet("eval", "--data", data, "--limit", "5", "--dump-lengths", P("victim.safetensors"), "--force").Code);
        Assert.Equal(5, File.ReadAllLines(P("victim.safetensors")).Length);
        Assert.Equal(0, Capsnet("predict", "--reconstruction", P("link.pgm"), "--force", Png).Code);
        Assert.StartsWith("P5", File.ReadAllText(P("run.ckpt")));
    }

    // ---- 5. errors: the thread bound of eval, bench and train

    [Fact]
    public void Errors_refuses_more_threads_than_the_bound()
    {
        // A child process: before the fix this grew by ~175 MB/s until killed.
        var result = CapsnetProcess("errors", "--data", CopyMnistFixture(), "--limit", "100", "--threads", "100000", "--out", P("e.png"));
        AssertOneLineError(result, "--threads 100000 is more than");
        Assert.False(File.Exists(P("e.png")));
    }

    // ---- 11. an output directory that takes no files: refused before the work

    [Fact]
    public void An_output_directory_that_takes_no_files_is_refused_before_eval_quantize_and_figures()
    {
        if (!Directory.Exists("/sys")) return; // sysfs refuses new files to everyone, root included
        string data = CopyMnistFixture();
        var eval = Capsnet("eval", "--data", data, "--limit", "5", "--dump-lengths", "/sys/capsnet-probe.txt");
        AssertOneLineError(eval, "--dump-lengths /sys/capsnet-probe.txt: cannot create files in /sys");
        Assert.DoesNotContain("accuracy", eval.Output);
        AssertOneLineError(Capsnet("eval", "--data", data, "--limit", "5", "--plot", "/sys/capsnet-probe.png"), "cannot create files in /sys");
        AssertOneLineError(Capsnet("reconstruct", "--data", data, "--count", "2", "--out", "/sys/capsnet-probe.png"), "cannot create files in /sys");
        AssertOneLineError(Capsnet("errors", "--data", data, "--limit", "5", "--out", "/sys/capsnet-probe.png"), "cannot create files in /sys");
        AssertOneLineError(Capsnet("quantize", "--weights", Tiny(), "--calibrate", data, "--out", "/sys/capsnet-probe.safetensors"), "cannot create files in /sys");
    }

    // ---- 13. bench: --runs and --warmup bounded up front

    [Fact]
    public void Bench_refuses_unbounded_runs_and_warmup_up_front()
    {
        AssertOneLineError(Capsnet("bench", "--runs", "2147483647", "--warmup", "0"), "--runs 2147483647 is more than 1,000,000");
        // A child process: before the fix this called the model 2^31 times.
        AssertOneLineError(CapsnetProcess("bench", "--runs", "1", "--warmup", "2147483647"), "--warmup 2147483647 is more than 1,000,000");
    }

    // ---- smaller findings

    [Fact]
    public void Reconstruct_past_the_end_names_the_count_given()
    {
        AssertOneLineError(Capsnet("reconstruct", "--data", CopyMnistFixture(), "--start", "190", "--count", "16", "--out", P("r.png")),
            "--start 190 with --count 16 needs images 190..205");
    }

    [Fact]
    public void A_png_of_4294967295_squared_is_reported_as_such()
    {
        var png = new byte[8 + 8 + 13 + 4];
        new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(png, 0);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(8), 13);
        "IHDR"u8.CopyTo(png.AsSpan(12));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), uint.MaxValue);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), uint.MaxValue);
        png[24] = 8;
        File.WriteAllBytes(P("huge.png"), png);
        AssertOneLineError(Capsnet("predict", P("huge.png")), "is 4294967295x4294967295");
    }

    [Fact]
    public void Export_and_figures_write_into_devices_without_force_and_report_a_full_device_plainly()
    {
        using (var mk = System.Diagnostics.Process.Start("sh", ["-c", $"mknod '{P("null")}' c 1 3 && mknod '{P("full")}' c 1 7"])) mk.WaitForExit();
        var export = Capsnet("export", "--onnx", P("null"), "--weights", Tiny());
        Assert.True(export.Code == 0, export.Error);
        string figure = CapsnetSucceeds("reconstruct", "--data", CopyMnistFixture(), "--count", "2", "--out", P("null"));
        Assert.Equal(CapsEmbedded.IO.FileKind.CharacterDevice, CapsEmbedded.IO.FileStat.Of(P("null")).Kind);

        var full = Capsnet("export", "--onnx", P("full"), "--weights", Tiny());
        AssertOneLineError(full, P("full"));
        Assert.DoesNotContain("does not take a new file", full.Error);
        Assert.Contains("No space left on device", full.Error);
    }

    [Fact]
    public void A_directory_in_place_of_an_idx_file_is_called_a_directory()
    {
        string data = CopyMnistFixture();
        File.Delete(Path.Combine(data, "t10k-labels-idx1-ubyte"));
        Directory.CreateDirectory(Path.Combine(data, "t10k-labels-idx1-ubyte"));
        var result = Capsnet("eval", "--data", data, "--limit", "5");
        AssertOneLineError(result, $"{Path.Combine(data, "t10k-labels-idx1-ubyte")} is a directory, not an IDX file");
        Assert.DoesNotContain("missing", result.Error);
    }
}
