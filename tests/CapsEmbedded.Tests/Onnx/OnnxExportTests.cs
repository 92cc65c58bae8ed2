using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.Models;
using CapsEmbedded.Onnx;
using CapsEmbedded.Reference;
using CapsEmbedded.Runtime;
using CapsEmbedded.Tests.Data;
using CapsEmbedded.Weights;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace CapsEmbedded.Tests.Onnx;

/// <summary>The paper network with the committed weights, exported once for every test of the class.</summary>
public sealed class PaperOnnxFixture
{
    public PaperOnnxFixture()
    {
        Weights = CapsNetWeightsFile.Load(OnnxExportTests.FindRepositoryFile("weights", "mnist.safetensors"));
        Plain = CapsNetOnnxExporter.Export(Weights);
        WithDecoder = CapsNetOnnxExporter.Export(Weights, new OnnxExportOptions { IncludeDecoder = true });
        var idx = IdxReader.ReadImages(DataFixtures.ImagesPath);
        Images = new float[idx.Pixels.Length];
        for (int k = 0; k < Images.Length; k++) Images[k] = idx.Pixels[k] / 255f;
        Count = idx.Count;
    }

    public CapsNetWeights Weights { get; }
    public byte[] Plain { get; }
    public byte[] WithDecoder { get; }
    public float[] Images { get; }
    public int Count { get; }
}

/// <summary>
/// The ONNX export judged by ONNX Runtime 1.31.1: it loads the file and reproduces the generated model (paper network)
/// and the reference model (tiny network) on MNIST test digits; the file's structure is what docs/ONNX.md promises.
/// </summary>
public sealed class OnnxExportTests(PaperOnnxFixture paper, ITestOutputHelper log) : IClassFixture<PaperOnnxFixture>
{
    // Relative error allowed on a capsule length, as the issue asks; below LengthFloor the error is taken relative to
    // LengthFloor (a length of 1e-6 has no meaningful relative error: the float sums that make it carry 1e-8 absolute).
    private const double LengthTolerance = 1e-5, LengthFloor = 1e-2;

    // Capsule components: absolute, the same float budget as the lengths.
    private const double ValueTolerance = 1e-5;

    // Reconstruction pixels (sigmoid, in [0, 1]) come after three more layers whose 512- and 1024-term sums MLAS and our
    // GEMM add in different orders: 9e-6 seen on the paper network (Zen 4), so 3e-5 absolute leaves room for other CPUs.
    private const double PixelTolerance = 3e-5;

    [Fact]
    public void Paper_network_lengths_match_the_generated_model_on_200_test_digits()
    {
        using var session = Session(paper.Plain);
        var onnx = RunLengths(session, paper.Images, paper.Count, MnistCapsNet.InputSize, MnistCapsNet.Classes);
        var generated = GeneratedLengths(paper.Images, paper.Count);
        double worst = WorstRelative(onnx, generated);
        log.WriteLine($"paper, no decoder: worst relative length error {worst:E2} over {paper.Count} digits");
        Assert.True(worst <= LengthTolerance, $"worst relative length error {worst:E2} > {LengthTolerance:E0}");
        Assert.Equal(ArgMaxes(generated, MnistCapsNet.Classes), ArgMaxes(onnx, MnistCapsNet.Classes));
    }

    [Fact]
    public void Paper_network_with_decoder_matches_the_generated_and_the_reference_model()
    {
        using var session = Session(paper.WithDecoder);
        int n = paper.Count, classes = MnistCapsNet.Classes, pixels = MnistCapsNet.InputLength;
        var outputs = Run(session, paper.Images, n, MnistCapsNet.InputSize);
        var (lengths, capsules, reconstruction) = (outputs[0], outputs[1], outputs[2]);

        using var workspace = new MnistCapsNet.Workspace();
        var expectedLengths = new float[n * classes];
        var expectedCapsules = new float[n * MnistCapsNet.DecoderInput];
        var expectedReconstruction = new float[n * pixels];
        for (int i = 0; i < n; i++)
            MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, workspace, paper.Images.AsSpan(i * pixels, pixels),
                expectedLengths.AsSpan(i * classes, classes), expectedCapsules.AsSpan(i * MnistCapsNet.DecoderInput, MnistCapsNet.DecoderInput),
                expectedReconstruction.AsSpan(i * pixels, pixels));
        double worstLength = WorstRelative(lengths, expectedLengths);
        double worstCapsule = WorstAbsolute(capsules, expectedCapsules);
        double worstPixel = WorstAbsolute(reconstruction, expectedReconstruction);

        // The scalar reference model (the spec) on the first digits: it is slow, a few suffice.
        double worstReferencePixel = 0, worstReferenceLength = 0;
        for (int i = 0; i < 4; i++)
        {
            var reference = ReferenceModel.Forward(paper.Weights, paper.Images.AsSpan(i * pixels, pixels));
            worstReferencePixel = Math.Max(worstReferencePixel, WorstAbsolute(reconstruction.AsSpan(i * pixels, pixels), reference.Reconstruction));
            worstReferenceLength = Math.Max(worstReferenceLength, WorstRelative(lengths.AsSpan(i * classes, classes), reference.Lengths));
        }
        log.WriteLine($"paper, decoder: vs generated: lengths {worstLength:E2} relative, capsules {worstCapsule:E2}, " +
            $"reconstruction {worstPixel:E2} absolute; vs reference (4 digits): lengths {worstReferenceLength:E2}, reconstruction {worstReferencePixel:E2}");
        Assert.True(worstLength <= LengthTolerance, $"lengths: {worstLength:E2}");
        Assert.True(worstCapsule <= ValueTolerance, $"capsules: {worstCapsule:E2}");
        Assert.True(worstPixel <= PixelTolerance, $"reconstruction: {worstPixel:E2}");
        Assert.True(worstReferenceLength <= LengthTolerance, $"lengths vs reference: {worstReferenceLength:E2}");
        Assert.True(worstReferencePixel <= PixelTolerance, $"reconstruction vs reference: {worstReferencePixel:E2}");
    }

    [Fact]
    public void MultiMnist_network_at_36x36_matches_the_generated_model_and_its_two_longest_capsules()
    {
        // The shipped 36×36 network (conv1 28×28, primary grid 10×10, 3,200 primary capsules) on 100 MultiMNIST pairs
        // composed from the fixture digits as `capsnet data fetch multimnist` composes them.
        var weights = CapsNetWeightsFile.Load(FindRepositoryFile("weights", "multimnist.safetensors"));
        Assert.Equal(MultiMnistCapsNet.InputSize, weights.Architecture.InputSize);
        var idx = IdxReader.ReadImages(DataFixtures.ImagesPath);
        var digits = new LabeledImages(idx.Count, idx.Rows, idx.Cols, idx.Pixels, IdxReader.ReadLabels(DataFixtures.LabelsPath));
        var pairs = MultiMnistGenerator.DrawPairs(digits, pairsPerDigit: 1, seed: 36)[..100];
        int n = pairs.Length, pixels = MultiMnistCapsNet.InputLength, classes = MultiMnistCapsNet.Classes;
        var images = new float[n * pixels];
        var first = new byte[pixels];
        var second = new byte[pixels];
        var merged = new byte[pixels];
        for (int i = 0; i < n; i++)
        {
            MultiMnistPairs.Compose(digits, pairs[i], first, second, merged);
            for (int k = 0; k < pixels; k++) images[i * pixels + k] = merged[k] / 255f;
        }

        using var session = Session(CapsNetOnnxExporter.Export(weights));
        var onnx = RunLengths(session, images, n, MultiMnistCapsNet.InputSize, classes);
        using var workspace = new MultiMnistCapsNet.Workspace();
        var generated = new float[n * classes];
        for (int i = 0; i < n; i++)
            MultiMnistCapsNet.Predict(MultiMnistCapsNet.Weights.Embedded, workspace, images.AsSpan(i * pixels, pixels),
                generated.AsSpan(i * classes, classes));
        double worst = WorstRelative(onnx, generated);
        log.WriteLine($"multimnist 36×36, no decoder: worst relative length error {worst:E2} over {n} pairs");
        Assert.True(worst <= LengthTolerance, $"worst relative length error {worst:E2} > {LengthTolerance:E0}");

        // What MultiMNIST reads off the network is the two longest capsules: the same pair of classes from both.
        Span<int> fromOnnx = stackalloc int[2], fromGenerated = stackalloc int[2];
        for (int i = 0; i < n; i++)
        {
            TopK.Longest(onnx.AsSpan(i * classes, classes), fromOnnx);
            TopK.Longest(generated.AsSpan(i * classes, classes), fromGenerated);
            Assert.True(fromOnnx.SequenceEqual(fromGenerated), $"pair {i}: ONNX top-2 {fromOnnx[0]},{fromOnnx[1]}, generated {fromGenerated[0]},{fromGenerated[1]}");
        }
    }

    [Theory]
    [InlineData(false, CapsuleTransformFormulation.PerImageMatMul)]
    [InlineData(true, CapsuleTransformFormulation.PerImageMatMul)]
    [InlineData(true, CapsuleTransformFormulation.PerCapsuleMatMul)]
    [InlineData(true, CapsuleTransformFormulation.Einsum)]
    public void Tiny_network_matches_the_reference_model(bool decoder, CapsuleTransformFormulation formulation)
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, seed: 3); // what `capsnet init --arch tiny --seed 3` writes
        // W_ij at σ = 0.01 gives lengths near 1e-4; scaled, they spread over (0, 1) and routing has something to route.
        foreach (ref float w in weights.DigitWeight.AsSpan()) w *= 400f;
        var a = weights.Architecture;
        var images = TinyDigits(a.InputSize, out int n);
        using var session = Session(CapsNetOnnxExporter.Export(weights, new OnnxExportOptions { IncludeDecoder = decoder, CapsuleTransform = formulation }));
        var outputs = Run(session, images, n, a.InputSize);
        Assert.Equal(decoder ? 3 : 1, outputs.Length);
        double worstLength = 0, worstPixel = 0, worstCapsule = 0;
        float longest = 0;
        for (int i = 0; i < n; i++)
        {
            var reference = ReferenceModel.Forward(weights, images.AsSpan(i * a.InputLength, a.InputLength));
            longest = Math.Max(longest, reference.Lengths.Max());
            worstLength = Math.Max(worstLength, WorstRelative(outputs[0].AsSpan(i * a.Classes, a.Classes), reference.Lengths));
            if (!decoder) continue;
            worstCapsule = Math.Max(worstCapsule, WorstAbsolute(outputs[1].AsSpan(i * a.DecoderInput, a.DecoderInput), reference.Capsules));
            worstPixel = Math.Max(worstPixel, WorstAbsolute(outputs[2].AsSpan(i * a.DecoderOutput, a.DecoderOutput), reference.Reconstruction));
        }
        Assert.True(longest > 0.1f, $"the longest capsule is only {longest}: the test would compare near-zero numbers");
        log.WriteLine($"tiny, decoder {decoder}, {formulation}: longest {longest:F3}, lengths {worstLength:E2} relative, capsules {worstCapsule:E2}, reconstruction {worstPixel:E2}");
        Assert.True(worstLength <= LengthTolerance, $"lengths: {worstLength:E2}");
        Assert.True(worstCapsule <= ValueTolerance, $"capsules: {worstCapsule:E2}");
        Assert.True(worstPixel <= PixelTolerance, $"reconstruction: {worstPixel:E2}");
    }

    [Fact]
    public void Batch_size_is_dynamic_and_each_image_is_independent()
    {
        using var session = Session(paper.Plain);
        var batch = RunLengths(session, paper.Images, 7, MnistCapsNet.InputSize, MnistCapsNet.Classes);
        for (int i = 0; i < 7; i += 3)
        {
            var single = RunLengths(session, paper.Images.AsSpan(i * MnistCapsNet.InputLength, MnistCapsNet.InputLength).ToArray(),
                1, MnistCapsNet.InputSize, MnistCapsNet.Classes);
            Assert.True(WorstRelative(single, batch.AsSpan(i * MnistCapsNet.Classes, MnistCapsNet.Classes)) <= LengthTolerance);
        }
    }

    [Fact]
    public void Structure_is_opset_17_with_named_inputs_and_outputs()
    {
        var model = OnnxModelReader.Read(paper.WithDecoder);
        Assert.Equal(8, model.IrVersion);
        Assert.Equal([("", 17L)], model.Opsets);
        Assert.Equal(["image"], model.Inputs);
        Assert.Equal(["lengths", "capsules", "reconstruction"], model.Outputs);
        Assert.All(model.Nodes, node => Assert.Equal("", node.Domain));
        var ops = model.Nodes.Select(node => node.OpType).ToHashSet();
        Assert.Subset(new HashSet<string> { "Conv", "Relu", "Reshape", "Transpose", "ReduceSumSquare", "Sqrt", "Add", "Div", "Mul",
            "MatMul", "Softmax", "Unsqueeze", "ReduceSum", "ArgMax", "Equal", "Cast", "Flatten", "Gemm", "Sigmoid", "Identity" }, ops);
        // Routing unrolled r = 3 times: one softmax per iteration.
        Assert.Equal(3, model.Nodes.Count(node => node.OpType == "Softmax"));
        foreach (var spec in paper.Weights.Architecture.Tensors) Assert.Contains(spec.Name, model.Initializers);
        Assert.DoesNotContain("decoder.fc1.weight", OnnxModelReader.Read(paper.Plain).Initializers);

        using var session = Session(paper.WithDecoder);
        Assert.Equal([-1L, 1, 28, 28], session.InputMetadata["image"].Dimensions.Select(d => (long)d));
        Assert.Equal("N", session.InputMetadata["image"].SymbolicDimensions[0]);
        Assert.Equal([-1L, 10], session.OutputMetadata["lengths"].Dimensions.Select(d => (long)d));
        Assert.Equal([-1L, 10, 16], session.OutputMetadata["capsules"].Dimensions.Select(d => (long)d));
        Assert.Equal([-1L, 784], session.OutputMetadata["reconstruction"].Dimensions.Select(d => (long)d));
        Assert.All(session.OutputMetadata.Values, m => Assert.Equal(typeof(float), m.ElementType));
        Assert.Equal("CapsEmbedded", session.ModelMetadata.ProducerName);
        Assert.Equal("3", session.ModelMetadata.CustomMetadataMap["capsnet.routing_iterations"]);
    }

    [Fact]
    public void Tiny_structure_takes_its_sizes_from_the_architecture()
    {
        var a = CapsNetArchitecture.Tiny with { RoutingIterations = 2 };
        using var session = Session(CapsNetOnnxExporter.Export(CapsNetWeights.CreateRandom(a, 5), new OnnxExportOptions { IncludeDecoder = true }));
        Assert.Equal([-1L, 1, 10, 10], session.InputMetadata["image"].Dimensions.Select(d => (long)d));
        Assert.Equal([-1L, 3], session.OutputMetadata["lengths"].Dimensions.Select(d => (long)d));
        Assert.Equal([-1L, 3, 4], session.OutputMetadata["capsules"].Dimensions.Select(d => (long)d));
        Assert.Equal([-1L, 100], session.OutputMetadata["reconstruction"].Dimensions.Select(d => (long)d));
        var model = OnnxModelReader.Read(CapsNetOnnxExporter.Export(CapsNetWeights.CreateRandom(a, 5)));
        Assert.Equal(2, model.Nodes.Count(node => node.OpType == "Softmax"));
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    internal static string FindRepositoryFile(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine([dir.FullName, .. parts]);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"{Path.Combine(parts)} not found above {AppContext.BaseDirectory}");
    }

    internal static InferenceSession Session(byte[] model)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
        return new InferenceSession(model, options);
    }

    internal static float[][] Run(InferenceSession session, float[] images, int count, int side)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(images.AsMemory(0, count * side * side).ToArray(), [count, 1, side, side]);
        using var runOptions = new RunOptions();
        var names = session.OutputMetadata.Keys.ToArray();
        using var results = session.Run(runOptions, ["image"], [input], names);
        return results.Select(r => r.GetTensorDataAsSpan<float>().ToArray()).ToArray();
    }

    private static float[] RunLengths(InferenceSession session, float[] images, int count, int side, int classes)
    {
        var lengths = Run(session, images, count, side)[0];
        Assert.Equal(count * classes, lengths.Length);
        return lengths;
    }

    private static float[] GeneratedLengths(float[] images, int count)
    {
        using var workspace = new MnistCapsNet.Workspace();
        var lengths = new float[count * MnistCapsNet.Classes];
        for (int i = 0; i < count; i++)
            MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, workspace, images.AsSpan(i * MnistCapsNet.InputLength, MnistCapsNet.InputLength),
                lengths.AsSpan(i * MnistCapsNet.Classes, MnistCapsNet.Classes));
        return lengths;
    }

    // The fixture's digits shrunk to the tiny network's side (box average), so the tiny test also sees real strokes.
    internal static float[] TinyDigits(int side, out int count)
    {
        var idx = IdxReader.ReadImages(DataFixtures.ImagesPath);
        count = 24;
        var images = new float[count * side * side];
        for (int i = 0; i < count; i++)
        for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
        {
            int y0 = y * 28 / side, y1 = (y + 1) * 28 / side, x0 = x * 28 / side, x1 = (x + 1) * 28 / side;
            float sum = 0;
            for (int yy = y0; yy < y1; yy++)
                for (int xx = x0; xx < x1; xx++) sum += idx.Pixels[i * 784 + yy * 28 + xx];
            images[(i * side + y) * side + x] = sum / (255f * (y1 - y0) * (x1 - x0));
        }
        return images;
    }

    private static int[] ArgMaxes(float[] lengths, int classes) =>
        Enumerable.Range(0, lengths.Length / classes).Select(i => TopK.ArgMax<float>(lengths.AsSpan(i * classes, classes))).ToArray();

    internal static double WorstRelative(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int k = 0; k < actual.Length; k++)
        {
            Assert.True(float.IsFinite(actual[k]), $"value {k} is {actual[k]}");
            worst = Math.Max(worst, Math.Abs(actual[k] - (double)expected[k]) / Math.Max(Math.Abs((double)expected[k]), LengthFloor));
        }
        return worst;
    }

    internal static double WorstAbsolute(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int k = 0; k < actual.Length; k++)
        {
            Assert.True(float.IsFinite(actual[k]), $"value {k} is {actual[k]}");
            worst = Math.Max(worst, Math.Abs(actual[k] - (double)expected[k]));
        }
        return worst;
    }
}
