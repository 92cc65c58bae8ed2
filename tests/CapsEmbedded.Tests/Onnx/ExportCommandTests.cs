using CapsEmbedded.Cli;
using CapsEmbedded.Data;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;
using CapsEmbedded.Tests.Data;
using CapsEmbedded.Weights;
using Microsoft.ML.OnnxRuntime;

namespace CapsEmbedded.Tests.Onnx;

/// <summary><c>capsnet export --onnx</c>: what it writes, and one-line errors that leave existing files alone.</summary>
public sealed class ExportCommandTests() : TempDirectoryTest("capsnet-export-")
{
    private string TinyWeights() => InitOnce(P("tiny.safetensors"), seed: 3);

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

    [Fact]
    public void An_efficient_file_is_exported_by_its_family()
    {
        string weights = P("tiny-efficient.safetensors"), model = P("tiny-efficient.onnx");
        EfficientCapsNetWeightsFile.Save(EfficientCapsNetWeights.CreateRandom(EfficientCapsNetArchitecture.Tiny, 7), weights);
        var (code, output, error) = Capsnet("export", "--onnx", model, "--weights", weights, "--decoder");
        Assert.True(code == 0, error);
        Assert.Contains("Efficient-CapsNet 12x12x1 -> stem 4@3x3/1 8@3x3/2", output);
        using var session = new InferenceSession(model);
        Assert.Equal(["lengths", "capsules", "reconstruction"], session.OutputNames);
        Assert.Equal("efficient", session.ModelMetadata.CustomMetadataMap["capsnet.family"]);
        Assert.Equal("folded", session.ModelMetadata.CustomMetadataMap["capsnet.onnx.batchnorm"]);
    }

    [Fact]
    public void A_mix_of_the_families_is_one_line_saying_what_the_file_holds()
    {
        var paper = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 3);
        var efficient = EfficientCapsNetWeights.CreateRandom(EfficientCapsNetArchitecture.Tiny, 3);
        var paperMetadata = CapsNetArchitecture.Tiny.ToMetadata();
        var efficientMetadata = EfficientCapsNetArchitecture.Tiny.ToMetadata();
        string Write(string name, IReadOnlyList<TensorSpec> specs, NamedTensors tensors, Dictionary<string, string> metadata)
        {
            File.WriteAllBytes(P(name), FloatTensorFile.Write(specs, t => tensors[t], metadata, new Dictionary<string, string>(),
                3, SafeTensorsDType.F32, name));
            return P(name);
        }

        // The paper network's tensors under capsnet.family = "efficient".
        string paperAsEfficient = Write("paper-as-efficient.safetensors", CapsNetArchitecture.Tiny.Tensors, paper,
            new(paperMetadata) { [CapsNetFamilyMetadata.Key] = "efficient" });
        AssertOneLineError(Capsnet("export", "--onnx", P("a.onnx"), "--weights", paperAsEfficient),
            "invalid Efficient-CapsNet architecture in __metadata__: metadata capsnet.stem_channels is missing");

        // Efficient-CapsNet's tensors and sizes without the family key: read as the paper network, refused by name.
        efficientMetadata.Remove(CapsNetFamilyMetadata.Key);
        string efficientAsPaper = Write("efficient-as-paper.safetensors", EfficientCapsNetArchitecture.Tiny.Tensors, efficient,
            efficientMetadata);
        AssertOneLineError(Capsnet("export", "--onnx", P("b.onnx"), "--weights", efficientAsPaper),
            "tensor 'stem.0.conv.weight': an Efficient-CapsNet tensor in a file without capsnet.family = \"efficient\"");

        // A family nobody knows.
        string unknown = Write("unknown-family.safetensors", CapsNetArchitecture.Tiny.Tensors, paper,
            new(paperMetadata) { [CapsNetFamilyMetadata.Key] = "hinton2018" });
        AssertOneLineError(Capsnet("export", "--onnx", P("c.onnx"), "--weights", unknown),
            "metadata capsnet.family = \"hinton2018\" names no CapsNet family");
        Assert.Empty(Directory.GetFiles(Dir, "*.onnx"));
    }

    [Fact]
    public void Model_mnist_efficient_exports_the_compiled_weights_and_onnx_runtime_agrees_with_the_generated_model()
    {
        string model = P("mnist-efficient.onnx");
        var (code, output, error) = Capsnet("export", "--onnx", model, "--model", "mnist-efficient");
        Assert.True(code == 0, error);
        Assert.Contains("Efficient-CapsNet 28x28x1", output);
        using var session = OnnxExportTests.Session(File.ReadAllBytes(model));
        Assert.Equal("efficient", session.ModelMetadata.CustomMetadataMap["capsnet.family"]);

        // The 200 fixture digits: ORT's lengths against MnistEfficientCapsNet.Predict's (same file values, folded BN both).
        var idx = IdxReader.ReadImages(DataFixtures.ImagesPath);
        int n = idx.Count, pixels = MnistEfficientCapsNet.InputLength, classes = MnistEfficientCapsNet.Classes;
        var images = new float[n * pixels];
        for (int k = 0; k < images.Length; k++) images[k] = idx.Pixels[k] / 255f;
        var onnx = OnnxExportTests.Run(session, images, n, MnistEfficientCapsNet.InputSize)[0];
        var generated = new float[n * classes];
        using var workspace = new MnistEfficientCapsNet.Workspace();
        for (int i = 0; i < n; i++)
            MnistEfficientCapsNet.Predict(MnistEfficientCapsNet.Weights.Embedded, workspace, images.AsSpan(i * pixels, pixels),
                generated.AsSpan(i * classes, classes));
        double worst = OnnxExportTests.WorstRelative(onnx, generated);
        Assert.True(worst <= 1e-5, $"worst relative length error {worst:E2}");
        for (int i = 0; i < n; i++)
            Assert.Equal(TopK.ArgMax<float>(generated.AsSpan(i * classes, classes)), TopK.ArgMax<float>(onnx.AsSpan(i * classes, classes)));
    }
}
