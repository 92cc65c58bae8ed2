using System.Globalization;
using CapsEmbedded.Cli.Figures;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.IO;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// <c>capsnet data fetch multimnist</c>, <c>capsnet eval</c>, <c>predict --top</c> and <c>reconstruct</c> on MultiMNIST, in process, on pairs generated from the
/// committed 200-digit fixture (no download).
/// </summary>
public sealed class MultiMnistCliTests() : TempDirectoryTest("capsnet-multimnist-cli-")
{
    /// <summary>A tiny network on 36×36 with 10 classes: the reference model runs it in milliseconds.</summary>
    private string Tiny36()
    {
        string path = P("tiny36.safetensors");
        var architecture = CapsNetArchitecture.Tiny with { InputSize = 36, Classes = 10 };
        AtomicFile.Write(path, CapsNetWeightsFile.Write(CapsNetWeights.CreateRandom(architecture, 3)));
        return path;
    }

    private void Fetch(params string[] flags)
    {
        CopyMnistFixture();
        CapsnetSucceeds(["data", "fetch", "multimnist", "--data-dir", Dir, .. flags]);
    }

    [Fact]
    public void Fetch_generates_from_the_MNIST_test_digits_a_rerun_is_up_to_date_and_another_seed_is_refused()
    {
        CopyMnistFixture();
        string output = CapsnetSucceeds("data", "fetch", "multimnist", "--data-dir", Dir, "--pairs-per-digit", "2", "--seed", "5");
        Assert.Contains("400 pairs (2 per digit of 200, seed 5)", output);
        string folder = P("multimnist");
        byte[] images = File.ReadAllBytes(Path.Combine(folder, MultiMnistStore.ImagesFileName));
        Assert.Equal(16 + 400 * 36 * 36, images.Length);

        var again = Capsnet("data", "fetch", "multimnist", "--data-dir", Dir, "--pairs-per-digit", "2", "--seed", "5");
        Assert.Contains("up to date", again.Output);

        AssertOneLineError(Capsnet("data", "fetch", "multimnist", "--data-dir", Dir, "--pairs-per-digit", "2", "--seed", "6"), "pass --force to replace");
        Assert.Equal(images, File.ReadAllBytes(Path.Combine(folder, MultiMnistStore.ImagesFileName)));
        string forced = CapsnetSucceeds("data", "fetch", "multimnist", "--data-dir", Dir, "--pairs-per-digit", "2", "--seed", "6", "--force");
        Assert.Contains("replaced", forced);

        AssertOneLineError(Capsnet("data", "fetch", "multimnist", "--data-dir", Dir, "--pairs-per-digit", "0"), "--pairs-per-digit must be at least 1");
        AssertOneLineError(Capsnet("data", "fetch", "multimnist", "--data-dir", Dir, "--pairs-per-digit", "100000"), "at most");
        AssertOneLineError(Capsnet("data", "fetch", "mnist", "--data-dir", Dir, "--seed", "3"), "apply to multimnist only");
    }

    /// <summary>(right, at least one right) of the first <paramref name="count"/> lines of a --dump-lengths file, counted by hand.</summary>
    private static (int Right, int AtLeastOne) HandCount(string[] lines, LabeledPairs set, int count)
    {
        int right = 0, atLeastOne = 0;
        for (int n = 0; n < count; n++)
        {
            float[] lengths = lines[n].Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(10, lengths.Length);
            var twoLongest = Enumerable.Range(0, 10).OrderByDescending(c => lengths[c]).ThenBy(c => c).Take(2).ToHashSet();
            int hits = set.GetLabels(n).ToArray().Count(label => twoLongest.Contains(label));
            if (hits == 2) right++;
            if (hits >= 1) atLeastOne++;
        }
        return (right, atLeastOne);
    }

    private static string Line(string name, int hits, int count) =>
        string.Create(CultureInfo.InvariantCulture, $"{name}{100.0 * hits / count:F2}% ({hits:N0}/{count:N0})");

    [Fact]
    public void Eval_prints_the_paper_metric_that_a_hand_count_of_the_dumped_lengths_gives()
    {
        // 21 × 200 = 4,200 pairs: more than one chunk of EvalCommand.PairChunk.
        Fetch("--pairs-per-digit", "21", "--seed", "5");
        string weights = Tiny36(), dump = P("lengths.txt");
        var (code, output, error) = Capsnet("eval", "--weights", weights, "--data", "multimnist", "--data-dir", Dir,
            "--dump-lengths", dump, "--threads", "2");
        Assert.True(code == 0, error);
        Assert.Contains("4,200 images of two digits", output);

        var set = MultiMnistStore.Load("multimnist", Dir);
        string[] lines = File.ReadAllLines(dump);
        Assert.Equal(4200, lines.Length);
        var (right, atLeastOne) = HandCount(lines, set, 4200);
        Assert.Contains(Line("error    ", 4200 - right, 4200), output);
        Assert.Contains(Line("one      ", atLeastOne, 4200), output);

        // Any folder with the two files is a MultiMNIST set; the recipes are not needed.
        string own = P("own");
        Directory.CreateDirectory(own);
        foreach (string name in new[] { MultiMnistStore.ImagesFileName, MultiMnistStore.LabelsFileName })
            File.Copy(Path.Combine(P("multimnist"), name), Path.Combine(own, name));
        string fromFolder = CapsnetSucceeds("eval", "--weights", weights, "--data", own, "--limit", "40", "--threads", "1");
        (right, atLeastOne) = HandCount(lines, set, 40);
        Assert.Contains(Line("error    ", 40 - right, 40), fromFolder);
        Assert.Contains(Line("one      ", atLeastOne, 40), fromFolder);
    }

    [Fact]
    public void Eval_refuses_weights_of_another_input_size_a_train_split_a_plot_and_a_missing_set()
    {
        AssertOneLineError(Capsnet("eval", "--data", "multimnist", "--data-dir", Dir), "capsnet data fetch multimnist");
        Fetch("--pairs-per-digit", "1");
        // The compiled MNIST model is 28×28 (--data multimnist alone picks the 36×36 model).
        AssertOneLineError(Capsnet("eval", "--data", "multimnist", "--model", "mnist", "--data-dir", Dir, "--limit", "2"), "holds 36x36 images; the model");
        AssertOneLineError(Capsnet("eval", "--data", "multimnist", "--data-dir", Dir, "--split", "train"), "no train split");
        AssertOneLineError(Capsnet("eval", "--data", "multimnist", "--data-dir", Dir, "--plot", P("c.png")), "--plot");
    }

    [Fact]
    public void Eval_of_a_folder_of_pairs_runs_the_compiled_MultiMnist_model_as_data_multimnist_does()
    {
        Fetch("--pairs-per-digit", "1");
        var byName = Capsnet("eval", "--data", "multimnist", "--data-dir", Dir, "--limit", "3", "--threads", "1");
        var byFolder = Capsnet("eval", "--data", Path.Combine(Dir, "multimnist"), "--limit", "3", "--threads", "1");
        Assert.True(byName.Code == 0, byName.Error);
        Assert.True(byFolder.Code == 0, byFolder.Error);
        Assert.Contains("compiled MultiMnistCapsNet", byFolder.Output);
        string Error(string output) => output.Split('\n').Single(l => l.StartsWith("error ", StringComparison.Ordinal));
        Assert.Equal(Error(byName.Output), Error(byFolder.Output));
    }

    [Fact]
    public void Eval_runs_a_36x36_file_from_init_arch_multimnist_on_the_compiled_MultiMnist_model_or_the_reference()
    {
        Fetch("--pairs-per-digit", "1");
        string weights = P("multimnist.safetensors");
        Assert.Equal(0, Capsnet("init", "--arch", "multimnist", "--seed", "2", "--out", weights).Code);
        // Without --model the file runs on the compiled model of its architecture; --engine reference on the spec.
        var (code, output, error) = Capsnet("eval", "--weights", weights, "--data", "multimnist", "--data-dir", Dir, "--limit", "2");
        Assert.True(code == 0, error);
        Assert.Contains("compiled MultiMnistCapsNet", output);
        Assert.Matches(@"error    \d+\.\d\d% \([0-2]/2\)", output);
        var reference = Capsnet("eval", "--weights", weights, "--data", "multimnist", "--data-dir", Dir, "--limit", "2", "--engine", "reference");
        Assert.True(reference.Code == 0, reference.Error);
        Assert.Contains("scalar reference model", reference.Output);
        // reconstruct follows the file's architecture too (it used to run MNIST's model and refuse the 36x36 pairs).
        string drawn = CapsnetSucceeds("reconstruct", "--weights", weights, "--data", "multimnist", "--data-dir", Dir, "--count", "2", "--out", P("w.png"));
        Assert.Contains("2 pairs from 0", drawn);
    }

    /// <summary>Pair <paramref name="index"/> of the fetched set as a PNG (a gray raster) and as a binary PGM.</summary>
    private (string Png, string Pgm) PairImages(int index)
    {
        var set = MultiMnistStore.Load("multimnist", Dir);
        var raster = new Raster(set.Cols, set.Rows);
        var pixels = set.GetImage(index);
        for (int p = 0; p < pixels.Length; p++) raster.Set(p % set.Cols, p / set.Cols, new Rgb(pixels[p], pixels[p], pixels[p]));
        string png = P($"pair{index}.png"), pgm = P($"pair{index}.pgm");
        PngFile.Write(png, raster, overwrite: false);
        File.WriteAllBytes(pgm, [.. System.Text.Encoding.ASCII.GetBytes($"P5\n{set.Cols} {set.Rows}\n255\n"), .. pixels]);
        return (png, pgm);
    }

    /// <summary>The "top k    length  class" lines of predict's output: (class, length) per rank.</summary>
    private static (int Class, float Length)[] TopLines(string output) => output.ReplaceLineEndings("\n").Split('\n')
        .Where(l => l.StartsWith("top ", StringComparison.Ordinal))
        .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        .Select(f => (int.Parse(f[3], CultureInfo.InvariantCulture), float.Parse(f[2], CultureInfo.InvariantCulture))).ToArray();

    private static float[] LengthsLine(string output) => output.ReplaceLineEndings("\n").Split('\n')
        .Single(l => l.StartsWith("lengths  ", StringComparison.Ordinal))["lengths  ".Length..]
        .Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void Predict_top_lists_the_k_longest_capsules_longest_first_and_top_1_is_the_plain_output()
    {
        string digit = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist", "digit0-gray.png");
        string plain = CapsnetSucceeds("predict", digit);
        Assert.Equal(plain, Capsnet("predict", "--top", "1", digit).Output);

        string output = CapsnetSucceeds("predict", "--top", "3", digit);
        Assert.DoesNotContain("class ", output);
        var top = TopLines(output);
        float[] lengths = LengthsLine(output);
        Assert.Equal(3, top.Length);
        Assert.Contains($"class    {top[0].Class}\n", plain.ReplaceLineEndings("\n"));
        var expected = Enumerable.Range(0, 10).OrderByDescending(c => lengths[c]).ThenBy(c => c).Take(3).ToArray();
        Assert.Equal(expected, top.Select(t => t.Class));
        Assert.Equal(expected.Select(c => lengths[c]), top.Select(t => t.Length));
        Assert.StartsWith("top 1    ", output);

        AssertOneLineError(Capsnet("predict", "--top", "0", digit), "--top must be at least 1, got 0");
        AssertOneLineError(Capsnet("predict", "--top", "11", digit), "--top 11 asks for more capsules than the model's 10 classes");
    }

    [Fact]
    public void Predict_model_multimnist_reads_a_36x36_pair_lists_two_capsules_by_default_and_refuses_28x28()
    {
        Fetch("--pairs-per-digit", "1");
        var (png, pgm) = PairImages(0);
        string output = CapsnetSucceeds("predict", "--model", "multimnist", png);
        var top = TopLines(output);
        Assert.Equal(2, top.Length);
        Assert.True(top[0].Length >= top[1].Length);
        Assert.NotEqual(top[0].Class, top[1].Class);
        Assert.Equal(10, LengthsLine(output).Length);
        // PGM and PNG of the same pixels: the same answer; --top 1 is the one-class output.
        Assert.Equal(output, Capsnet("predict", "--model", "multimnist", pgm).Output);
        Assert.Contains($"class    {top[0].Class}\n", Capsnet("predict", "-m", "multimnist", "--top", "1", pgm).Output.ReplaceLineEndings("\n"));
        Assert.Equal(3, TopLines(Capsnet("predict", "-m", "multimnist", "--top", "3", png, pgm).Output).Length / 2);

        string digit = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist", "digit0-gray.png");
        AssertOneLineError(Capsnet("predict", "--model", "multimnist", digit), "is 28x28; the model needs 36x36");
        AssertOneLineError(Capsnet("predict", png), "is 36x36; the model needs 28x28");
    }

    private static Rgb At(StbImageSharp.ImageResult image, int x, int y)
    {
        int i = (y * image.Width + x) * 3;
        return new Rgb(image.Data[i], image.Data[i + 1], image.Data[i + 2]);
    }

    [Fact]
    public void Reconstruct_data_multimnist_draws_each_pair_beside_its_two_capsules_digits_in_red_and_green()
    {
        Fetch("--pairs-per-digit", "1");
        string png = P("fig5.png");
        string output = CapsnetSucceeds("reconstruct", "--data", "multimnist", "--data-dir", Dir,
            "--start", "3", "--count", "4", "--columns", "2", "--scale", "1", "--out", png);
        Assert.Contains("4 pairs from 3", output);
        var image = StbImageSharp.ImageResult.FromMemory(File.ReadAllBytes(png), StbImageSharp.ColorComponents.RedGreenBlue);
        const int side = 36;
        var (lastX, lastY) = FigureRenderer.PairCell(side, 1, 2, 3);
        Assert.Equal(lastY + side + 2 * FigureRenderer.LineHeight + 2 * FigureRenderer.Pad, image.Height);
        Assert.True(image.Width >= lastX + 2 * side + 2 * FigureRenderer.Pad);

        // Pair 4 (second cell), pixel for pixel: the input in gray, and beside it the digits the compiled model decodes
        // from its two longest capsules, each alone, drawn over the dimmed input as FigureRenderer.Pairs does.
        var set = MultiMnistStore.Load("multimnist", Dir);
        var input = new float[side * side];
        set.CopyImage(4, input);
        using var session = CapsEmbedded.Models.CompiledModel.MultiMnist.Open(weightsPath: null);
        var (lengths, capsules) = (new float[10], new float[10 * 16]);
        session.Predict(input, lengths, capsules);
        var two = new int[2];
        CapsEmbedded.Runtime.TopK.Longest(lengths, two);
        var (first, second) = (new float[side * side], new float[side * side]);
        session.Reconstruct(capsules, two[0], first);
        session.Reconstruct(capsules, two[1], second);
        var expected = new Raster(side, side);
        expected.Overlay(input, FigureRenderer.PairBackground, side, 0, 0, 1, (first, FigureRenderer.LongestColor), (second, FigureRenderer.SecondColor));
        var (x, y) = FigureRenderer.PairCell(side, 1, 2, 1);
        for (int p = 0; p < side * side; p++)
        {
            Assert.Equal(set.GetImage(4)[p], At(image, x + p % side, y + p / side).R);
            Assert.Equal(expected[p % side, p / side], At(image, x + side + FigureRenderer.Pad + p % side, y + p / side));
        }
        // Where the longest capsule's digit is drawn and the second's is not, the pixel is red; the other way, green.
        int redAt = Enumerable.Range(0, side * side).MaxBy(p => first[p] - second[p]);
        int greenAt = Enumerable.Range(0, side * side).MaxBy(p => second[p] - first[p]);
        var red = At(image, x + side + FigureRenderer.Pad + redAt % side, y + redAt / side);
        var green = At(image, x + side + FigureRenderer.Pad + greenAt % side, y + greenAt / side);
        Assert.True(red.R > red.G, $"{red} at the longest capsule's digit");
        Assert.True(green.G > green.R, $"{green} at the second capsule's digit");

        // --model multimnist alone reads its own data set, the pairs.
        string own = CapsnetSucceeds("reconstruct", "--model", "multimnist", "--data-dir", Dir, "--count", "2", "--out", P("own.png"));
        Assert.Contains("2 pairs from 0", own);
    }

    [Fact]
    public void Reconstruct_refuses_a_28x28_model_on_pairs_a_train_split_a_range_past_the_set_and_a_missing_set()
    {
        AssertOneLineError(Capsnet("reconstruct", "--data", "multimnist", "--data-dir", Dir, "--out", P("a.png")), "capsnet data fetch multimnist");
        Fetch("--pairs-per-digit", "1");
        AssertOneLineError(Capsnet("reconstruct", "--data", "multimnist", "--model", "mnist", "--data-dir", Dir, "--out", P("b.png")),
            "multimnist holds 36x36 images; the model (mnist) needs 28x28 (use --model multimnist)");
        AssertOneLineError(Capsnet("reconstruct", "--model", "multimnist", "--data", "mnist", "--data-dir", Dir, "--out", P("c.png")),
            "mnist holds 28x28 images; the model (multimnist) needs 36x36 (use --model mnist)");
        CopyFashionFixture();
        AssertOneLineError(Capsnet("reconstruct", "--model", "multimnist", "--data", "fashion", "--data-dir", Dir, "--out", P("c.png")),
            "fashion holds 28x28 images; the model (multimnist) needs 36x36 (use --model fashion)");
        AssertOneLineError(Capsnet("reconstruct", "--data", "multimnist", "--data-dir", Dir, "--split", "train", "--out", P("d.png")), "no train split");
        AssertOneLineError(Capsnet("reconstruct", "--data", "multimnist", "--data-dir", Dir, "--start", "199", "--count", "2", "--out", P("e.png")),
            "--start 199 with --count 2 needs images 199..200; multimnist has 200 (0..199)");
        AssertOneLineError(Capsnet("reconstruct", "--data", "multimnist", "--data-dir", Dir, "--start", "200", "--out", P("f.png")), "--start 200 is outside");
        AssertOneLineError(Capsnet("tweak", "--data", "multimnist", "--data-dir", Dir, "--out", P("g.png")), "capsnet tweak draws one-digit sets");
        Assert.False(File.Exists(P("b.png")));
    }
}
