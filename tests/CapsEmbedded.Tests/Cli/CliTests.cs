using System.Globalization;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// <c>capsnet</c> end to end through <see cref="CapsNetCli.Run"/>: exit codes, one-line errors, files written or kept.
/// Uses the paper network with random weights and the committed 200-digit fixture (no download).
/// </summary>
public sealed class CliTests() : TempDirectoryTest("capsnet-cli-")
{
    private string PaperWeights() => InitOnce(P("paper.safetensors"), seed: 7, arch: "paper");

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
    public void Init_from_carries_a_28x28_network_to_the_multimnist_canvas_and_refuses_other_architectures()
    {
        string source = PaperWeights(), moved = P("moved.safetensors"), tiny = P("never.safetensors");
        Assert.Equal(0, Capsnet("init", "--arch", "multimnist", "--from", source, "--out", moved).Code);
        var loaded = CapsNetWeightsFile.Load(moved);
        Assert.Equal(CapsNetArchitecture.MultiMnist, loaded.Architecture);
        Assert.Equal(CapsNetWeightsFile.Load(source).PrimaryWeight, loaded.PrimaryWeight);
        Assert.StartsWith("canvas transfer from paper.safetensors sha256 ", loaded.Metadata["capsnet.init"]);
        AssertOneLineError(Capsnet("init", "--arch", "tiny", "--from", source, "--out", tiny), "only the input size may differ");
        Assert.False(File.Exists(tiny));
    }

    [Fact]
    public void Init_refuses_to_overwrite_and_keeps_the_old_file()
    {
        string path = P("keep.safetensors");
        File.WriteAllText(path, "precious");
        AssertOneLineError(Capsnet("init", "--out", path), "--force");
        Assert.Equal("precious", File.ReadAllText(path));
    }

    [Fact]
    public void Info_on_a_corrupt_file_names_the_file_in_one_line()
    {
        string path = P("corrupt.safetensors");
        File.WriteAllBytes(path, [16, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'"', (byte)'a']);
        AssertOneLineError(Capsnet("info", path), "corrupt.safetensors");
    }

    [Fact]
    public void Missing_files_and_bad_flags_are_clear_errors()
    {
        AssertOneLineError(Capsnet("info", P("nope.safetensors")), "nope.safetensors: no such file");

        AssertOneLineError(Capsnet("eval", "--weights", PaperWeights(), "--limit", "0", "--data", Dir), "--limit must be at least 1");

        var unknown = Capsnet("eval", "--no-such-flag");
        Assert.NotEqual(0, unknown.Code);
        Assert.Contains("--no-such-flag", unknown.Error);

        var noData = Capsnet("eval", "--weights", PaperWeights(), "--data", P("empty"), "--engine", "reference");
        Assert.Equal(1, noData.Code);
        Assert.StartsWith("capsnet: error: ", noData.Error);
    }

    [Fact]
    public void Eval_on_the_fixture_reports_accuracy_and_dumps_lengths()
    {
        string data = CopyMnistFixture();
        string dump = P("lengths.txt");

        string output = CapsnetSucceeds("eval", "--weights", PaperWeights(), "--data", data, "--limit", "3",
            "--engine", "reference", "--dump-lengths", dump);
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
        string output = CapsnetSucceeds("predict", "--weights", weights, "--engine", "reference", png);
        Assert.Matches(@"class\s+\d", output);
        Assert.Matches(@"lengths(\s+\d\.\d{6}){10}", output);

        string small = P("small.pgm");
        File.WriteAllText(small, "P2\n3 2\n255\n0 1 2\n3 4 5\n");
        AssertOneLineError(Capsnet("predict", "--weights", weights, "--engine", "reference", small), "is 3x2; the model needs 28x28");
    }

    [Fact]
    public void Predict_classifies_several_images_in_one_run_and_reports_a_bad_one_without_stopping()
    {
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist");
        string png = Path.Combine(fixtures, "digit0-gray.png"), pgm = Path.Combine(fixtures, "digit0.pgm");
        string small = P("small.pgm");
        File.WriteAllText(small, "P2\n3 2\n255\n0 1 2\n3 4 5\n");
        var (code, output, error) = Capsnet("predict", png, small, pgm);
        Assert.Equal(1, code); // one image could not be classified
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length); // two blocks of image, class, lengths
        Assert.Equal($"image    {png}", lines[0]);
        Assert.Equal("class    7", lines[1]); // fixture digit 0 is a 7
        Assert.Equal($"image    {pgm}", lines[3]);
        Assert.Equal(lines[1..3], lines[4..6]); // the PNG and the PGM hold the same digit
        Assert.Single(error.Trim().Split('\n'));
        Assert.StartsWith($"capsnet: error: {small}", error);
        Assert.Contains("is 3x2; the model needs 28x28", error);

        // The same images one by one give the same blocks.
        var one = Capsnet("predict", pgm);
        Assert.True(one.Code == 0, one.Error);
        Assert.Equal(string.Join("\n", lines[4..6]), one.Output.Trim().ReplaceLineEndings("\n"));

        AssertOneLineError(Capsnet("predict", "--reconstruction", P("r.pgm"), png, pgm), "--reconstruction takes one image; 2 were given");
        Assert.False(File.Exists(P("r.pgm")));
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

        string batch = CapsnetSucceeds("bench", "--warmup", "1", "--runs", "2", "--batch", "4", "--threads", "2");
        Assert.Contains("batch 4, threads 2", batch);
        Assert.Matches(@"allocated  [0-9.]+ bytes per image", batch); // process-wide: other tests allocate meanwhile

        string forced = CapsnetSucceeds("bench", "--warmup", "0", "--runs", "1", "--tier", "Vector128", "--json");
        Assert.Contains("\"tier\":\"Vector128\"", forced);

        AssertOneLineError(Capsnet("bench", "--runs", "0"), "--runs must be at least 1");

        // --data: test digits taken in turn (200 in the fixture, a pool of 256: the first 56 twice).
        string mnist = CopyMnistFixture();
        string digits = CapsnetSucceeds("bench", "--warmup", "1", "--runs", "3", "--data", mnist, "--json");
        Assert.Contains("\"images\":\"" + mnist + " test\"", digits);
        Assert.Contains("\"images\":\"synthetic\"", Capsnet("bench", "--warmup", "0", "--runs", "1", "--json").Output);
        AssertOneLineError(Capsnet("bench", "--data", P("missing")), "no IDX data set in");
    }

    [Fact]
    public void Bench_worst_case_skips_fewer_zero_columns_than_any_test_digit_and_reports_the_tail()
    {
        string mnist = CopyMnistFixture();
        var digits = Capsnet("bench", "--warmup", "0", "--runs", "2", "--data", mnist, "--json");
        Assert.True(digits.Code == 0, digits.Error);
        var worst = Capsnet("bench", "--warmup", "0", "--runs", "2", "--worst-case", "--json");
        Assert.True(worst.Code == 0, worst.Error);
        foreach (string field in new[] { "p999_ms", "max_ms", "cpu_p50_ms", "cpu_p99_ms", "timer_step_ns" })
        {
            Assert.Matches($"\"{field}\":[0-9.]+", worst.Output);
        }

        Assert.Matches("\"worst_case\":\"worst case [0-9,]+ zero columns of 124,416 tile-columns", worst.Output);
        double Share(string json, string name) => double.Parse(
            System.Text.RegularExpressions.Regex.Match(json, $"\"{name}\":([0-9.Ee-]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        // The search's image leaves less to skip than the densest test digit of the fixture.
        Assert.True(Share(worst.Output, "zero_column_share_max") < Share(digits.Output, "zero_column_share_min"),
            $"worst case {worst.Output} against digits {digits.Output}");
        AssertOneLineError(Capsnet("bench", "--worst-case", "--data", mnist), "--worst-case times one constructed image; drop --data");
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

        string tiny = P("tiny.safetensors");
        Assert.Equal(0, Capsnet("init", "--arch", "tiny", "--out", tiny).Code);
        AssertOneLineError(Capsnet("predict", "--weights", tiny, "--engine", "generated", png), "the compiled model is 28x28x1");
    }
}
