using System.Globalization;
using CapsEmbedded.Cli;
using CapsEmbedded.Weights;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace CapsEmbedded.Tests.Onnx;

/// <summary><c>capsnet export --onnx</c>: what it writes, and one-line errors that leave existing files alone.</summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("capsnet-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Output, string Error) Capsnet(params string[] args)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = CapsNetCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private string TinyWeights()
    {
        string path = Path.Combine(_dir, "tiny.safetensors");
        if (File.Exists(path)) return path;
        Assert.Equal(0, Capsnet("init", "--arch", "tiny", "--seed", "3", "--out", path).Code);
        return path;
    }

    [Fact]
    public void Writes_a_model_that_onnx_runtime_loads_and_refuses_to_overwrite_without_force()
    {
        string model = Path.Combine(_dir, "tiny.onnx");
        var (code, output, error) = Capsnet("export", "--onnx", model, "--weights", TinyWeights(), "--decoder");
        Assert.True(code == 0, error);
        Assert.Contains("opset 17", output);
        using (var session = new InferenceSession(model))
            Assert.Equal(["lengths", "capsules", "reconstruction"], session.OutputNames);
        byte[] before = File.ReadAllBytes(model);

        (code, _, error) = Capsnet("export", "--onnx", model, "--weights", TinyWeights());
        Assert.Equal(CommandRunner.Failure, code);
        Assert.Equal($"capsnet: error: {model} exists; pass --force to overwrite it", error.Trim());
        Assert.Equal(before, File.ReadAllBytes(model));

        (code, _, error) = Capsnet("export", "--onnx", model, "--weights", TinyWeights(), "--force");
        Assert.True(code == 0, error);
        Assert.True(File.ReadAllBytes(model).Length < before.Length, "without --decoder the file has no decoder weights");
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp")); // no temporary file left behind
    }

    [Fact]
    public void A_bad_weight_file_is_one_line_naming_it_and_writes_nothing()
    {
        string bad = Path.Combine(_dir, "bad.safetensors");
        File.WriteAllBytes(bad, [1, 2, 3]);
        string model = Path.Combine(_dir, "out.onnx");
        var (code, _, error) = Capsnet("export", "--onnx", model, "--weights", bad);
        Assert.Equal(CommandRunner.Failure, code);
        Assert.StartsWith($"capsnet: error: {bad}", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(File.Exists(model));
    }

    [Fact]
    public void An_unwritable_path_is_one_line_naming_the_directory()
    {
        string model = Path.Combine(_dir, "missing", "out.onnx");
        var (code, _, error) = Capsnet("export", "--onnx", model, "--weights", TinyWeights());
        Assert.Equal(CommandRunner.Failure, code);
        Assert.Equal($"capsnet: error: cannot write {model}: directory {Path.Combine(_dir, "missing")} does not exist", error.Trim());

        (code, _, error) = Capsnet("export", "--onnx", _dir, "--weights", TinyWeights());
        Assert.Equal(CommandRunner.Failure, code);
        Assert.Equal($"capsnet: error: {_dir} is a directory", error.Trim());
    }
}
