using CapsEmbedded.Kernels;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>û_{j|i} = W_ij u_i (eq. 2) on every tier against double (tolerance in <see cref="KernelSelfCheck.CapsuleTransform"/>).</summary>
public sealed class CapsuleTransformTests
{
    private static void RunSmall(SimdTier tier) => CapsuleTransform.Run(new float[8], new float[128], 1, 1, 16, 8, new float[16], tier);

    [Theory]
    [AllTiers]
    public void Matches_double_for_paper_tiny_and_odd_shapes(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        foreach (var (n, j, d, p, seed) in KernelSelfCheck.TransformCases())
        {
            KernelSelfCheck.CapsuleTransform(tier, n, j, d, p, seed);
        }

        for (int d = 1; d <= 20; d++)
        {
            for (int p = 1; p <= 9; p += 4)
            {
                KernelSelfCheck.CapsuleTransform(tier, 3, 2, d, p, seed: (ulong)(d * 10 + p));
            }
        }
    }

    [Theory]
    [AllTiers]
    public void Four_vector_rows_sum_each_lane_as_two_vector_halves_do(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        foreach (int p in new[] { 1, 2, 3, 8, 9, 17 })
        {
            KernelSelfCheck.TransformChunks(tier, p, seed: (ulong)(p + 40));
        }
    }

    [Fact]
    public void PackWeights_transposes_each_W_ij()
    {
        // n = 1, j = 2, d = 3, p = 2: W_0j is 3×2 row-major; packed is 2×3.
        float[] w = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        var packed = new float[12];
        CapsuleTransform.PackWeights(w, 1, 2, 3, 2, packed);
        Assert.Equal([1, 3, 5, 2, 4, 6, 7, 9, 11, 8, 10, 12], packed);
    }

    [Theory]
    [AllTiers]
    public void Run_allocates_nothing(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        float[] u = new float[1152 * 8], w = new float[1152 * 10 * 128], uHat = new float[1152 * 10 * 16];
        Allocations.AssertNone(() => CapsuleTransform.Run(u, w, 1152, 10, 16, 8, uHat, tier));
    }

    [Fact]
    public void Wrong_lengths_throw_naming_the_expected_length()
    {
        var shortU = Assert.Throws<ArgumentException>(() =>
            CapsuleTransform.Run(new float[15], new float[2 * 10 * 128], 2, 10, 16, 8, new float[320], SimdTier.Scalar));
        Assert.Equal("u", shortU.ParamName);
        Assert.Contains("16", shortU.Message);
        var shortOut = Assert.Throws<ArgumentException>(() =>
            CapsuleTransform.Run(new float[16], new float[2 * 10 * 128], 2, 10, 16, 8, new float[319], SimdTier.Scalar));
        Assert.Contains("320", shortOut.Message);
        Assert.Throws<ArgumentException>(() => CapsuleTransform.PackWeights(new float[10], 1, 2, 3, 2, new float[12]));
    }
}
