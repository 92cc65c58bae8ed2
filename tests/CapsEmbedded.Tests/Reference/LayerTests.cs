using CapsEmbedded.Reference;

namespace CapsEmbedded.Tests.Reference;

/// <summary>Convolution, fully connected layer and activations on hand-made numbers.</summary>
public class LayerTests
{
    // A 1-channel 4×4 image with in[y, x] = 4y + x.
    private static readonly float[] Ramp = Enumerable.Range(0, 16).Select(k => (float)k).ToArray();

    [Fact]
    public void TwoByTwoStrideTwoConvolutionByHand()
    {
        float[] weight =
        {
            1, 0, 0, -1, // kernel 0: in[2y, 2x] − in[2y+1, 2x+1] = −5 everywhere
            1, 1, 1, 1,  // kernel 1: sum of each 2×2 block
        };
        float[] bias = { 0.5f, 0 };
        var output = new float[2 * 2 * 2];
        ReferenceModel.Conv2d<float>(Ramp, 1, 4, 4, weight, bias, 2, 2, 2, output);
        Assert.Equal(new float[] { -4.5f, -4.5f, -4.5f, -4.5f, 10, 18, 42, 50 }, output);

        ReferenceModel.Relu<float>(output);
        Assert.Equal(new float[] { 0, 0, 0, 0, 10, 18, 42, 50 }, output);
    }

    [Fact]
    public void KernelPositionsThatDoNotFitAreDroppedLikePyTorch()
    {
        // 4×4, kernel 3, stride 2: (4 − 3)/2 + 1 = 1 position, the top-left 3×3 block.
        var output = new float[1];
        ReferenceModel.Conv2d<float>(Ramp, 1, 4, 4, Enumerable.Repeat(1f, 9).ToArray(), new float[1], 1, 3, 2, output);
        Assert.Equal(0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10, output[0]);
    }

    [Fact]
    public void EachInputChannelHasItsOwnKernelSlice()
    {
        // Channel 0 holds 1..9 (3×3), channel 1 holds 10 everywhere; the kernel takes ch0's top-left and ch1's bottom-right.
        double[] input = Enumerable.Range(1, 9).Select(k => (double)k).Concat(Enumerable.Repeat(10.0, 9)).ToArray();
        float[] weight = { 1, 0, 0, 0, /**/ 0, 0, 0, 1 };
        var output = new double[4];
        ReferenceModel.Conv2d<double>(input, 2, 3, 3, weight, new float[1], 1, 2, 1, output);
        Assert.Equal(new double[] { 11, 12, 14, 15 }, output);
    }

    [Fact]
    public void ConvolutionRejectsMismatchedSpans()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            ReferenceModel.Conv2d<float>(Ramp, 1, 4, 4, new float[8], new float[2], 2, 2, 2, new float[7]));
        Assert.Contains("conv output", error.Message);
        Assert.Throws<ArgumentException>(() =>
            ReferenceModel.Conv2d<float>(Ramp, 1, 4, 4, new float[50], new float[2], 2, 5, 1, new float[2]));
    }

    [Fact]
    public void LinearUsesOutInWeightLayout()
    {
        float[] weight = { 1, 2, 3, /**/ 4, 5, 6 }; // [out = 2][in = 3]
        float[] bias = { 0.5f, -1 };
        var output = new float[2];
        ReferenceModel.Linear<float>(new float[] { 1, 0, -1 }, weight, bias, output);
        Assert.Equal(new[] { 1 - 3 + 0.5f, 4 - 6 - 1f }, output);
    }

    [Fact]
    public void SigmoidSaturatesWithoutNaN()
    {
        float[] values = { 0, -1000, 1000, 2 };
        ReferenceModel.Sigmoid<float>(values);
        Assert.Equal(0.5f, values[0]);
        Assert.Equal(0f, values[1]);
        Assert.Equal(1f, values[2]);
        Assert.Equal(1 / (1 + MathF.Exp(-2)), values[3], 1e-7f);
    }
}
