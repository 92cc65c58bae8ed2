using CapsEmbedded.Reference;
using CapsEmbedded.Weights;
using Xunit.Abstractions;

namespace CapsEmbedded.Tests.Reference;

/// <summary>
/// The scalar Efficient-CapsNet (<see cref="EfficientReferenceModel"/>): its stages on hand-computed cases, the forward
/// pass's invariants, and batch-norm folding against the unfolded network.
/// </summary>
public class EfficientReferenceTests(ITestOutputHelper log)
{
    private static readonly EfficientCapsNetWeights Mnist = EfficientCapsNetWeights.CreateRandom(EfficientCapsNetArchitecture.Mnist, 2021);
    private static readonly EfficientCapsNetWeights Tiny = EfficientCapsNetWeights.CreateRandom(EfficientCapsNetArchitecture.Tiny, 7);

    private static float[] Image(EfficientCapsNetArchitecture a, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var image = new float[a.InputLength];
        for (int k = 0; k < image.Length; k++) image[k] = random.NextUniform(0f, 1f);
        return image;
    }

    // ---- Stages by hand ----------------------------------------------------------------------------------

    [Theory]
    [InlineData(0.1)]
    [InlineData(1.0)]
    [InlineData(3.0)]
    [InlineData(12.0)]
    public void Squash_keeps_the_direction_and_makes_the_length_one_minus_e_to_the_minus_norm(double norm)
    {
        // s = norm · (0.6, 0, 0.8): ‖v‖ = 1 − e^(−‖s‖), v ∥ s.
        float[] v = [(float)(0.6 * norm), 0f, (float)(0.8 * norm)];
        EfficientReferenceModel.Squash(v);
        double length = 1 - Math.Exp(-norm);
        Assert.Equal(0.6 * length, v[0], 6);
        Assert.Equal(0f, v[1]);
        Assert.Equal(0.8 * length, v[2], 6);
        Assert.True(Math.Sqrt(v[0] * v[0] + v[2] * v[2]) < 1);
    }

    [Fact]
    public void Squash_of_zero_is_zero_not_NaN()
    {
        float[] v = [0f, 0f, 0f, 0f];
        EfficientReferenceModel.Squash(v);
        Assert.Equal([0f, 0f, 0f, 0f], v);
    }

    [Fact]
    public void Self_attention_routing_matches_a_hand_computed_case()
    {
        // N = 2 primary capsules of 1 dim, J = 2 classes of 2 dims. x = (1, 2).
        float[] x = [1f, 2f];
        // W[j, i, 0, :]: j0: i0 (1,0), i1 (0,1); j1: i0 (1,1), i1 (−1,0). b[j, i] = [[0.1, 0], [0, −0.5]].
        float[] w = [1f, 0f, 0f, 1f, 1f, 1f, -1f, 0f];
        float[] b = [0.1f, 0f, 0f, -0.5f];
        var coupling = new float[4];
        var v = new float[4];
        EfficientReferenceModel.SelfAttentionRouting(x, w, b, 2, 1, 2, 2, coupling, v);

        // u_{0|0} = (1,0), u_{0|1} = (0,2), u_{1|0} = (1,1), u_{1|1} = (−2,0); Σ_k u_{0|k} = (1,2), Σ_k u_{1|k} = (−1,1).
        // a_{0,0} = 1/√2, a_{1,0} = 0; a_{0,1} = 4/√2, a_{1,1} = 2/√2. Softmax over j of two values is a logistic.
        double c00 = Logistic(1 / Math.Sqrt(2)), c01 = Logistic(2 / Math.Sqrt(2));
        Assert.Equal(c00, coupling[0], 6);     // [i][j]: c_{0,0}
        Assert.Equal(1 - c00, coupling[1], 6); // c_{1,0}
        Assert.Equal(c01, coupling[2], 6);     // c_{0,1}
        Assert.Equal(1 - c01, coupling[3], 6); // c_{1,1}
        // s_0 = (c00 + 0.1)(1,0) + c01 (0,2); s_1 = (1 − c00)(1,1) + (1 − c01 − 0.5)(−2,0).
        double[] s0 = [c00 + 0.1, 2 * c01], s1 = [(1 - c00) - 2 * (1 - c01 - 0.5), 1 - c00];
        AssertSquashed(s0, v.AsSpan(0, 2));
        AssertSquashed(s1, v.AsSpan(2, 2));
    }

    [Fact]
    public void Depthwise_conv_filters_each_channel_alone()
    {
        // Two channels of 3×3, kernel 2: channel 0 sums its 2×2 windows, channel 1 takes the top-left pixel × 10, + bias.
        float[] input = [1, 2, 3, 4, 5, 6, 7, 8, 9, /**/ 9, 8, 7, 6, 5, 4, 3, 2, 1];
        float[] weight = [1, 1, 1, 1, /**/ 10, 0, 0, 0];
        float[] bias = [0.5f, -1f];
        var output = new float[8];
        EfficientReferenceModel.DepthwiseConv2d(input, 2, 3, weight, bias, 2, output);
        Assert.Equal([12.5f, 16.5f, 24.5f, 28.5f, 89f, 79f, 59f, 49f], output);
    }

    [Fact]
    public void Batch_norm_normalises_each_channel_with_its_own_statistics()
    {
        float[] values = [1f, 3f, /**/ 10f, 20f];
        EfficientReferenceModel.BatchNorm(values, 2, ([2f, 1f], [0.5f, 0f], [1f, 10f], [4f - 1e-3f, 25f - 1e-3f]), 1e-3f);
        // Channel 0: 2 (x − 1)/2 + 0.5; channel 1: (x − 10)/5.
        Assert.Equal([0.5f, 2.5f, 0f, 2f], values, (a, b) => Math.Abs(a - b) < 1e-6f);
    }

    // ---- Forward invariants ------------------------------------------------------------------------------

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    public void Forward_gives_lengths_in_0_1_couplings_that_sum_to_1_and_a_sigmoid_reconstruction(ulong seed)
    {
        foreach (var weights in new[] { Mnist, Tiny })
        {
            var a = weights.Architecture;
            var output = EfficientReferenceModel.Forward(weights, Image(a, seed));
            Assert.Equal(a.Classes, output.Lengths.Length);
            Assert.All(output.Lengths, l => Assert.InRange(l, 0f, 0.9999999f));
            for (int i = 0; i < a.PrimaryCapsules; i++)
            {
                var row = output.CouplingCoefficients.AsSpan(i * a.Classes, a.Classes);
                float sum = 0f;
                foreach (float c in row)
                {
                    Assert.InRange(c, 0f, 1f);
                    sum += c;
                }
                Assert.Equal(1f, sum, 5);
                float norm = MathF.Sqrt(output.PrimaryCapsules.AsSpan(i * a.PrimaryDims, a.PrimaryDims).ToArray().Sum(u => u * u));
                Assert.InRange(norm, 0f, 1f);
            }
            Assert.Equal(Array.IndexOf(output.Lengths, output.Lengths.Max()), output.PredictedClass);
            Assert.Equal(output.PredictedClass, output.MaskedClass);
            Assert.Equal(a.DecoderOutput, output.Reconstruction.Length);
            Assert.All(output.Reconstruction, p => Assert.InRange(p, 0f, 1f));
            // Capsule lengths are the lengths of the returned capsules.
            for (int j = 0; j < a.Classes; j++)
                Assert.Equal(output.Lengths[j],
                    Math.Sqrt(output.Capsules.AsSpan(j * a.ClassDims, a.ClassDims).ToArray().Sum(v => (double)v * v)), 1e-6);
        }
    }

    [Fact]
    public void The_mask_class_picks_what_the_decoder_sees_and_nothing_else()
    {
        var image = Image(Tiny.Architecture, 4);
        var longest = EfficientReferenceModel.Forward(Tiny, image);
        int other = (longest.PredictedClass + 1) % Tiny.Architecture.Classes;
        var masked = EfficientReferenceModel.Forward(Tiny, image, other);
        Assert.Equal(other, masked.MaskedClass);
        Assert.Equal(longest.Lengths, masked.Lengths);
        Assert.NotEqual(longest.Reconstruction, masked.Reconstruction);
        Assert.Throws<ArgumentOutOfRangeException>(() => EfficientReferenceModel.Forward(Tiny, image, Tiny.Architecture.Classes));
        Assert.Throws<ArgumentException>(() => EfficientReferenceModel.Forward(Tiny, image.AsSpan(1)));
    }

    // ---- Batch-norm folding ------------------------------------------------------------------------------

    [Theory]
    [InlineData(11UL)]
    [InlineData(12UL)]
    [InlineData(13UL)]
    public void Folded_weights_give_the_unfolded_lengths_within_1e5_relative(ulong seed)
    {
        foreach (var weights in new[] { Mnist, Tiny })
        {
            var image = Image(weights.Architecture, seed);
            var unfolded = EfficientReferenceModel.Forward(weights, image);
            var folded = EfficientReferenceModel.Forward(EfficientReferenceModel.FoldBatchNorm(weights), image);
            for (int j = 0; j < unfolded.Lengths.Length; j++)
                Assert.True(Math.Abs(folded.Lengths[j] - unfolded.Lengths[j]) <= 1e-5 * Math.Abs(unfolded.Lengths[j]),
                    $"class {j}: folded {folded.Lengths[j]:R}, unfolded {unfolded.Lengths[j]:R}");
            log.WriteLine($"{weights.Architecture.InputSize}x{weights.Architecture.InputSize}: largest relative difference "
                + $"{unfolded.Lengths.Zip(folded.Lengths).Max(p => Math.Abs(p.First - p.Second) / Math.Abs(p.First)):E2}");
            Assert.Equal(unfolded.PredictedClass, folded.PredictedClass);
        }
    }

    [Fact]
    public void The_batch_norms_matter_so_the_folding_test_can_fail()
    {
        // With every BN set to the identity the lengths move far more than the folding tolerance: folding that dropped or
        // misplaced a BN would be caught.
        var identity = EfficientCapsNetWeightsFile.Read(EfficientCapsNetWeightsFile.Write(Mnist), "copy");
        for (int layer = 0; layer < identity.Architecture.Stem.Count; layer++)
        {
            var (gamma, beta, mean, variance) = identity.StemBatchNorm(layer);
            Array.Fill(gamma, 1f);
            Array.Clear(beta);
            Array.Clear(mean);
            Array.Fill(variance, 1f - identity.Architecture.BatchNormEps);
        }
        var image = Image(Mnist.Architecture, 11);
        var with = EfficientReferenceModel.Forward(Mnist, image).Lengths;
        var without = EfficientReferenceModel.Forward(identity, image).Lengths;
        Assert.True(with.Zip(without).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
        // And folding the identity changes no weight beyond rounding.
        var folded = EfficientReferenceModel.FoldBatchNorm(identity);
        for (int layer = 0; layer < identity.Architecture.Stem.Count; layer++)
            Assert.Equal(identity.StemConv(layer).Bias, folded.StemConv(layer).Bias, (x, y) => Math.Abs(x - y) <= 1e-6f * Math.Abs(x));
    }

    [Fact]
    public void Folding_scales_each_input_channel_and_shifts_the_bias_by_the_weights_times_b()
    {
        // One hand-checked element: stem.1 output channel 0, input channel 2, tap 4.
        var a = Tiny.Architecture;
        var folded = EfficientReferenceModel.FoldBatchNorm(Tiny);
        var (gamma, beta, mean, variance) = Tiny.StemBatchNorm(0);
        var (w, bias) = Tiny.StemConv(1);
        double scale(int c) => gamma[c] / Math.Sqrt(variance[c] + (double)a.BatchNormEps);
        double shift(int c) => beta[c] - scale(c) * mean[c];
        int taps = 9, inChannels = a.StemInputChannels(1);
        Assert.Equal(w[2 * taps + 4] * scale(2), folded.StemConv(1).Weight[2 * taps + 4], 6);
        double expectedBias = bias[0];
        for (int c = 0; c < inChannels; c++)
            for (int t = 0; t < taps; t++) expectedBias += w[c * taps + t] * shift(c);
        Assert.Equal(expectedBias, folded.StemConv(1).Bias[0], 5);
        Assert.Equal(Tiny.StemConv(0).Weight, folded.StemConv(0).Weight); // the first conv has no BN before it
        // Depthwise: channel 5 reads only channel 5 of the last BN.
        var last = Tiny.StemBatchNorm(1);
        double s5 = last.Gamma[5] / Math.Sqrt(last.Variance[5] + (double)a.BatchNormEps);
        Assert.Equal(Tiny.Primary.Weight[5 * taps] * s5, folded.Primary.Weight[5 * taps], 6);
    }

    // ---- Helpers -----------------------------------------------------------------------------------------

    private static double Logistic(double z) => 1 / (1 + Math.Exp(-z));

    private static void AssertSquashed(double[] s, ReadOnlySpan<float> v)
    {
        double norm = Math.Sqrt(s.Sum(x => x * x));
        double scale = (1 - Math.Exp(-norm)) / norm;
        for (int k = 0; k < s.Length; k++) Assert.Equal(s[k] * scale, v[k], 5);
    }
}
