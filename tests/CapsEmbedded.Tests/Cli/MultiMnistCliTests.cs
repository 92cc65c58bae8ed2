using System.Globalization;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.IO;
using CapsEmbedded.Tests.TestSupport;
using CapsEmbedded.Weights;
using static CapsEmbedded.Tests.TestSupport.CliRun;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// <c>capsnet data fetch multimnist</c> and <c>capsnet eval</c> on MultiMNIST, in process, on pairs generated from the
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
        var (code, _, error) = Capsnet(["data", "fetch", "multimnist", "--data-dir", Dir, .. flags]);
        Assert.True(code == 0, error);
    }

    [Fact]
    public void Fetch_generates_from_the_MNIST_test_digits_a_rerun_is_up_to_date_and_another_seed_is_refused()
    {
        CopyMnistFixture();
        var (code, output, error) = Capsnet("data", "fetch", "multimnist", "--data-dir", Dir, "--pairs-per-digit", "2", "--seed", "5");
        Assert.True(code == 0, error);
        Assert.Contains("400 pairs (2 per digit of 200, seed 5)", output);
        string folder = P("multimnist");
        byte[] images = File.ReadAllBytes(Path.Combine(folder, MultiMnistStore.ImagesFileName));
        Assert.Equal(16 + 400 * 36 * 36, images.Length);

        var again = Capsnet("data", "fetch", "multimnist", "--data-dir", Dir, "--pairs-per-digit", "2", "--seed", "5");
        Assert.Contains("up to date", again.Output);

        AssertOneLineError(Capsnet("data", "fetch", "multimnist", "--data-dir", Dir, "--pairs-per-digit", "2", "--seed", "6"), "pass --force to replace");
        Assert.Equal(images, File.ReadAllBytes(Path.Combine(folder, MultiMnistStore.ImagesFileName)));
        var forced = Capsnet("data", "fetch", "multimnist", "--data-dir", Dir, "--pairs-per-digit", "2", "--seed", "6", "--force");
        Assert.True(forced.Code == 0, forced.Error);
        Assert.Contains("replaced", forced.Output);

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
        var fromFolder = Capsnet("eval", "--weights", weights, "--data", own, "--limit", "40", "--threads", "1");
        Assert.True(fromFolder.Code == 0, fromFolder.Error);
        (right, atLeastOne) = HandCount(lines, set, 40);
        Assert.Contains(Line("error    ", 40 - right, 40), fromFolder.Output);
        Assert.Contains(Line("one      ", atLeastOne, 40), fromFolder.Output);
    }

    [Fact]
    public void Eval_refuses_weights_of_another_input_size_a_train_split_a_plot_and_a_missing_set()
    {
        AssertOneLineError(Capsnet("eval", "--data", "multimnist", "--data-dir", Dir), "capsnet data fetch multimnist");
        Fetch("--pairs-per-digit", "1");
        // The compiled MNIST model is 28×28.
        AssertOneLineError(Capsnet("eval", "--data", "multimnist", "--data-dir", Dir, "--limit", "2"), "holds 36x36 images; the model");
        AssertOneLineError(Capsnet("eval", "--data", "multimnist", "--data-dir", Dir, "--split", "train"), "no train split");
        AssertOneLineError(Capsnet("eval", "--data", "multimnist", "--data-dir", Dir, "--plot", P("c.png")), "--plot");
    }

    [Fact]
    public void Eval_runs_the_paper_sized_36x36_network_from_init_arch_multimnist()
    {
        Fetch("--pairs-per-digit", "1");
        string weights = P("multimnist.safetensors");
        Assert.Equal(0, Capsnet("init", "--arch", "multimnist", "--seed", "2", "--out", weights).Code);
        var (code, output, error) = Capsnet("eval", "--weights", weights, "--data", "multimnist", "--data-dir", Dir, "--limit", "2");
        Assert.True(code == 0, error);
        Assert.Contains("scalar reference model", output);
        Assert.Matches(@"error    \d+\.\d\d% \([0-2]/2\)", output);
    }
}
