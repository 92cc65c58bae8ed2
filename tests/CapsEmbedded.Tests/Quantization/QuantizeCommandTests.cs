using CapsEmbedded.Cli;
using CapsEmbedded.Quantization;
using CapsEmbedded.Tests.Onnx;
using CapsEmbedded.Tests.TestSupport;
using static CapsEmbedded.Tests.TestSupport.CliRun;

namespace CapsEmbedded.Tests.Quantization;

/// <summary><c>capsnet quantize</c> and <c>--precision int8</c> end to end through <see cref="CapsNetCli.Run"/>.</summary>
public sealed class QuantizeCommandTests() : TempDirectoryTest("capsnet-int8-")
{
    [Fact]
    public void Quantize_ThenEvalAndPredictInInt8_AndOneLineErrors()
    {
        // The 200 fixture digits serve as both "train" (calibration) and test split.
        string data = CopyMnistFixture();
        File.Copy(Path.Combine(data, "t10k-images-idx3-ubyte"), Path.Combine(data, "train-images-idx3-ubyte"));
        File.Copy(Path.Combine(data, "t10k-labels-idx1-ubyte"), Path.Combine(data, "train-labels-idx1-ubyte"));
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
        var digits = Capsnet("bench", "--precision", "int8", "--weights", int8, "--warmup", "1", "--runs", "2", "--data", data);
        Assert.True(digits.Code == 0, digits.Error);
        Assert.Contains($"{data} test images", digits.Output); // both models timed on the same test digits
        foreach (string line in new[] { noWeights.Error, floatFile.Error, int8AsFloat.Error })
            Assert.Single(line.TrimEnd().Split('\n'));
    }
}
