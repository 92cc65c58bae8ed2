using CapsEmbedded.Data;
using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Models;
using CapsEmbedded.Onnx;
using CapsEmbedded.Quantization;
using CapsEmbedded.Runtime;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Tests.Data;
using CapsEmbedded.Tests.Kernels;
using CapsEmbedded.Tests.Onnx;
using CapsEmbedded.Weights;
using Xunit.Abstractions;

namespace CapsEmbedded.Tests.Quantization;

/// <summary>The int8 forward pass: its primary conv against a plain scalar oracle of the same integer arithmetic, the MNIST
/// model against the float32 model on the 200 fixture digits, the u7 quantiser, and no allocation.</summary>
public sealed class QuantizedCapsNetTests(ITestOutputHelper log)
{
    [Fact]
    public void PrimaryConv_MatchesTheScalarOracleOfTheQuantisedArithmetic()
    {
        var a = CapsNetArchitecture.Tiny;
        var quantised = QuantizedFormatTests.TinyQuantized(seed: 11);
        using var model = QuantizedCapsNet.Create(quantised);
        using var workspace = new QuantizedCapsNet.Workspace(a);
        var random = new Random(5);
        var image = new float[a.InputLength];
        for (int k = 0; k < image.Length; k++) image[k] = random.NextDouble() < 0.3 ? (float)random.NextDouble() : 0f;
        var lengths = new float[a.Classes];
        model.Predict(workspace, image, lengths);

        // Oracle: conv1 + ReLU as the reference model computes it (double sums here), codes by the same rule, then a naive
        // [out][in][kh][kw] convolution over codes and int8 weights in exact integers.
        var w = quantised.Weights;
        int size = a.Conv1OutSize, c1 = a.Conv1Channels, grid = a.PrimaryGridSize, kp = a.PrimaryKernel;
        var codes = new int[c1, size, size];
        var conv1Codes = workspace.Conv1Codes;
        int mismatched = 0;
        for (int c = 0; c < c1; c++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    double sum = w.Conv1Bias[c];
                    for (int i = 0; i < a.InputChannels; i++)
                        for (int ky = 0; ky < a.Conv1Kernel; ky++)
                            for (int kx = 0; kx < a.Conv1Kernel; kx++)
                                sum += w.Conv1Weight[((c * a.InputChannels + i) * a.Conv1Kernel + ky) * a.Conv1Kernel + kx]
                                    * image[(i * a.InputSize + y + ky) * a.InputSize + x + kx];
                    int code = (int)Math.Min(Math.Floor(Math.Max(sum, 0) / quantised.PrimaryInputScale + 0.5), 127);
                    codes[c, y, x] = code;
                    // The runtime's float conv1 sums in another order: a code may sit one step off at a rounding edge.
                    int runtime = conv1Codes[(y * size + x) * c1 + c];
                    Assert.InRange(runtime - code, -1, 1);
                    if (runtime != code) mismatched++;
                    codes[c, y, x] = runtime; // judge the int8 GEMM on the runtime's own codes: that part must be exact
                }
        Assert.True(mismatched <= codes.Length / 1000, $"{mismatched} of {codes.Length} codes differ by one step");

        var conv = workspace.PrimaryConv;
        int n = a.PrimaryChannels;
        for (int o = 0; o < n; o++)
            for (int gy = 0; gy < grid; gy++)
                for (int gx = 0; gx < grid; gx++)
                {
                    long acc = 0;
                    for (int c = 0; c < c1; c++)
                        for (int ky = 0; ky < kp; ky++)
                            for (int kx = 0; kx < kp; kx++)
                                acc += quantised.PrimaryWeight[((o * c1 + c) * kp + ky) * kp + kx] * codes[c, gy * a.PrimaryStride + ky, gx * a.PrimaryStride + kx];
                    float expected = acc * (quantised.PrimaryInputScale * quantised.PrimaryWeightScale[o]) + w.PrimaryBias[o];
                    float actual = conv[(gy * grid + gx) * n + o];
                    // One float multiply-add after an exact integer sum: a few ulps at most.
                    Assert.True(Math.Abs(actual - expected) <= 1e-6f * Math.Max(1f, Math.Abs(expected)), $"channel {o} at ({gy},{gx}): {actual} vs {expected}");
                }
    }

    [Fact]
    public void MnistInt8_AgreesWithTheFloatModelOnTheFixtureDigits()
    {
        var weights = CapsNetWeightsFile.Load(OnnxExportTests.FindRepositoryFile("weights", "mnist.safetensors"));
        var idx = IdxReader.ReadImages(DataFixtures.ImagesPath);
        var labels = IdxReader.ReadLabels(DataFixtures.LabelsPath);
        int count = idx.Count, pixels = MnistCapsNet.InputLength, classes = MnistCapsNet.Classes;
        var images = new float[idx.Pixels.Length];
        for (int k = 0; k < images.Length; k++) images[k] = idx.Pixels[k] / 255f;
        var histogram = Quantizer.CalibrateConv1(weights, images, count);
        var quantised = Quantizer.Quantize(weights, histogram.Percentile(99.99), "fixture digits");
        using var model = QuantizedCapsNet.Create(QuantizedWeightsFile.Read(QuantizedWeightsFile.Write(quantised), "fixture.int8"));
        using var workspace = new QuantizedCapsNet.Workspace(model.Architecture);
        using var floatWorkspace = new MnistCapsNet.Workspace();
        var q = new float[classes];
        var f = new float[classes];
        double worst = 0;
        int agree = 0, int8Correct = 0, floatCorrect = 0;
        for (int i = 0; i < count; i++)
        {
            var image = images.AsSpan(i * pixels, pixels);
            int qc = model.Predict(workspace, image, q);
            int fc = MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, floatWorkspace, image, f);
            for (int j = 0; j < classes; j++) worst = Math.Max(worst, Math.Abs(q[j] - f[j]));
            if (qc == fc) agree++;
            if (qc == labels[i]) int8Correct++;
            if (fc == labels[i]) floatCorrect++;
        }
        log.WriteLine($"{count} digits: classes agree on {agree}, int8 correct {int8Correct}, float32 correct {floatCorrect}, worst |Δlength| {worst:G4}");
        // Tolerance: lengths lie in [0, 1); int8 rounding of 20,736-term sums moves them by ~1e-3 (0.0079 worst seen on
        // these 200 digits with the shipped model), so 0.03 absolute catches a wrong scale or layout (which moves them by 0.1+).
        Assert.True(worst < 0.03, $"worst length difference {worst}");
        Assert.True(agree >= count - 1, $"classes agree on only {agree} of {count}");
        Assert.True(int8Correct >= floatCorrect - 1, $"int8 {int8Correct} correct vs float32 {floatCorrect}");
    }

    /// <summary>
    /// conv1's channels grouped by co-activation (<see cref="Conv1ChannelGrouping"/>, as <c>capsnet quantize</c> writes
    /// them) leave the int8 model's lengths and capsules the same bits on every digit, its codes the same bytes in the
    /// new order, and fewer 4-channel groups with a non-zero code for the int8 GEMM to compute.
    /// </summary>
    [Fact]
    public void MnistInt8_GroupedConv1Channels_GiveTheSameBits_AndFewerNonzeroGroups()
    {
        var weights = CapsNetWeightsFile.Load(OnnxExportTests.FindRepositoryFile("weights", "mnist.safetensors"));
        var idx = IdxReader.ReadImages(DataFixtures.ImagesPath);
        int count = idx.Count, pixels = MnistCapsNet.InputLength, classes = MnistCapsNet.Classes, c1 = weights.Architecture.Conv1Channels;
        var images = new float[idx.Pixels.Length];
        for (int k = 0; k < images.Length; k++) images[k] = idx.Pixels[k] / 255f;
        float clip = Quantizer.CalibrateConv1(weights, images, 100).Percentile(99.999);
        var grouping = Conv1ChannelGrouping.Collect(weights, images, 100, clip / QuantizedCapsNetWeights.ActivationLimit);
        int[] order = grouping.GroupedOrder();
        int[] identity = [.. Enumerable.Range(0, c1)];
        Assert.Equal(identity, order.Order());
        double before = grouping.NonzeroGroupShare(identity), after = grouping.NonzeroGroupShare(order);
        log.WriteLine($"non-zero 4-channel groups on 100 fixture digits: {before:P2} in the file's order, {after:P2} grouped");
        Assert.True(after < 0.95 * before, $"grouping left {after:P2} of the groups non-zero against {before:P2}");

        using var plain = QuantizedCapsNet.Create(Quantizer.Quantize(weights, clip, "fixture digits"));
        using var grouped = QuantizedCapsNet.Create(QuantizedWeightsFile.Read(
            QuantizedWeightsFile.Write(Quantizer.Quantize(weights, clip, "fixture digits", order)), "grouped.int8"));
        using var plainWorkspace = new QuantizedCapsNet.Workspace(plain.Architecture);
        using var groupedWorkspace = new QuantizedCapsNet.Workspace(grouped.Architecture);
        float[] plainLengths = new float[classes], groupedLengths = new float[classes];
        float[] plainCapsules = new float[classes * MnistCapsNet.Architecture.ClassDims], groupedCapsules = new float[plainCapsules.Length];
        for (int i = 0; i < count; i++)
        {
            var image = images.AsSpan(i * pixels, pixels);
            int plainClass = plain.Predict(plainWorkspace, image, plainLengths, plainCapsules);
            int groupedClass = grouped.Predict(groupedWorkspace, image, groupedLengths, groupedCapsules);
            Assert.Equal(plainClass, groupedClass);
            Assert.Equal(BitsOf(plainLengths), BitsOf(groupedLengths));
            Assert.Equal(BitsOf(plainCapsules), BitsOf(groupedCapsules));
            var plainCodes = plainWorkspace.Conv1Codes;
            var groupedCodes = groupedWorkspace.Conv1Codes;
            for (int p = 0; p < plainCodes.Length / c1; p++)
                for (int place = 0; place < c1; place++)
                    Assert.Equal(plainCodes[p * c1 + order[place]], groupedCodes[p * c1 + place]);
        }

        Assert.Throws<ArgumentException>(() => Quantizer.Quantize(weights, clip, "x", [.. identity[..^1], 0]));
        Assert.Throws<ArgumentException>(() => Quantizer.Quantize(weights, clip, "x", identity[..^1]));
    }

    private static int[] BitsOf(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];

    /// <summary>
    /// W of û is held in int8 with one scale per W_ij (s_ij = max|W_ij| / 127, each weight within half a step of the file's
    /// float), and the model's û is <see cref="QuantizedTransform"/>'s on its own squashed primary capsules, bit for bit, on
    /// every float tier (the kernel's tiers give the scalar rule's bits).
    /// </summary>
    [Theory]
    [AllTiers]
    public void DigitWeight_IsHeldInInt8PerBlock_AndUHatIsTheScalarRule(SimdTier tier)
    {
        var a = CapsNetArchitecture.Tiny;
        var weights = CapsNetWeights.CreateRandom(a, 17);
        using var model = QuantizedCapsNet.Create(Quantizer.Quantize(weights, clip: 1.5f, calibration: "test"));
        int n = a.PrimaryCapsules, j = a.Classes, d = a.ClassDims, p = a.PrimaryDims, block = d * p;
        var packed = new float[CapsuleTransform.WeightsLength(n, j, d, p)];
        CapsuleTransform.PackWeights(weights.DigitWeight, n, j, d, p, packed);
        var q = model.QuantizedDigitWeight.ToArray();
        var scales = model.DigitWeightScale.ToArray();
        for (int ij = 0; ij < n * j; ij++)
        {
            var w = packed.AsSpan(ij * block, block);
            float max = 0f;
            foreach (float v in w) max = MathF.Max(max, MathF.Abs(v));
            Assert.Equal(max / 127f, scales[ij]);
            for (int k = 0; k < block; k++)
                Assert.True(Math.Abs(q[ij * block + k] * (double)scales[ij] - w[k]) <= scales[ij] * 0.5000001, $"W block {ij} weight {k}");
        }

        using var workspace = new QuantizedCapsNet.Workspace(a);
        var image = new float[a.InputLength];
        var random = new Random(9);
        for (int k = 0; k < image.Length; k++) image[k] = random.NextDouble() < 0.4 ? (float)random.NextDouble() : 0f;
        var lengths = new float[a.Classes];
        if (!TierRequirement.Runs(tier, () => model.Predict(workspace, image, lengths, default, default, tier, Int8Tier.Scalar))) return;
        model.Predict(workspace, image, lengths, default, default, tier, Int8Tier.Scalar);
        var layout = model.ScratchLayout;
        var expected = new float[n * j * d];
        QuantizedTransform.Run(layout.Primary.In(workspace.Scratch), q, scales, n, j, d, p, expected, SimdTier.Scalar);
        float[] actual = layout.UHat.In(workspace.Scratch).ToArray();
        Assert.Equal(expected.Select(BitConverter.SingleToUInt32Bits), actual.Select(BitConverter.SingleToUInt32Bits));
    }

    [Fact]
    public void Predict_AllocatesNothing()
    {
        var a = CapsNetArchitecture.Tiny;
        using var model = QuantizedCapsNet.Create(QuantizedFormatTests.TinyQuantized());
        using var workspace = new QuantizedCapsNet.Workspace(a);
        var image = new float[a.InputLength];
        image.AsSpan(0, image.Length / 2).Fill(0.5f);
        var lengths = new float[a.Classes];
        var capsules = new float[a.DecoderInput];
        var reconstruction = new float[a.DecoderOutput];
        Allocations.AssertNone(() => model.Predict(workspace, image, lengths, capsules, reconstruction, SimdTiers.Best, Int8Tiers.Best));
    }

    [Fact]
    public void Predict_RefusesBadArguments()
    {
        var a = CapsNetArchitecture.Tiny;
        using var model = QuantizedCapsNet.Create(QuantizedFormatTests.TinyQuantized());
        using var workspace = new QuantizedCapsNet.Workspace(a);
        using var otherWorkspace = new QuantizedCapsNet.Workspace(CapsNetArchitecture.Paper);
        var lengths = new float[a.Classes];
        Assert.Throws<ArgumentException>(() => model.Predict(workspace, new float[a.InputLength - 1], lengths));
        Assert.Throws<ArgumentException>(() => model.Predict(workspace, new float[a.InputLength], new float[a.Classes - 1]));
        Assert.Throws<ArgumentException>(() => model.Predict(otherWorkspace, new float[a.InputLength], lengths));
    }
}
