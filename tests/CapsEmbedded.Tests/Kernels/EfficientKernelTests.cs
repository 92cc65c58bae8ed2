using CapsEmbedded.Kernels;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>
/// Efficient-CapsNet's kernels on every tier against their oracles (<see cref="EfficientKernelSelfCheck"/>, which the
/// forced-tier child processes run as part of KernelSelfCheck.RunAll), zero allocation, and argument checks.
/// </summary>
public sealed class EfficientKernelTests
{
    private static void RunSmall(SimdTier tier) => EfficientSquash.Run(new float[8], 1, 8, tier);

    [Theory]
    [AllTiers]
    public void Depthwise_convolution_matches_the_double_oracle(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        foreach (var (c, side, k) in EfficientKernelSelfCheck.DepthwiseShapes)
            EfficientKernelSelfCheck.Depthwise(tier, c, side, k, seed: (ulong)(c + side + k));
    }

    [Theory]
    [AllTiers]
    public void Efficient_squash_matches_the_formula(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        foreach (var (count, dims, scale, seed) in KernelSelfCheck.SquashCases())
            EfficientKernelSelfCheck.Squash(tier, count, dims, scale, seed);
    }

    [Theory]
    [AllTiers]
    public void Self_attention_routing_matches_the_reference(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        foreach (var (n, d, j, o) in EfficientKernelSelfCheck.RoutingShapes)
            for (ulong seed = 1; seed <= 3; seed++)
                EfficientKernelSelfCheck.Routing(tier, n, d, j, o, seed);
    }

    [Theory]
    [AllTiers]
    public void Every_tier_matches_the_scalar_tier(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        var random = new DeterministicRandom(5);
        float[] x = KernelSelfCheck.Random(random, 16 * 8, -0.5f, 0.5f);
        float[] w = KernelSelfCheck.Random(random, 10 * 16 * 8 * 16, -0.5f, 0.5f);
        float[] b = KernelSelfCheck.Random(random, 10 * 16, -0.2f, 0.2f);
        float[] scalar = new float[160], vector = new float[160];
        float[] scratch = new float[SelfAttentionRouting.ScratchLength(16, 10, 16)];
        SelfAttentionRouting.Run(x, w, b, 16, 8, 10, 16, scratch, scalar, SimdTier.Scalar);
        SelfAttentionRouting.Run(x, w, b, 16, 8, 10, 16, scratch, vector, tier);
        for (int k = 0; k < 160; k++) Assert.Equal(scalar[k], vector[k], 1e-5f);

        float[] input = KernelSelfCheck.Random(random, 9 * 9 * 128, -1f, 1f);
        float[] packed = KernelSelfCheck.Random(random, 9 * 9 * 128, -1f, 1f);
        float[] bias = KernelSelfCheck.Random(random, 128, -1f, 1f);
        float[] outScalar = new float[128], outVector = new float[128];
        DepthwiseConvolution.Run(input, 128, 9, 9, packed, bias, outScalar, SimdTier.Scalar);
        DepthwiseConvolution.Run(input, 128, 9, 9, packed, bias, outVector, tier);
        for (int k = 0; k < 128; k++) Assert.Equal(outScalar[k], outVector[k], 1e-4f); // |sum| ≤ 82, 81 terms in another rounding
    }

    [Fact]
    public void Squash_of_zero_is_zero_and_lengths_follow_one_minus_exp()
    {
        float[] v = new float[16];
        v[8] = 3f; // ‖s‖ = 3 → ‖v‖ = 1 − e^−3
        EfficientSquash.Run(v, 2, 8, SimdTier.Scalar);
        Assert.All(v[..8], value => Assert.Equal(0f, value));
        Assert.Equal(1 - MathF.Exp(-3), v[8], 6);
    }

    [Theory]
    [AllTiers]
    public void Kernels_allocate_nothing(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        float[] x = new float[128], w = new float[10 * 16 * 8 * 16], b = new float[160], v = new float[160];
        float[] scratch = new float[SelfAttentionRouting.ScratchLength(16, 10, 16)];
        float[] input = new float[9 * 9 * 128], packed = new float[9 * 9 * 128], bias = new float[128], output = new float[128];
        x.AsSpan().Fill(0.1f);
        w.AsSpan().Fill(0.01f);
        Allocations.AssertNone(() =>
        {
            DepthwiseConvolution.Run(input, 128, 9, 9, packed, bias, output, tier);
            EfficientSquash.Run(x, 16, 8, tier);
            SelfAttentionRouting.Run(x, w, b, 16, 8, 10, 16, scratch, v, tier);
        });
    }

    [Fact]
    public void Wrong_lengths_throw_naming_the_expected_length()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            DepthwiseConvolution.Run(new float[9 * 9 * 4], 4, 9, 9, new float[9 * 9 * 4], new float[4], new float[5], SimdTier.Scalar));
        Assert.Contains("4", e.Message);
        Assert.Throws<ArgumentException>(() =>
            DepthwiseConvolution.Run(new float[4], 1, 2, 3, new float[9], new float[1], new float[1], SimdTier.Scalar));
        e = Assert.Throws<ArgumentException>(() =>
            SelfAttentionRouting.Run(new float[32], new float[3 * 4 * 8 * 4], new float[12], 4, 8, 3, 4, new float[3], new float[12], SimdTier.Scalar));
        Assert.Contains("scratch", e.Message);
        Assert.Throws<ArgumentException>(() => EfficientSquash.Run(new float[15], 2, 8, SimdTier.Scalar));
    }
}
