using CapsEmbedded.Data;
using CapsEmbedded.Onnx;
using CapsEmbedded.Reference;
using CapsEmbedded.Tests.Data;
using CapsEmbedded.Weights;
using Xunit.Abstractions;
using static CapsEmbedded.Tests.Onnx.OnnxExportTests;

namespace CapsEmbedded.Tests.Onnx;

/// <summary>
/// The Efficient-CapsNet export judged by ONNX Runtime 1.31.1 against the scalar reference model
/// (<see cref="EfficientReferenceModel"/>, batch norm unfolded as trained) on MNIST test digits: the tiny test file of the
/// generator tests and a seeded random network of the MNIST sizes, batch norm folded (the default) and as nodes.
/// </summary>
public sealed class EfficientOnnxExportTests(ITestOutputHelper log)
{
    // As the paper network's export (OnnxExportTests): lengths 1e-5 relative (floor 1e-2), capsule components 1e-5
    // absolute, reconstruction pixels 3e-5 absolute (the decoder's 512- and 1024-term sums in MLAS's order).
    private const double LengthTolerance = 1e-5, ValueTolerance = 1e-5, PixelTolerance = 3e-5;

    private static string TinyFile => FindRepositoryFile("tests", "CapsEmbedded.Generator.Tests", "Weights", "tiny-efficient.safetensors");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Tiny_file_matches_the_reference_model(bool foldBatchNorm)
    {
        var weights = EfficientCapsNetWeightsFile.Load(TinyFile);
        Assert.Equal(EfficientCapsNetArchitecture.Tiny, weights.Architecture);
        var images = TinyDigits(weights.Architecture.InputSize, out int n);
        Compare(weights, images, n, foldBatchNorm, "tiny file");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Mnist_size_random_network_matches_the_reference_model_on_test_digits(bool foldBatchNorm)
    {
        var weights = EfficientCapsNetWeights.CreateRandom(EfficientCapsNetArchitecture.Mnist, seed: 32);
        var idx = IdxReader.ReadImages(DataFixtures.ImagesPath);
        const int n = 24; // the scalar reference costs ≈ 30 M multiply-adds a digit
        var images = new float[n * 784];
        for (int k = 0; k < images.Length; k++) images[k] = idx.Pixels[k] / 255f;
        Compare(weights, images, n, foldBatchNorm, "MNIST sizes, seed 32");
    }

    private void Compare(EfficientCapsNetWeights weights, float[] images, int n, bool foldBatchNorm, string what)
    {
        var a = weights.Architecture;
        var options = new OnnxExportOptions { IncludeDecoder = true, FoldBatchNorm = foldBatchNorm };
        using var session = Session(EfficientCapsNetOnnxExporter.Export(weights, options));
        var outputs = Run(session, images, n, a.InputSize);
        Assert.Equal(3, outputs.Length);
        double worstLength = 0, worstCapsule = 0, worstPixel = 0;
        float shortest = float.MaxValue, longest = 0;
        var classes = new HashSet<int>();
        for (int i = 0; i < n; i++)
        {
            var reference = EfficientReferenceModel.Forward(weights, images.AsSpan(i * a.InputLength, a.InputLength));
            shortest = Math.Min(shortest, reference.Lengths.Min());
            longest = Math.Max(longest, reference.Lengths.Max());
            classes.Add(reference.PredictedClass);
            var lengths = outputs[0].AsSpan(i * a.Classes, a.Classes);
            worstLength = Math.Max(worstLength, WorstRelative(lengths, reference.Lengths));
            worstCapsule = Math.Max(worstCapsule, WorstAbsolute(outputs[1].AsSpan(i * a.DecoderInput, a.DecoderInput), reference.Capsules));
            worstPixel = Math.Max(worstPixel, WorstAbsolute(outputs[2].AsSpan(i * a.DecoderOutput, a.DecoderOutput), reference.Reconstruction));
        }
        log.WriteLine($"{what}, BN {(foldBatchNorm ? "folded" : "nodes")}: lengths in [{shortest:F3}, {longest:F3}], " +
            $"{classes.Count} classes predicted; worst lengths {worstLength:E2} relative, capsules {worstCapsule:E2}, " +
            $"reconstruction {worstPixel:E2}");
        // Lengths spread over (0, 1), not all saturated at 1 − e^−‖s‖ ≈ 1: otherwise the comparison would say little.
        Assert.True(longest - shortest > 0.2f, $"lengths only span [{shortest}, {longest}]");
        Assert.True(worstLength <= LengthTolerance, $"lengths: {worstLength:E2}");
        Assert.True(worstCapsule <= ValueTolerance, $"capsules: {worstCapsule:E2}");
        Assert.True(worstPixel <= PixelTolerance, $"reconstruction: {worstPixel:E2}");
    }

    [Fact]
    public void Onnx_runtime_loads_the_graph_with_the_paper_exports_names_and_the_family_in_its_metadata()
    {
        var weights = EfficientCapsNetWeights.CreateRandom(EfficientCapsNetArchitecture.Mnist, seed: 5);
        byte[] bytes = EfficientCapsNetOnnxExporter.Export(weights, new OnnxExportOptions { IncludeDecoder = true });
        var model = OnnxModelReader.Read(bytes);
        Assert.Equal(8, model.IrVersion);
        Assert.Equal([("", 17L)], model.Opsets);
        Assert.Equal(["image"], model.Inputs);
        Assert.Equal(["lengths", "capsules", "reconstruction"], model.Outputs);
        Assert.All(model.Nodes, node => Assert.Equal("", node.Domain));
        Assert.Equal(5, model.Nodes.Count(node => node.OpType == "Conv")); // four stem convs and the depthwise one
        Assert.Single(model.Nodes, node => node.OpType == "Softmax"); // one routing pass
        Assert.DoesNotContain(model.Nodes, node => node.OpType == "BatchNormalization"); // folded by default
        // Every tensor of the file is in the graph under its own name, except the batch norms (folded away).
        foreach (var spec in weights.Architecture.Tensors.Where(t => !t.Name.Contains(".bn.", StringComparison.Ordinal)))
            Assert.Contains(spec.Name, model.Initializers);

        var unfolded = OnnxModelReader.Read(EfficientCapsNetOnnxExporter.Export(weights, new OnnxExportOptions { FoldBatchNorm = false }));
        Assert.Equal(4, unfolded.Nodes.Count(node => node.OpType == "BatchNormalization"));
        Assert.Contains("stem.3.bn.running_var", unfolded.Initializers);
        Assert.DoesNotContain("decoder.fc1.weight", unfolded.Initializers);
        Assert.Equal(["lengths"], unfolded.Outputs);

        using var session = Session(bytes);
        Assert.Equal([-1L, 1, 28, 28], session.InputMetadata["image"].Dimensions.Select(d => (long)d));
        Assert.Equal("N", session.InputMetadata["image"].SymbolicDimensions[0]);
        Assert.Equal([-1L, 10], session.OutputMetadata["lengths"].Dimensions.Select(d => (long)d));
        Assert.Equal([-1L, 10, 16], session.OutputMetadata["capsules"].Dimensions.Select(d => (long)d));
        Assert.Equal([-1L, 784], session.OutputMetadata["reconstruction"].Dimensions.Select(d => (long)d));
        Assert.Equal("efficient", session.ModelMetadata.CustomMetadataMap["capsnet.family"]);
        Assert.Equal("folded", session.ModelMetadata.CustomMetadataMap["capsnet.onnx.batchnorm"]);
        Assert.Equal("0.001", session.ModelMetadata.CustomMetadataMap["capsnet.batchnorm_eps"]);
        Assert.StartsWith("Efficient-CapsNet", session.ModelMetadata.Description);
    }

    [Fact]
    public void Batch_size_is_dynamic_and_each_image_is_independent()
    {
        var weights = EfficientCapsNetWeightsFile.Load(TinyFile);
        var a = weights.Architecture;
        var images = TinyDigits(a.InputSize, out _);
        using var session = Session(EfficientCapsNetOnnxExporter.Export(weights));
        var batch = Run(session, images, 7, a.InputSize)[0];
        for (int i = 0; i < 7; i += 3)
        {
            var single = Run(session, images.AsSpan(i * a.InputLength, a.InputLength).ToArray(), 1, a.InputSize)[0];
            Assert.True(WorstRelative(single, batch.AsSpan(i * a.Classes, a.Classes)) <= LengthTolerance);
        }
    }

    [Fact]
    public void A_one_by_one_depthwise_output_reshapes_channels_into_capsules_as_the_reference()
    {
        // The P = 1 test file (as MNIST): 16 channels of 1×1 become 4 capsules × 4D without a transpose.
        var weights = EfficientCapsNetWeightsFile.Load(
            FindRepositoryFile("tests", "CapsEmbedded.Generator.Tests", "Weights", "tiny-efficient-p1.safetensors"));
        Assert.Equal(1, weights.Architecture.PrimaryGridSize);
        var a = weights.Architecture;
        var images = TinyDigits(a.InputSize, out int n);
        using var session = Session(EfficientCapsNetOnnxExporter.Export(weights));
        var lengths = Run(session, images, n, a.InputSize)[0];
        for (int i = 0; i < n; i++)
        {
            var reference = EfficientReferenceModel.Forward(weights, images.AsSpan(i * a.InputLength, a.InputLength));
            Assert.True(WorstRelative(lengths.AsSpan(i * a.Classes, a.Classes), reference.Lengths) <= LengthTolerance);
        }
    }
}
