using CapsEmbedded.Cli;
using CapsEmbedded.Weights;
using Microsoft.ML.OnnxRuntime;

namespace CapsEmbedded.Tests.Onnx;

/// <summary><c>capsnet export --onnx</c>: what it writes, and one-line errors that leave existing files alone.</summary>
public sealed class ExportCommandTests() : TempDirectoryTest("capsnet-export-")
{
    private string TinyWeights() => InitTiny(P("tiny.safetensors"), seed: 3);

    [Fact]
    public void Writes_a_model_that_onnx_runtime_loads_and_refuses_to_overwrite_without_force()
    {
        string model = P("tiny.onnx");
        var (code, output, error) = Capsnet("export", "--onnx", model, "--weights", TinyWeights(), "--decoder");
        Assert.True(code == 0, error);
        Assert.Contains("opset 17", output);
        using (var session = new InferenceSession(model))
            Assert.Equal(["lengths", "capsules", "reconstruction"], session.OutputNames);
        byte[] before = File.ReadAllBytes(model);

        (code, _, error) = Capsnet("export", "--onnx", model, "--weights", TinyWeights());
        Assert.Equal(CommandRunner.Failure, code);
        Assert.Equal($"capsnet: error: --onnx {model} exists; pass --force to overwrite it", error.Trim());
        Assert.Equal(before, File.ReadAllBytes(model));

        (code, _, error) = Capsnet("export", "--onnx", model, "--weights", TinyWeights(), "--force");
        Assert.True(code == 0, error);
        Assert.True(File.ReadAllBytes(model).Length < before.Length, "without --decoder the file has no decoder weights");
        Assert.Empty(Directory.GetFiles(Dir, "*.tmp")); // no temporary file left behind
    }

    [Fact]
    public void A_bad_weight_file_is_one_line_naming_it_and_writes_nothing()
    {
        string bad = P("bad.safetensors");
        File.WriteAllBytes(bad, [1, 2, 3]);
        string model = P("out.onnx");
        var (code, _, error) = Capsnet("export", "--onnx", model, "--weights", bad);
        Assert.Equal(CommandRunner.Failure, code);
        Assert.StartsWith($"capsnet: error: {bad}", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(File.Exists(model));
    }

    [Fact]
    public void An_unwritable_path_is_one_line_naming_the_directory()
    {
        string model = Path.Combine(Dir, "missing", "out.onnx");
        var (code, _, error) = Capsnet("export", "--onnx", model, "--weights", TinyWeights());
        Assert.Equal(CommandRunner.Failure, code);
        Assert.Equal($"capsnet: error: --onnx {model}: directory {P("missing")} does not exist", error.Trim());

        (code, _, error) = Capsnet("export", "--onnx", Dir, "--weights", TinyWeights());
        Assert.Equal(CommandRunner.Failure, code);
        Assert.Equal($"capsnet: error: --onnx {Dir}: is a directory; give a file name", error.Trim());
    }
}
