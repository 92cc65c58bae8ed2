using CapsEmbedded.Data;
using CapsEmbedded.Weights;

namespace CapsEmbedded.TorchSharp.Tests;

public class TorchCliTests
{
    /// <summary>Runs capsnet-torch in-process: exit code, standard output, standard error.</summary>
    internal static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = TorchCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Unknown_device_is_a_one_line_error()
    {
        var (code, _, error) = Run("bench", "--device", "gpu", "--runs", "1", "--warmup", "0");
        Assert.Equal(1, code);
        Assert.Equal("capsnet-torch: error: --device must be cpu or cuda, got 'gpu'", error.Trim());
    }

    [Fact]
    public void Bench_json_is_one_peer_benchmark_line()
    {
        var (code, output, error) = Run("bench", "--json", "--runs", "3", "--warmup", "0");
        Assert.True(code == 0, error);
        // The line bench/peers/run.sh appends to results.jsonl: PeerResult's fields, snake case.
        using var line = System.Text.Json.JsonDocument.Parse(output.Trim());
        var root = line.RootElement;
        Assert.Equal("TorchSharp", root.GetProperty("peer").GetString());
        Assert.Equal(1, root.GetProperty("batch").GetInt32());
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
        Assert.True(root.GetProperty("p50_ms").GetDouble() > 0);
        Assert.True(root.GetProperty("p90_ms").GetDouble() >= root.GetProperty("p50_ms").GetDouble());
        Assert.True(root.GetProperty("images_per_second").GetDouble() > 0);
        Assert.Equal(-1, root.GetProperty("allocated_bytes_per_image").GetDouble());

        var (trainCode, _, trainError) = Run("bench", "--json", "--train", "--runs", "1", "--warmup", "0");
        Assert.Equal(1, trainCode);
        Assert.Contains("--json reports inference only", trainError);
    }

    [Fact]
    public void Eval_reads_the_shipped_F16_efficient_file_and_classifies_the_fixture_digits()
    {
        // weights/mnist-efficient.safetensors is stored F16 (capsnet-torch export --precision f16): eval widens it as the
        // runtime's reader does, rather than asking for the F32 files capsnet-torch train writes.
        string weights = Path.Combine(AppContext.BaseDirectory, "Weights", "mnist-efficient.safetensors");
        Assert.Equal(SafeTensorsDType.F16, SafeTensorsFile.ReadHeader(weights).Header.Entries[0].DType);
        string dir = Directory.CreateTempSubdirectory("efficient-eval").FullName;
        try
        {
            string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
            File.Copy(Path.Combine(fixtures, "t10k-200-images-idx3-ubyte"), Path.Combine(dir, DatasetStore.StandardFileName(DatasetSplit.Test, images: true)));
            File.Copy(Path.Combine(fixtures, "t10k-200-labels-idx1-ubyte"), Path.Combine(dir, DatasetStore.StandardFileName(DatasetSplit.Test, images: false)));
            var (code, output, error) = Run("eval", "-w", weights, "--data", dir, "--threads", "1");
            Assert.True(code == 0, error);
            Assert.Contains("engine   TorchSharp (libtorch 2.10) on cpu, Efficient-CapsNet", output);
            var match = System.Text.RegularExpressions.Regex.Match(output, @"error    (\d+\.\d\d)% of 200 images");
            Assert.True(match.Success, output);
            // The file errs on 0.42% of MNIST's 10,000 test digits; the capsnet tests find at least 195 of these 200 right.
            Assert.InRange(double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 0, 2.5);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Missing_weight_file_is_a_one_line_error()
    {
        var (code, _, error) = Run("eval", "-w", "/nonexistent/w.safetensors");
        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.StartsWith("capsnet-torch: error:", error);
        Assert.Contains("w.safetensors", error);
    }

    [Fact]
    public void Fix_shim_refuses_a_file_that_is_not_elf_and_leaves_it()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "not a library");
            var (code, _, error) = Run("fix-shim", path, "--libstdcxx", path);
            Assert.Equal(1, code);
            Assert.Equal("capsnet-torch: error: not an ELF file", error.Trim());
            Assert.Equal("not a library", File.ReadAllText(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Init_from_and_resume_exclude_each_other()
    {
        var (code, _, error) = Run("train", "--init-from", "x.safetensors", "--resume");
        Assert.Equal(1, code);
        Assert.Contains("--init-from and --resume exclude each other", error);
    }

    [Theory]
    [InlineData("--routing", "0", "--routing must be in 1..10, got 0")]
    [InlineData("--reconstruction-weight", "-1", "--reconstruction-weight must be a finite number >= 0, got -1")]
    public void Bad_ablation_options_are_one_line_errors(string option, string value, string message)
    {
        var (code, _, error) = Run("train", option, value);
        Assert.Equal(1, code);
        Assert.Equal("capsnet-torch: error: " + message, error.Trim());
    }
}
