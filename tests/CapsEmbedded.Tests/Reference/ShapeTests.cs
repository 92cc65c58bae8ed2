using CapsEmbedded.Reference;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Reference;

/// <summary>Every size comes from the architecture: other inputs and channel counts run through the same code.</summary>
public class ShapeTests
{
    private static void AssertShapes(CapsNetArchitecture arch, ReferenceOutput output)
    {
        Assert.Equal(arch.Classes, output.Lengths.Length);
        Assert.Equal(arch.Classes * arch.ClassDims, output.Capsules.Length);
        Assert.Equal(arch.InputLength, output.Reconstruction.Length);
        Assert.Equal(arch.PrimaryCapsules * arch.PrimaryDims, output.PrimaryCapsules.Length);
        Assert.Equal(arch.PrimaryCapsules * arch.Classes, output.CouplingCoefficients.Length);
        Assert.InRange(output.PredictedClass, 0, arch.Classes - 1);
        Assert.All(output.Lengths, length => Assert.InRange(length, 0f, 1f));
    }

    [Fact]
    public void MultiMnistSizedInputRuns()
    {
        // 36×36 (MultiMNIST) with the paper's kernels and strides: conv1 → 28×28, primary grid 10×10.
        // Channel counts are cut (32 conv1 channels, 4 types) only to keep the test fast.
        var arch = CapsNetArchitecture.Paper with { InputSize = 36, Conv1Channels = 32, PrimaryTypes = 4 };
        Assert.Equal(10, arch.PrimaryGridSize);
        Assert.Equal(400, arch.PrimaryCapsules);
        var weights = CapsNetWeights.CreateRandom(arch, 36);
        var image = SyntheticDigits.Ring(36);
        var output = ReferenceModel.Forward(weights, image);
        AssertShapes(arch, output);
        Assert.Equal(1296, output.Reconstruction.Length);
    }

    [Fact]
    public void TwoChannelInputAndMoreIterationsRun()
    {
        var arch = CapsNetArchitecture.Tiny with { InputChannels = 2, RoutingIterations = 5, Classes = 4 };
        var weights = CapsNetWeights.CreateRandom(arch, 2);
        var image = new float[arch.InputLength];
        for (int p = 0; p < image.Length; p++) image[p] = (p % 7) / 7f;
        var single = ReferenceModel.Forward(weights, image, ReferencePrecision.Single);
        var precise = ReferenceModel.Forward(weights, image, ReferencePrecision.Double);
        AssertShapes(arch, single);
        AssertShapes(arch, precise);
        Assert.Equal(precise.Lengths.Select(x => (double)x), single.Lengths.Select(x => (double)x), new ToleranceComparer(1e-6));
    }
}
