using CapsEmbedded.Cli;
using System.Globalization;
using CapsEmbedded.Quantization;
using CapsEmbedded.Runtime;
using CapsEmbedded.Tests.Onnx;

namespace CapsEmbedded.Tests.Quantization;

/// <summary><c>capsnet quantize</c> and <c>--precision int8</c> end to end through <see cref="CapsNetCli.Run"/>.</summary>
public sealed class QuantizeCommandTests() : TempDirectoryTest("capsnet-int8-")
{
    [Fact]
    public void Quantize_ThenEvalAndPredictInInt8_AndOneLineErrors()
    {
        // The 200 fixture digits serve as both "train" (calibration) and test split.
        string data = CopyMnistFixtureAsTrainAndTest();
        string paper = OnnxExportTests.FindRepositoryFile("weights", "mnist.safetensors");
        string int8 = P("mnist.int8.safetensors");

        var quantize = Capsnet("quantize", "--weights", paper, "--calibrate", data, "--images", "50", "--out", int8);
        Assert.True(quantize.Code == 0, quantize.Error);
        Assert.Contains("clip at 99.999%", quantize.Output);
        Assert.Equal(QuantizedCapsNetWeights.Scheme, QuantizedWeightsFile.Load(int8).Metadata[QuantizedCapsNetWeights.SchemeKey]);

        var again = Capsnet("quantize", "--weights", paper, "--calibrate", data, "--out", int8);
        Assert.Equal(1, again.Code);
        Assert.Contains("--force", again.Error); // an existing file is kept

        var eval = Capsnet("eval", "--precision", "int8", "--weights", int8, "--data", data, "--limit", "12", "--threads", "2");
        Assert.True(eval.Code == 0, eval.Error);
        Assert.Contains("int8 QuantizedCapsNet", eval.Output);
        Assert.Matches(@"accuracy\s+100\.00% \(12/12\)", eval.Output);

        string digit = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist", "digit0.pgm");
        var predict = Capsnet("predict", "--precision", "int8", "--weights", int8, digit);
        Assert.True(predict.Code == 0, predict.Error);
        Assert.Contains("class    7", predict.Output);

        var noWeights = Capsnet("predict", "--precision", "int8", digit);
        Assert.Equal(1, noWeights.Code);
        Assert.Contains("--precision int8 needs --weights", noWeights.Error);
        var floatFile = Capsnet("predict", "--precision", "int8", "--weights", paper, digit);
        Assert.Equal(1, floatFile.Code);
        Assert.Contains("not a quantised one", floatFile.Error);
        var int8AsFloat = Capsnet("predict", "--weights", int8, digit);
        Assert.Equal(1, int8AsFloat.Code);
        Assert.Contains("int8-quantised weight file", int8AsFloat.Error);
        var badPercentile = Capsnet("quantize", "--weights", paper, "--calibrate", data, "--percentile", "0", "--out", P("x"));
        Assert.Equal(1, badPercentile.Code);
        Assert.Contains("--percentile", badPercentile.Error);

        var bench = Capsnet("bench", "--precision", "int8", "--weights", int8, "--warmup", "1", "--runs", "2");
        Assert.True(bench.Code == 0, bench.Error);
        Assert.Contains("ratio      int8 / float32", bench.Output);
        Assert.Contains("cpu time   p50 float32", bench.Output);
        var digits = Capsnet("bench", "--precision", "int8", "--weights", int8, "--warmup", "1", "--runs", "2", "--data", data);
        Assert.True(digits.Code == 0, digits.Error);
        Assert.Contains($"{data} test images", digits.Output); // both models timed on the same test digits
        foreach (string line in new[] { noWeights.Error, floatFile.Error, int8AsFloat.Error })
            Assert.Single(line.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Quantize_multimnist_calibrates_on_composed_pairs_and_int8_eval_and_predict_read_the_two_longest_capsules()
    {
        // The 200 fixture digits serve as MNIST's train split (calibration pairs are composed from it) and test split.
        string mnist = CopyMnistFixtureAsTrainAndTest();
        string paper = OnnxExportTests.FindRepositoryFile("weights", "multimnist.safetensors");
        string int8 = P("multimnist.int8.safetensors");

        var wrongSize = Capsnet("quantize", "--weights", paper, "--calibrate", "mnist", "--data-dir", Dir, "--out", int8);
        Assert.Equal(1, wrongSize.Code);
        Assert.Contains("mnist holds 28x28 images; the model needs 36x36x1 (--calibrate multimnist composes them from MNIST's training digits)", wrongSize.Error);
        var quantize = Capsnet("quantize", "--weights", paper, "--calibrate", "multimnist", "--data-dir", Dir, "--images", "20", "--out", int8);
        Assert.True(quantize.Code == 0, quantize.Error);
        Assert.Contains("on multimnist pairs composed from mnist train digits (seed 2017) 0..19: 20 images", quantize.Output);

        var fetch = Capsnet("data", "fetch", "multimnist", "--data-dir", Dir, "--pairs-per-digit", "1");
        Assert.True(fetch.Code == 0, fetch.Error);
        const int count = 8;
        var eval = Capsnet("eval", "--precision", "int8", "--weights", int8, "--data", "multimnist", "--data-dir", Dir, "--limit", $"{count}", "--threads", "1");
        Assert.True(eval.Code == 0, eval.Error);
        Assert.Contains("int8 QuantizedCapsNet", eval.Output);

        // The paper's metric counted by hand over the int8 session's own top 2 (ICapsNetSession.PredictTop).
        var pairs = CapsEmbedded.Data.MultiMnist.MultiMnistStore.Load("multimnist", Dir);
        using ICapsNetSession session = QuantizedSession.Load(int8);
        var image = new float[session.Shape.InputLength];
        var lengths = new float[10];
        var top = new int[2];
        var longest = new float[2];
        int wrong = 0;
        for (int n = 0; n < count; n++)
        {
            pairs.CopyImage(n, image);
            session.PredictTop(image, lengths, top, longest);
            var labels = pairs.GetLabels(n);
            if (!(top.Contains(labels[0]) && top.Contains(labels[1]))) wrong++;
        }
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"error    {100.0 * wrong / count:F2}% ({wrong}/{count})"), eval.Output);

        // predict reads two capsules from a MultiMNIST-sized int8 file by default, as --top 2, longest first.
        string pgm = P("pair.pgm");
        File.WriteAllBytes(pgm, [.. System.Text.Encoding.ASCII.GetBytes("P5\n36 36\n255\n"), .. pairs.GetImage(count - 1)]);
        var predict = Capsnet("predict", "--precision", "int8", "--weights", int8, pgm);
        Assert.True(predict.Code == 0, predict.Error);
        Assert.Equal(predict.Output, Capsnet("predict", "--precision", "int8", "--weights", int8, "--top", "2", pgm).Output);
        var inv = CultureInfo.InvariantCulture;
        Assert.StartsWith($"top 1    {longest[0].ToString("F6", inv)}  {top[0]}\ntop 2    {longest[1].ToString("F6", inv)}  {top[1]}\n",
            predict.Output.ReplaceLineEndings("\n"));
    }
}
