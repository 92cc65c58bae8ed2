using CapsEmbedded.Kernels;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>Squash (eq. 1) on every tier against the double formula (tolerance stated in <see cref="KernelSelfCheck.Squash"/>).</summary>
public sealed class SquashTests
{
    private static void RunSmall(SimdTier tier) => Squash.Run(new float[8], 1, 8, tier);

    [Theory]
    [AllTiers]
    public void Matches_formula_for_every_dims_and_scale(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        foreach (var (count, dims, scale, seed) in KernelSelfCheck.SquashCases())
            KernelSelfCheck.Squash(tier, count, dims, scale, seed);
    }

    [Theory]
    [AllTiers]
    public void Zero_vector_stays_exactly_zero_and_lengths_are_below_one(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        float[] vectors = new float[3 * 16];
        vectors[16] = 3f; // |s| = 3 → |v| = 9/10
        vectors[32 + 5] = -1e30f; // → |v| just below 1
        Squash.Run(vectors, 3, 16, tier);
        Assert.All(vectors[..16], value => Assert.Equal(0f, value));
        Assert.Equal(0.9f, vectors[16], 6); // |s| = 3: v = 9/(1 + 9) · s/|s|
        Assert.Equal(-1f, vectors[32 + 5], 6);
        Span<float> lengths = stackalloc float[3];
        CapsuleLengths.Run(vectors, 3, 16, lengths, tier);
        Assert.Equal(0f, lengths[0]);
        Assert.Equal(0.9f, lengths[1], 6);
        Assert.True(lengths[2] <= 1f);
    }

    [Theory]
    [AllTiers]
    public void Run_allocates_nothing(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        float[] vectors = new float[1152 * 8];
        vectors.AsSpan().Fill(0.5f);
        Allocations.AssertNone(() => Squash.Run(vectors, 1152, 8, tier));
    }

    [Fact]
    public void Wrong_lengths_throw_naming_the_expected_length()
    {
        var error = Assert.Throws<ArgumentException>(() => Squash.Run(new float[15], 2, 8, SimdTier.Scalar));
        Assert.Contains("16", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Squash.Run(new float[16], 2, 0, SimdTier.Scalar));
        Assert.Throws<ArgumentOutOfRangeException>(() => Squash.Run(new float[16], -1, 8, SimdTier.Scalar));
    }

    [Fact]
    public void Without_a_tier_both_squashes_run_on_the_best_tier()
    {
        var random = new Random(12);
        float[] input = Enumerable.Range(0, 3 * 16).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        float[] paper = (float[])input.Clone(), paperBest = (float[])input.Clone();
        Squash.Run(paper, 3, 16);
        Squash.Run(paperBest, 3, 16, SimdTiers.Best);
        Assert.Equal(paperBest, paper);
        Assert.NotEqual(input, paper);
        float[] efficient = (float[])input.Clone(), efficientBest = (float[])input.Clone();
        EfficientSquash.Run(efficient, 3, 16);
        EfficientSquash.Run(efficientBest, 3, 16, SimdTiers.Best);
        Assert.Equal(efficientBest, efficient);
        Assert.NotEqual(input, efficient);
    }
}
