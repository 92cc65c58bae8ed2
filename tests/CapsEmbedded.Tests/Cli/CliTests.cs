using System.Globalization;
using CapsEmbedded.Cli;
using CapsEmbedded.Weights;
using Xunit;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// <c>capsnet</c> end to end through <see cref="CapsNetCli.Run"/>: exit codes, one-line errors, files written or kept.
/// Uses the paper network with random weights and the committed 200-digit fixture (no download).
/// </summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("capsnet-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (int Code, string Output, string Error) Capsnet(params string[] args)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = CapsNetCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    internal static (int Code, string Output, string Error) CapsnetProcess(params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(CapsEmbedded.Tests.Kernels.ChildProcessTierTests.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "capsnet.dll"));
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using var process = System.Diagnostics.Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "capsnet did not finish within 2 minutes");
        return (process.ExitCode, output, error.Result);
    }

    private string PaperWeights()
    {
        string path = Path.Combine(_dir, "paper.safetensors");
        if (!File.Exists(path)) Assert.Equal(0, Capsnet("init", "--seed", "7", "--out", path).Code);
        return path;
    }

    private static void AssertOneLineError(string error, string mustContain)
    {
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("capsnet: error: ", lines[0]);
        Assert.Contains(mustContain, lines[0]);
        Assert.DoesNotContain("   at ", error); // no stack trace
    }

    [Fact]
    public void Init_writes_the_seeded_network_and_info_describes_it()
    {
        string path = PaperWeights();
        var expected = CapsNetWeights.CreateRandom(CapsNetArchitecture.Paper, 7);
        var loaded = CapsNetWeightsFile.Load(path);
        Assert.Equal(expected.DigitWeight, loaded.DigitWeight);
        Assert.Equal(expected.Fc3Bias, loaded.Fc3Bias);

        var (code, output, error) = Capsnet("info", path);
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains("primary_caps.weight    [256,256,9,9]", output);
        Assert.Contains("8,215,568", output);                 // parameters
        Assert.Contains("203,202,560", output);               // multiply-adds per image
        Assert.Contains("capsnet.init = random seed=7", output);
    }

    [Fact]
    public void Init_refuses_to_overwrite_and_keeps_the_old_file()
    {
        string path = Path.Combine(_dir, "keep.safetensors");
        File.WriteAllText(path, "precious");
        var (code, _, error) = Capsnet("init", "--out", path);
        Assert.Equal(1, code);
        AssertOneLineError(error, "--force");
        Assert.Equal("precious", File.ReadAllText(path));
    }

    [Fact]
    public void Info_on_a_corrupt_file_names_the_file_in_one_line()
    {
        string path = Path.Combine(_dir, "corrupt.safetensors");
        File.WriteAllBytes(path, [16, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'"', (byte)'a']);
        var (code, _, error) = Capsnet("info", path);
        Assert.Equal(1, code);
        AssertOneLineError(error, "corrupt.safetensors");
    }

    [Fact]
    public void Missing_files_and_bad_flags_are_clear_errors()
    {
        var missing = Capsnet("info", Path.Combine(_dir, "nope.safetensors"));
        Assert.Equal(1, missing.Code);
        AssertOneLineError(missing.Error, "nope.safetensors: no such file");

        var limit = Capsnet("eval", "--weights", PaperWeights(), "--limit", "0", "--data", _dir);
        Assert.Equal(1, limit.Code);
        AssertOneLineError(limit.Error, "--limit must be at least 1");

        var unknown = Capsnet("eval", "--no-such-flag");
        Assert.NotEqual(0, unknown.Code);
        Assert.Contains("--no-such-flag", unknown.Error);

        var noData = Capsnet("eval", "--weights", PaperWeights(), "--data", Path.Combine(_dir, "empty"), "--engine", "reference");
        Assert.Equal(1, noData.Code);
        Assert.StartsWith("capsnet: error: ", noData.Error);
    }

    [Fact]
    public void Eval_on_the_fixture_reports_accuracy_and_dumps_lengths()
    {
        string data = Path.Combine(_dir, "mnist");
        Directory.CreateDirectory(data);
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist");
        File.Copy(Path.Combine(fixtures, "t10k-200-images-idx3-ubyte"), Path.Combine(data, "t10k-images-idx3-ubyte"));
        File.Copy(Path.Combine(fixtures, "t10k-200-labels-idx1-ubyte"), Path.Combine(data, "t10k-labels-idx1-ubyte"));
        string dump = Path.Combine(_dir, "lengths.txt");

        var (code, output, error) = Capsnet("eval", "--weights", PaperWeights(), "--data", data, "--limit", "3",
            "--engine", "reference", "--dump-lengths", dump);
        Assert.True(code == 0, error);
        Assert.Contains("3 images", output);
        Assert.Matches(@"accuracy\s+\d+\.\d\d% \(\d/3\)", output);
        Assert.Contains("confusion matrix", output);

        var lines = File.ReadAllLines(dump);
        Assert.Equal(3, lines.Length);
        foreach (var line in lines)
        {
            var values = line.Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(10, values.Length);
            Assert.All(values, v => Assert.InRange(v, 0f, 1f)); // a squashed capsule is shorter than 1
        }
    }

    [Fact]
    public void Predict_classifies_a_png_and_rejects_other_sizes()
    {
        string weights = PaperWeights();
        string png = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist", "digit0-gray.png");
        var (code, output, error) = Capsnet("predict", "--weights", weights, "--engine", "reference", png);
        Assert.True(code == 0, error);
        Assert.Matches(@"class\s+\d", output);
        Assert.Matches(@"lengths(\s+\d\.\d{6}){10}", output);

        string small = Path.Combine(_dir, "small.pgm");
        File.WriteAllText(small, "P2\n3 2\n255\n0 1 2\n3 4 5\n");
        var wrongSize = Capsnet("predict", "--weights", weights, "--engine", "reference", small);
        Assert.Equal(1, wrongSize.Code);
        AssertOneLineError(wrongSize.Error, "is 3x2; the model needs 28x28");
    }

    [Fact]
    public void Bench_reports_latency_tier_and_zero_allocation_as_json()
    {
        // In its own process, as a user runs it: inside the test host, other tests keep the JIT busy and its tier-up
        // bookkeeping can allocate on the calling thread in the timed window.
        var (code, output, error) = CapsnetProcess("bench", "--warmup", "150", "--runs", "5", "--json");
        Assert.True(code == 0, error);
        Assert.Matches("\"tier\":\"Vector(512|256|128)\"", output);
        Assert.Matches("\"p50_ms\":[0-9.]+", output);
        Assert.Contains("\"allocated_bytes_per_image\":0}", output);

        var batch = Capsnet("bench", "--warmup", "1", "--runs", "2", "--batch", "4", "--threads", "2");
        Assert.True(batch.Code == 0, batch.Error);
        Assert.Contains("batch 4, threads 2", batch.Output);
        Assert.Matches(@"allocated  [0-9.]+ bytes per image", batch.Output); // process-wide: other tests allocate meanwhile

        var forced = Capsnet("bench", "--warmup", "0", "--runs", "1", "--tier", "Vector128", "--json");
        Assert.True(forced.Code == 0, forced.Error);
        Assert.Contains("\"tier\":\"Vector128\"", forced.Output);

        var bad = Capsnet("bench", "--runs", "0");
        Assert.Equal(1, bad.Code);
        AssertOneLineError(bad.Error, "--runs must be at least 1");
    }

    [Fact]
    public void Generated_and_reference_engines_agree_on_a_loaded_file()
    {
        string weights = PaperWeights();
        string png = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist", "digit0-gray.png");
        var generated = Capsnet("predict", "--weights", weights, png);
        var reference = Capsnet("predict", "--weights", weights, "--engine", "reference", png);
        Assert.True(generated.Code == 0, generated.Error);
        Assert.True(reference.Code == 0, reference.Error);
        Assert.Equal(reference.Output, generated.Output); // class and lengths to 6 decimals

        string tiny = Path.Combine(_dir, "tiny.safetensors");
        Assert.Equal(0, Capsnet("init", "--arch", "tiny", "--out", tiny).Code);
        var mismatch = Capsnet("predict", "--weights", tiny, "--engine", "generated", png);
        Assert.Equal(1, mismatch.Code);
        AssertOneLineError(mismatch.Error, "the compiled model is 28x28x1");
    }
}
