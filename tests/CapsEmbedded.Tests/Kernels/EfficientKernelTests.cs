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

    /// <summary>Each kernel's oracle check (tolerances stated there) over its shapes and seeds, by what it checks.</summary>
    private static readonly Dictionary<string, Action<SimdTier>> OracleChecks = new()
    {
        ["Winograd convolution: the direct double oracle, and split into parts to the same bits"] = tier =>
        {
            foreach (var (c, h, w, n) in EfficientKernelSelfCheck.WinogradShapes)
                for (ulong seed = 1; seed <= 2; seed++) EfficientKernelSelfCheck.Winograd(tier, c, h, w, n, seed);
        },
        ["Depthwise convolution: the double oracle"] = tier =>
        {
            foreach (var (c, side, k) in EfficientKernelSelfCheck.DepthwiseShapes)
                EfficientKernelSelfCheck.Depthwise(tier, c, side, k, seed: (ulong)(c + side + k));
        },
        ["Efficient squash: the formula"] = tier =>
        {
            foreach (var (count, dims, scale, seed) in KernelSelfCheck.SquashCases()) EfficientKernelSelfCheck.Squash(tier, count, dims, scale, seed);
        },
        ["Self-attention routing: the reference model"] = tier =>
        {
            foreach (var (n, d, j, o) in EfficientKernelSelfCheck.RoutingShapes)
                for (ulong seed = 1; seed <= 3; seed++) EfficientKernelSelfCheck.Routing(tier, n, d, j, o, seed);
        },
    };

    public static TheoryData<string, SimdTier> KernelsOnEveryTier() => TierRequirement.OnEveryTier(OracleChecks.Keys);

    [Theory]
    [MemberData(nameof(KernelsOnEveryTier))]
    public void Kernel_matches_its_oracle(string check, SimdTier tier) => TierRequirement.RunCheck(OracleChecks[check], tier, RunSmall);

    [Fact]
    public void Winograd_convolution_rejects_odd_outputs_and_short_buffers()
    {
        Assert.False(WinogradConvolution.Fits(3, 1, 9, 9));
        Assert.False(WinogradConvolution.Fits(3, 2, 10, 10));
        Assert.True(WinogradConvolution.Fits(3, 1, 22, 20));
        float[] packed = new float[WinogradConvolution.PackedLength(16, 4)];
        Assert.Throws<ArgumentException>(() => WinogradConvolution.Run(new float[5 * 5 * 4], 4, 5, 5, packed, 16, default, Activation.Relu,
            new float[3 * 3 * 16], new float[100_000], SimdTier.Scalar));
        Assert.Throws<ArgumentException>(() => WinogradConvolution.Run(new float[6 * 6 * 4], 4, 6, 6, packed, 16, default, Activation.Relu,
            new float[4 * 4 * 16], new float[10], SimdTier.Scalar));
        Assert.Throws<ArgumentException>(() => WinogradConvolution.Run(new float[6 * 6 * 4], 4, 6, 6, packed, 16, default, Activation.Sigmoid,
            new float[4 * 4 * 16], new float[100_000], SimdTier.Scalar));
        // A 6×6 input has 2×2 = 4 tiles: a range past them, or reversed, names itself.
        float[] transformed = new float[WinogradConvolution.TransformedLength(4, 4, 4)];
        float[] products = new float[WinogradConvolution.ProductsLength(16, 4, 4)];
        var pastTheEnd = Assert.Throws<ArgumentOutOfRangeException>(() => WinogradConvolution.TransformInputTiles(new float[6 * 6 * 4], 4, 6, 6,
            transformed, SimdTier.Scalar, 2, 5));
        Assert.Contains("[2, 5) is not a range of [0, 4)", pastTheEnd.Message);
        var reversed = Assert.Throws<ArgumentOutOfRangeException>(() => WinogradConvolution.MultiplyOutputTiles(transformed, 4, 4, 4, packed, 16,
            default, Activation.Relu, products, new float[4 * 4 * 16], SimdTier.Scalar, 3, 1));
        Assert.Contains("[3, 1) is not a range of [0, 4)", reversed.Message);
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

        // Winograd at MNIST's stem.2 shape: the tiers differ only in the GEMMs' rounding (|out| ≲ 30, 64-term sums of ≤ 9-fold products).
        float[] map = KernelSelfCheck.Random(random, 22 * 22 * 64, 0f, 1f);
        float[] filters = KernelSelfCheck.Random(random, 64 * 64 * 9, -0.2f, 0.2f);
        float[] transformed = new float[WinogradConvolution.PackedLength(64, 64)];
        WinogradConvolution.PackWeights(filters, 64, 64, transformed);
        float[] work = new float[WinogradConvolution.TransformedLength(64, 20, 20) + WinogradConvolution.ProductsLength(64, 20, 20)];
        float[] mapScalar = new float[20 * 20 * 64], mapVector = new float[20 * 20 * 64];
        WinogradConvolution.Run(map, 64, 22, 22, transformed, 64, bias.AsSpan(0, 64), Activation.None, mapScalar, work, SimdTier.Scalar);
        WinogradConvolution.Run(map, 64, 22, 22, transformed, 64, bias.AsSpan(0, 64), Activation.None, mapVector, work, tier);
        for (int k = 0; k < mapScalar.Length; k++) Assert.Equal(mapScalar[k], mapVector[k], 1e-4f);
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
        float[] map = new float[8 * 8 * 32], filters = new float[WinogradConvolution.PackedLength(64, 32)], mapOut = new float[6 * 6 * 64];
        float[] work = new float[WinogradConvolution.TransformedLength(32, 6, 6) + WinogradConvolution.ProductsLength(64, 6, 6)];
        map.AsSpan().Fill(0.5f);
        Allocations.AssertNone(() =>
        {
            WinogradConvolution.Run(map, 32, 8, 8, filters, 64, default, Activation.Relu, mapOut, work, tier);
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
