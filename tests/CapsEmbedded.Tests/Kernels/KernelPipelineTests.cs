using CapsEmbedded.Kernels;
using CapsEmbedded.TierProbe;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>
/// The call sequence of src/CapsEmbedded/Kernels/README.md (conv1 → channels-last Im2Col → primary GEMM → regroup →
/// squash → û → routing → lengths) on the tiny network, against a direct double-precision convolution and capsule
/// computation written from the paper: proves the layouts fit together, not just each kernel alone.
/// </summary>
public sealed class KernelPipelineTests
{
    [Theory]
    [AllTiers]
    public void Readme_sequence_matches_direct_computation_on_the_tiny_network(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => Squash.Run(new float[4], 1, 4, tier))) return;
        CapsNetArchitecture arch = CapsNetArchitecture.Tiny;
        CapsNetWeights weights = CapsNetWeights.CreateRandom(arch, seed: 17);
        float[] image = KernelSelfCheck.Random(new DeterministicRandom(3), arch.InputLength, 0f, 1f);
        // Larger weights than the initializer's, so that capsules are long enough for the comparison to mean something.
        foreach (float[] tensor in new[] { weights.Conv1Weight, weights.PrimaryWeight, weights.DigitWeight })
            for (int index = 0; index < tensor.Length; index++) tensor[index] *= 8f;

        int s = arch.InputSize, k1 = arch.Conv1Kernel, c1 = arch.Conv1Channels, s1 = arch.Conv1OutSize;
        int k2 = arch.PrimaryKernel, st2 = arch.PrimaryStride, g = arch.PrimaryGridSize, positions = g * g;
        int types = arch.PrimaryTypes, pd = arch.PrimaryDims, n = arch.PrimaryCapsules, j = arch.Classes, d = arch.ClassDims;

        // Kernels, as the README lays them out.
        float[] p1 = new float[s1 * s1 * k1 * k1];
        Im2Col.Run(image, 1, s, s, k1, 1, p1);
        float[] w1 = new float[PackedGemm.PackedLength(c1, k1 * k1)];
        PackedGemm.Pack(weights.Conv1Weight, c1, k1 * k1, w1);
        float[] h1 = new float[s1 * s1 * c1];
        PackedGemm.Multiply(p1, s1 * s1, k1 * k1, w1, c1, weights.Conv1Bias, Activation.Relu, h1, tier);

        int k2Length = c1 * k2 * k2;
        float[] permuted = new float[arch.PrimaryChannels * k2Length];
        Im2Col.PermuteWeightsToChannelsLast(weights.PrimaryWeight, arch.PrimaryChannels, c1, k2, permuted);
        float[] w2 = new float[PackedGemm.PackedLength(arch.PrimaryChannels, k2Length)];
        PackedGemm.Pack(permuted, arch.PrimaryChannels, k2Length, w2);
        float[] p2 = new float[positions * k2Length];
        Im2Col.RunChannelsLast(h1, c1, s1, s1, k2, st2, p2);
        float[] h2 = new float[positions * arch.PrimaryChannels];
        PackedGemm.Multiply(p2, positions, k2Length, w2, arch.PrimaryChannels, weights.PrimaryBias, Activation.None, h2, tier);

        float[] u = new float[n * pd];
        // Regroup as the generated model does: channel k is type k / pd, dimension k % pd; capsule i = type·positions + position.
        for (int i = 0; i < n; i++)
            h2.AsSpan((i % positions) * types * pd + i / positions * pd, pd).CopyTo(u.AsSpan(i * pd, pd));
        Squash.Run(u, n, pd, tier);
        float[] w3 = new float[weights.DigitWeight.Length];
        CapsuleTransform.PackWeights(weights.DigitWeight, n, j, d, pd, w3);
        float[] uHat = new float[n * j * d];
        CapsuleTransform.Run(u, w3, n, j, d, pd, uHat, tier);
        float[] v = new float[j * d], coupling = new float[n * j], lengths = new float[j];
        Routing.Run(uHat, n, j, d, arch.RoutingIterations, new float[n * j], coupling, v, tier);
        CapsuleLengths.Run(v, j, d, lengths, tier);

        // Direct computation in double, PyTorch layouts: conv weight [out][in][kh][kw], capsule i = type·g² + y·g + x.
        var conv1 = new double[c1, s1, s1];
        for (int c = 0; c < c1; c++)
            for (int y = 0; y < s1; y++)
                for (int x = 0; x < s1; x++)
                {
                    double sum = weights.Conv1Bias[c];
                    for (int ky = 0; ky < k1; ky++)
                        for (int kx = 0; kx < k1; kx++)
                            sum += weights.Conv1Weight[(c * k1 + ky) * k1 + kx] * (double)image[(y + ky) * s + x + kx];
                    conv1[c, y, x] = Math.Max(0, sum);
                }

        var capsules = new double[n, pd];
        for (int channel = 0; channel < arch.PrimaryChannels; channel++)
            for (int y = 0; y < g; y++)
                for (int x = 0; x < g; x++)
                {
                    double sum = weights.PrimaryBias[channel];
                    for (int c = 0; c < c1; c++)
                        for (int ky = 0; ky < k2; ky++)
                            for (int kx = 0; kx < k2; kx++)
                                sum += weights.PrimaryWeight[((channel * c1 + c) * k2 + ky) * k2 + kx] * conv1[c, y * st2 + ky, x * st2 + kx];
                    capsules[channel / pd * positions + y * g + x, channel % pd] = sum;
                }

        var expectedUHat = new float[n * j * d];
        for (int i = 0; i < n; i++)
        {
            double squaredNorm = 0;
            for (int t = 0; t < pd; t++) squaredNorm += capsules[i, t] * capsules[i, t];
            double factor = squaredNorm == 0 ? 0 : Math.Sqrt(squaredNorm) / (1 + squaredNorm); // eq. 1
            for (int t = 0; t < pd; t++)
            {
                double expected = capsules[i, t] * factor;
                Assert.True(Math.Abs(u[i * pd + t] - expected) <= 2e-5 * Math.Sqrt(squaredNorm) * factor + 1e-30,
                    $"u[{i}][{t}] = {u[i * pd + t]}, expected {expected}");
            }

            for (int jj = 0; jj < j; jj++)
                for (int row = 0; row < d; row++)
                {
                    double sum = 0; // eq. 2, W_ij = digit_caps.weight[i, j] (d × pd)
                    for (int q = 0; q < pd; q++) sum += weights.DigitWeight[((i * j + jj) * d + row) * pd + q] * capsules[i, q] * factor;
                    expectedUHat[(i * j + jj) * d + row] = (float)sum;
                }
        }

        Assert.True(lengths.Max() > 0.01f, $"degenerate test data: |v| = {string.Join(", ", lengths)}");
        // Tolerance: 2e-5 of the largest component — float sums of ≤ 36 terms, squash, routing over 18 capsules.
        var (expectedV, _) = KernelSelfCheck.RoutingOracle(expectedUHat, n, j, d, arch.RoutingIterations);
        double vTolerance = 2e-5 * expectedV.Max(Math.Abs);
        for (int t = 0; t < j * d; t++)
        {
            Assert.True(Math.Abs(v[t] - expectedV[t]) <= vTolerance, $"v[{t / d}][{t % d}] = {v[t]}, expected {expectedV[t]} ± {vTolerance}");
        }

        for (int jj = 0; jj < j; jj++)
        {
            double length = 0;
            for (int t = 0; t < d; t++) length += expectedV[jj * d + t] * expectedV[jj * d + t];
            Assert.True(Math.Abs(lengths[jj] - Math.Sqrt(length)) <= vTolerance * Math.Sqrt(d));
        }
    }
}
