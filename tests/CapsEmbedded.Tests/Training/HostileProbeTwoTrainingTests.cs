using System.Globalization;
using CapsEmbedded.Training;

namespace CapsEmbedded.Tests.Training;

/// <summary>
/// Issue 34's second hostile-input probe, the training rows: side files (3, 12), colliding outputs (4), capsnet-train's
/// threads and memory (6), an unwritable output directory (11); the forged history (1) is in <see cref="CheckpointHistoryTests"/>.
/// Each failed before its fix.
/// </summary>
public sealed class HostileProbeTwoTrainingTests() : TempDirectoryTest("capsnet-probe2-train-")
{
    private string ShapesData() => TrainCommandTests.WriteShapes(P("shapes"), trainCount: 20, testCount: 10);

    /// <summary>Flags of a one-epoch tiny run on <paramref name="data"/>, for both tools.</summary>
    private static string[] Tiny(string data, params string[] more) =>
        ["--arch", "tiny", "--data", data, "--batch", "10", "--threads", "1", .. more];

    private static (int Code, string Output, string Error) Train(params string[] args) => Capsnet(["train", .. args, "--plain"]);

    // ---- 3, 4. every side file checked up front, colliding outputs refused before the run

    [Fact]
    public void The_png_curve_is_checked_up_front_like_the_csv_and_svg()
    {
        string data = ShapesData();
        File.WriteAllText(P("t.png"), "precious");
        var result = Train(Tiny(data, "--epochs", "1", "--out", P("t.safetensors")));
        AssertOneLineError(result, $"--out's PNG chart {P("t.png")} exists; pass --force");
        Assert.Equal("precious", File.ReadAllText(P("t.png")));
        Assert.DoesNotContain("epoch", result.Output);

        File.Delete(P("t.png"));
        Directory.CreateDirectory(P("t.png"));
        result = Train(Tiny(data, "--epochs", "1", "--out", P("t.safetensors"), "--force"));
        AssertOneLineError(result, "is a directory"); // before: after the training, losing the run
        Assert.DoesNotContain("epoch", result.Output);
        Assert.False(File.Exists(P("t.safetensors")));
    }

    [Fact]
    public void Outputs_that_are_one_file_are_refused_before_the_run_by_both_tools()
    {
        string data = ShapesData();
        File.CreateSymbolicLink(P("link.ckpt"), P("a.safetensors"));
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--out", P("t.ckpt")], $"--checkpoint {P("t.ckpt")} is the same file as --out"), // the default checkpoint <out>.ckpt
            (["--out", P("a.safetensors"), "--checkpoint", P("a.safetensors")], "--checkpoint"),
            (["--out", P("a.safetensors"), "--checkpoint", P("link.ckpt")], "is the same file as --out"),
            (["--out", P("t.csv")], $"--out's log {P("t.csv")} is the same file as --out"),
            (["--out", P("t.svg")], "--out's chart"),
        })
        {
            var result = Train(Tiny(data, args));
            AssertOneLineError(result, message);
            Assert.DoesNotContain("epoch", result.Output);
            var host = CapsnetTrain(Tiny(data, args));
            Assert.True(host.Code == 1, host.Output);
            Assert.Contains("is the same file as", host.Error);
        }
        Assert.False(File.Exists(P("t.ckpt")));
        Assert.False(File.Exists(P("a.safetensors")));
    }

    // ---- 12. side files only beside a regular-file --out

    [Fact]
    public void A_device_as_out_gets_no_checkpoint_log_or_chart_beside_it()
    {
        using (var mk = System.Diagnostics.Process.Start("mknod", [P("null"), "c", "1", "3"])) mk.WaitForExit();
        Assert.Equal(CapsEmbedded.IO.FileKind.CharacterDevice, CapsEmbedded.IO.FileStat.Of(P("null")).Kind);
        string data = ShapesData();
        var result = Train(Tiny(data, "--epochs", "1", "--out", P("null")));
        Assert.True(result.Code == 0, result.Error);
        var host = CapsnetTrain(Tiny(data, "--epochs", "1", "--out", P("null")));
        Assert.True(host.Code == 0, host.Error);
        Assert.Equal([P("null")], Directory.GetFileSystemEntries(Dir).Where(e => Path.GetFileName(e).StartsWith("null", StringComparison.Ordinal)));
        // An explicit --checkpoint is still kept; --save-epochs, which writes beside --out, is refused.
        Assert.Equal(0, Train(Tiny(data, "--epochs", "1", "--out", P("null"), "--checkpoint", P("kept.ckpt"))).Code);
        Assert.True(File.Exists(P("kept.ckpt")));
        AssertOneLineError(Train(Tiny(data, "--epochs", "1", "--out", P("null"), "--save-epochs")), "--save-epochs writes next to --out");
    }

    // ---- 6. capsnet-train: the same thread bound and memory check as capsnet train

    [Fact]
    public void Capsnet_train_bounds_threads_and_memory_as_the_cli_does()
    {
        string tooMany = (4 * Environment.ProcessorCount + 1).ToString(CultureInfo.InvariantCulture);
        var host = CapsnetTrain("--arch", "tiny", "--data", P("nowhere"), "--threads", tooMany, "--out", P("h.safetensors"));
        Assert.Equal($"capsnet-train: error: --threads {tooMany} is more than {4 * Environment.ProcessorCount} (4 per core on this {Environment.ProcessorCount}-core machine)", host.Error.Trim());
        host = CapsnetTrain("--data", P("nowhere"), "--batch", "2000000000", "--threads", "1", "--out", P("h.safetensors"));
        Assert.Contains("would need about", host.Error); // before the data set is even looked for
        Assert.Equal(1, host.Code);
        AssertOneLineError(Capsnet("train", "--data", P("nowhere"), "--batch", "2000000000", "--threads", "1", "--out", P("c.safetensors")), "would need about");
    }

    // ---- 11. an output directory that takes no files fails before the work

    [Fact]
    public void An_output_directory_that_takes_no_files_is_refused_before_training()
    {
        if (!Directory.Exists("/sys")) return; // sysfs refuses new files to everyone, root included
        string data = ShapesData();
        var result = Train(Tiny(data, "--epochs", "1", "--out", "/sys/capsnet-probe.safetensors"));
        AssertOneLineError(result, "--out /sys/capsnet-probe.safetensors: cannot create files in /sys");
        Assert.DoesNotContain("epoch", result.Output);
        var host = CapsnetTrain(Tiny(data, "--epochs", "1", "--out", "/sys/capsnet-probe.safetensors"));
        Assert.Contains("cannot create files in /sys", host.Error);
    }
}
