using CapsEmbedded.Reference;
using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Reference;

/// <summary>The whole forward pass: a one-pixel network computed by hand, and the invariants on a tiny random one.</summary>
public class ForwardTests
{
    /// <summary>One pixel, one conv1 channel, one primary capsule of 2 dims, 2 classes × 2D, r = 1, decoder 4 → 1 → 1 → 1.</summary>
    private static CapsNetWeights OnePixelNetwork()
    {
        var arch = new CapsNetArchitecture
        {
            InputSize = 1, Conv1Channels = 1, Conv1Kernel = 1, PrimaryTypes = 1, PrimaryDims = 2, PrimaryKernel = 1,
            PrimaryStride = 1, Classes = 2, ClassDims = 2, RoutingIterations = 1, DecoderHidden1 = 1, DecoderHidden2 = 1,
        };
        var w = new CapsNetWeights(arch);
        w.Conv1Weight[0] = 2;                                    // h = ReLU(2x)
        w.PrimaryWeight[0] = 3; w.PrimaryWeight[1] = 4;          // s = (3h, 4h)
        float[] digit = { 2, 0, 0, 2, /**/ 0, 0, 0, 0 };         // W_00 = 2·I, W_01 = 0
        digit.CopyTo(w.DigitWeight, 0);
        w.Fc1Weight.AsSpan().Fill(1);                            // fc1 sums the masked capsules
        w.Fc2Weight[0] = 1;
        w.Fc3Weight[0] = 1;
        return w;
    }

    [Theory]
    [InlineData(ReferencePrecision.Single, 1e-6)]
    [InlineData(ReferencePrecision.Double, 1e-7)] // outputs are float: rounding is the only error
    public void OnePixelNetworkByHand(ReferencePrecision precision, double tolerance)
    {
        // x = 0.5 → h = 1 → s = (3, 4) → u = (15, 20)/26 → û_0 = 2u, û_1 = 0.
        // r = 1: c = ½ → s_0 = u, |s_0| = 25/26 → v_0 = u · (25/26)/(1 + 625/676) = (375, 500)/1301, |v_0| = 625/1301.
        var output = ReferenceModel.Forward(OnePixelNetwork(), new[] { 0.5f }, precision);
        var close = new ToleranceComparer(tolerance);
        Assert.Equal(new[] { 15.0 / 26, 20.0 / 26 }, output.PrimaryCapsules.Select(x => (double)x), close);
        Assert.Equal(new[] { 0.5, 0.5 }, output.CouplingCoefficients.Select(x => (double)x), close);
        Assert.Equal(new[] { 375.0 / 1301, 500.0 / 1301, 0, 0 }, output.Capsules.Select(x => (double)x), close);
        Assert.Equal(new[] { 625.0 / 1301, 0 }, output.Lengths.Select(x => (double)x), close);
        Assert.Equal(0, output.PredictedClass);
        Assert.Equal(0, output.MaskedClass);
        // Decoder: sigmoid(ReLU(ReLU(v_00 + v_01))).
        Assert.Equal(1 / (1 + Math.Exp(-875.0 / 1301)), output.Reconstruction[0], tolerance);

        // Masking class 1 (a zero capsule) feeds zeros: sigmoid(0) = ½.
        var masked = ReferenceModel.Forward(OnePixelNetwork(), new[] { 0.5f }, precision, maskClass: 1);
        Assert.Equal(1, masked.MaskedClass);
        Assert.Equal(0, masked.PredictedClass);
        Assert.Equal(0.5f, masked.Reconstruction[0]);
    }

    [Fact]
    public void TraceKeepsEveryIntermediateOfTheOnePixelNetworkInDouble()
    {
        var trace = ReferenceModel.Trace<double>(OnePixelNetwork(), new[] { 0.5f });
        Assert.Equal(new[] { 0.5 }, trace.Input);
        Assert.Equal(new[] { 1.0 }, trace.Conv1);
        Assert.Equal(new[] { 3.0, 4.0 }, trace.PrimaryPreSquash);
        var close = new ToleranceComparer(1e-15);
        Assert.Equal(new[] { 15.0 / 26, 20.0 / 26 }, trace.PrimaryCapsules, close);
        Assert.Equal(new[] { 30.0 / 26, 40.0 / 26, 0, 0 }, trace.UHat, close);
        Assert.Equal(new[] { 0.0, 0.0 }, trace.Logits); // r = 1: the only agreement update is skipped
        Assert.Equal(new[] { 0.5, 0.5 }, trace.Coupling);
        Assert.Equal(new[] { 375.0 / 1301, 500.0 / 1301, 0, 0 }, trace.Capsules, close);
        Assert.Equal(trace.Capsules, trace.MaskedCapsules); // class 1 is already zero
        Assert.Equal(new[] { 625.0 / 1301, 0 }, trace.Lengths, close);
        Assert.Equal(new[] { 875.0 / 1301 }, trace.Hidden1, close);
        Assert.Equal(trace.Hidden1, trace.Hidden2);
        Assert.Equal(1 / (1 + Math.Exp(-875.0 / 1301)), trace.Reconstruction[0], 1e-15);

        // Losses accept the unrounded double lengths: label 0 → (0.9 − 625/1301)², the other capsule is 0 < m⁻.
        Assert.Equal(Math.Pow(0.9 - 625.0 / 1301, 2), CapsNetLoss.Margin(trace.Lengths, 0), 1e-15);
        Assert.Equal(0.0005 * Math.Pow(trace.Reconstruction[0] - 0.5, 2),
            CapsNetLoss.Reconstruction(trace.Reconstruction, new[] { 0.5f }), 1e-18);
    }

    [Fact]
    public void ForwardIsTheFloatTraceRounded()
    {
        var arch = CapsNetArchitecture.Tiny;
        var weights = CapsNetWeights.CreateRandom(arch, 21);
        var image = RandomImage(arch, 22);
        var single = ReferenceModel.Forward(weights, image, ReferencePrecision.Single, maskClass: 2);
        var trace = ReferenceModel.Trace<float>(weights, image, maskClass: 2);
        Assert.Equal(trace.Lengths, single.Lengths);
        Assert.Equal(trace.Capsules, single.Capsules);
        Assert.Equal(trace.Reconstruction, single.Reconstruction);
        Assert.Equal(trace.PrimaryCapsules, single.PrimaryCapsules);
        Assert.Equal(trace.Coupling, single.CouplingCoefficients);
        Assert.Equal(2, trace.MaskedClass);

        var precise = ReferenceModel.Forward(weights, image, ReferencePrecision.Double, maskClass: 2);
        var preciseTrace = ReferenceModel.Trace<double>(weights, image, maskClass: 2);
        Assert.Equal(preciseTrace.Lengths.Select(x => (float)x), precise.Lengths);
        Assert.Equal(preciseTrace.Reconstruction.Select(x => (float)x), precise.Reconstruction);
    }

    [Fact]
    public void NegativePixelIsCutByReluAndEqualLengthsPickTheLowestClass()
    {
        // x = −0.5 → conv1 = −1 → ReLU → 0 → every capsule is exactly 0 (squash(0) = 0), both lengths 0.
        var output = ReferenceModel.Forward(OnePixelNetwork(), new[] { -0.5f });
        Assert.All(output.Capsules, x => Assert.Equal(0f, x));
        Assert.Equal(new[] { 0f, 0f }, output.Lengths);
        Assert.Equal(0, output.PredictedClass);
        Assert.Equal(0.5f, output.Reconstruction[0]);
    }

    [Fact]
    public void ArgMaxBreaksTiesTowardTheLowestIndexAndIgnoresNaN()
    {
        Assert.Equal(1, TopK.ArgMax<float>(new[] { 0.3f, 0.5f, 0.5f }));
        Assert.Equal(2, TopK.ArgMax<float>(new[] { float.NaN, 0.1f, 0.5f }));
        Assert.Equal(0, TopK.ArgMax<double>(new[] { 0.0, 0.0 }));
    }

    private static float[] RandomImage(CapsNetArchitecture arch, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var image = new float[arch.InputLength];
        for (int p = 0; p < image.Length; p++) image[p] = (float)random.NextDouble();
        return image;
    }

    [Theory]
    [InlineData(ReferencePrecision.Single)]
    [InlineData(ReferencePrecision.Double)]
    public void TinyRandomNetworkKeepsTheInvariants(ReferencePrecision precision)
    {
        var arch = CapsNetArchitecture.Tiny;
        var weights = CapsNetWeights.CreateRandom(arch, 5);
        var output = ReferenceModel.Forward(weights, RandomImage(arch, 6), precision);

        Assert.Equal(arch.Classes, output.Lengths.Length);
        Assert.Equal(arch.InputLength, output.Reconstruction.Length);
        for (int j = 0; j < arch.Classes; j++)
        {
            var v = output.Capsules.AsSpan(j * arch.ClassDims, arch.ClassDims).ToArray();
            Assert.Equal(Math.Sqrt(v.Sum(x => (double)x * x)), output.Lengths[j], 1e-6);
            Assert.InRange(output.Lengths[j], 0f, 1f);
        }
        Assert.Equal(TopK.ArgMax<float>(output.Lengths), output.PredictedClass);
        Assert.Equal(output.PredictedClass, output.MaskedClass);
        for (int i = 0; i < arch.PrimaryCapsules; i++)
            Assert.Equal(1.0, output.CouplingCoefficients.Skip(i * arch.Classes).Take(arch.Classes).Sum(c => (double)c), 1e-6);
        Assert.All(output.Reconstruction, r => Assert.InRange(r, 0f, 1f));

        // The reconstruction is the decoder applied to the predicted capsule alone.
        var masked = new float[arch.DecoderInput];
        ReferenceModel.Mask<float>(output.Capsules, arch.Classes, arch.ClassDims, output.PredictedClass, masked);
        var reconstruction = new float[arch.DecoderOutput];
        ReferenceModel.Decoder<float>(masked, weights, reconstruction);
        Assert.Equal(reconstruction.Select(x => (double)x), output.Reconstruction.Select(x => (double)x), new ToleranceComparer(1e-6));
    }

    [Fact]
    public void OnlyTheMaskedCapsuleReachesTheDecoder()
    {
        var arch = CapsNetArchitecture.Tiny; // 3 classes × 4D → decoder input 12, class-major
        var weights = CapsNetWeights.CreateRandom(arch, 9);
        var random = new DeterministicRandom(10);
        var capsules = new float[arch.DecoderInput];
        for (int k = 0; k < capsules.Length; k++) capsules[k] = random.NextUniform(-0.5f, 0.5f);
        const int keep = 1;

        float[] Reconstruct(float[] caps)
        {
            var masked = new float[arch.DecoderInput];
            ReferenceModel.Mask<float>(caps, arch.Classes, arch.ClassDims, keep, masked);
            var result = new float[arch.DecoderOutput];
            ReferenceModel.Decoder<float>(masked, weights, result);
            return result;
        }

        var baseline = Reconstruct(capsules);

        // Changing another class's capsule changes nothing.
        var otherChanged = (float[])capsules.Clone();
        otherChanged[0] += 0.3f;
        otherChanged[2 * arch.ClassDims + 3] -= 0.4f;
        Assert.Equal(baseline, Reconstruct(otherChanged));

        // fc1 columns of the other classes are never read (the decoder input is flattened class-major).
        var fc1 = weights.Fc1Weight;
        for (int o = 0; o < arch.DecoderHidden1; o++)
        for (int col = 0; col < arch.DecoderInput; col++)
            if (col / arch.ClassDims != keep) fc1[o * arch.DecoderInput + col] = 123;
        Assert.Equal(baseline, Reconstruct(capsules));

        // Changing the kept capsule does change the reconstruction.
        var keptChanged = (float[])capsules.Clone();
        keptChanged[keep * arch.ClassDims] += 0.3f;
        Assert.NotEqual(baseline, Reconstruct(keptChanged));
    }

    [Fact]
    public void ForwardRejectsAnImageOfTheWrongSizeNamingBothLengths()
    {
        var weights = new CapsNetWeights(CapsNetArchitecture.Tiny);
        var error = Assert.Throws<ArgumentException>(() => ReferenceModel.Forward(weights, new float[99]));
        Assert.Equal("image", error.ParamName);
        Assert.Contains("99", error.Message);
        Assert.Contains("100", error.Message);
    }

    [Theory]
    [InlineData(-2)]
    [InlineData(3)]
    public void ForwardRejectsAMaskClassOutsideTheClasses(int maskClass)
    {
        var weights = new CapsNetWeights(CapsNetArchitecture.Tiny);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ReferenceModel.Forward(weights, new float[100], maskClass: maskClass));
        Assert.Equal("maskClass", error.ParamName);
    }

    [Fact]
    public void ForwardRejectsNullWeightsAndUnknownPrecision()
    {
        Assert.Throws<ArgumentNullException>(() => ReferenceModel.Forward(null!, new float[100]));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            ReferenceModel.Forward(new CapsNetWeights(CapsNetArchitecture.Tiny), new float[100], (ReferencePrecision)7));
    }
}
