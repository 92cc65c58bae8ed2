using CapsEmbedded.Tests.TestSupport;
using CapsEmbedded.Weights;
using static CapsEmbedded.Tests.TestSupport.CliRun;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// An Efficient-CapsNet file given to capsnet: <c>info</c> describes it; every command that runs a model says, in one line,
/// that it does not support the family yet (the generated model comes with the generator's part of issue 32).
/// </summary>
public sealed class EfficientCliTests() : TempDirectoryTest("capsnet-efficient-cli-")
{
    private string MnistEfficient()
    {
        string path = P("mnist-efficient.safetensors");
        if (!File.Exists(path))
            EfficientCapsNetWeightsFile.Save(EfficientCapsNetWeights.CreateRandom(EfficientCapsNetArchitecture.Mnist, 4), path,
                SafeTensorsDType.F16);
        return path;
    }

    [Fact]
    public void Info_describes_an_efficient_file()
    {
        var (code, output, error) = Capsnet("info", MnistEfficient());
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Contains("family        efficient (Efficient-CapsNet", output);
        Assert.Contains("architecture  28x28x1 -> stem 32@5x5/1 64@3x3/1 64@3x3/1 128@3x3/2 (9x9), BN eps 0.001", output);
        Assert.Contains("dtype         F16", output);
        Assert.Contains("stem.3.bn.running_var  [128]", output);
        Assert.Contains("digit_caps.weight      [10,16,8,16]", output);
        Assert.Contains("1,573,744", output); // every stored value
        Assert.Contains("capsnet.family = efficient", output);
        Assert.Contains("capsnet.batchnorm_eps = 0.001", output);
    }

    [Theory]
    [InlineData("eval")]
    [InlineData("predict")]
    [InlineData("bench")]
    [InlineData("quantize")]
    public void Commands_that_run_a_model_say_they_do_not_support_the_family_yet(string command)
    {
        string path = MnistEfficient();
        string[] args = command switch
        {
            "quantize" => [command, "--weights", path, "--calibrate", Dir, "--out", P("q.safetensors")],
            "predict" => [command, "--weights", path, P("digit.png")],
            "bench" => [command, "--weights", path, "--warmup", "0", "--runs", "1"],
            _ => [command, "--weights", path, "--data", Dir],
        };
        AssertOneLineError(Capsnet(args), "an Efficient-CapsNet weight file (capsnet.family = \"efficient\")");
        Assert.False(File.Exists(P("q.safetensors")));
    }
}
