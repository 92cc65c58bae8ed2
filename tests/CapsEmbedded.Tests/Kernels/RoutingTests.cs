using CapsEmbedded.Kernels;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>Routing (Procedure 1) on every tier against a double implementation (tolerance in <see cref="KernelSelfCheck.Routing"/>).</summary>
public sealed class RoutingTests
{
    private static void RunSmall(SimdTier tier) =>
        Routing.Run(new float[4 * 3 * 16], 4, 3, 16, 3, new float[12], new float[12], new float[48], tier);

    [Theory]
    [AllTiers]
    public void Matches_double_procedure_for_1_to_3_iterations(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        foreach (var (n, j, d) in KernelSelfCheck.RoutingShapes)
        {
            for (int iterations = 1; iterations <= 3; iterations++)
            {
                // scale 3 makes agreements large enough that the couplings move far from uniform.
                foreach (float scale in new[] { 1f, 3f })
                {
                    KernelSelfCheck.Routing(tier, n, j, d, iterations, scale, seed: (ulong)(n + 13 * iterations));
                }
            }
        }
    }

    /// <summary>
    /// The agreement step's AddDots (two d = 16 dots a step on the 128-bit tier) against b += Dot one dot at a time, the
    /// loop it replaced: the same bits on every tier, for counts odd and even, every length 0..40, and special values
    /// (−0 products, subnormals, infinities, NaN).
    /// </summary>
    [Theory]
    [AllTiers]
    public void AddDots_adds_what_Dot_gives_bit_for_bit(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        var random = new DeterministicRandom(33);
        float[] specials = [-0f, 0f, float.Epsilon, -float.Epsilon, 1e-30f, float.PositiveInfinity, float.NaN, 3e38f];
        for (int length = 0; length <= 40; length++)
        {
            foreach (int count in new[] { 0, 1, 2, 3, 10, 11 })
            {
                float[] x = new float[count * length + 1], y = new float[count * length + 1];
                for (int i = 0; i < x.Length; i++)
                {
                    x[i] = random.NextInt(9) == 0 ? specials[random.NextInt(specials.Length)] : random.NextUniform(-1f, 1f);
                    y[i] = random.NextInt(9) == 0 ? specials[random.NextInt(specials.Length)] : random.NextUniform(-1f, 1f);
                }

                float[] expected = new float[count + 1], actual = new float[count + 1];
                for (int t = 0; t <= count; t++) expected[t] = actual[t] = t == 0 ? -0f : random.NextUniform(-4f, 4f);
                for (int t = 0; t < count; t++)
                    expected[t] += VectorMath.Dot(ref x[t * length], ref y[t * length], length, tier);
                VectorMath.AddDots(ref actual[0], ref x[0], ref y[0], count, length, tier);
                FloatBits.AssertSame(expected, actual, $"{tier} length {length} count {count}: sums, against one Dot each");
            }
        }
    }

    [Theory]
    [AllTiers]
    public void First_iteration_couples_uniformly_and_zero_predictions_give_zero_capsules(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        const int n = 6, j = 4, d = 8;
        float[] coupling = new float[n * j], v = new float[j * d];
        Routing.Run(new float[n * j * d], n, j, d, 3, new float[n * j], coupling, v, tier);
        Assert.All(coupling, c => Assert.Equal(0.25f, c));
        Assert.All(v, value => Assert.Equal(0f, value));
    }

    [Theory]
    [AllTiers]
    public void Agreeing_predictions_win_the_coupling(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        // Every primary capsule predicts the same vector for digit 1 and random ones for the others: after 3 iterations the
        // couplings to digit 1 must exceed 1/J and |v_1| must be the largest.
        const int n = 50, j = 5, d = 16;
        var random = new DeterministicRandom(9);
        float[] uHat = KernelSelfCheck.Random(random, n * j * d, -0.3f, 0.3f);
        for (int i = 0; i < n; i++)
        {
            for (int t = 0; t < d; t++) uHat[(i * j + 1) * d + t] = 0.2f;
        }

        float[] coupling = new float[n * j], v = new float[j * d], lengths = new float[j];
        Routing.Run(uHat, n, j, d, 3, new float[n * j], coupling, v, tier);
        CapsuleLengths.Run(v, j, d, lengths, tier);
        Assert.Equal(1, Array.IndexOf(lengths, lengths.Max()));
        for (int i = 0; i < n; i++) Assert.True(coupling[i * j + 1] > 1f / j);
        KernelSelfCheck.RoutingWith(tier, uHat, n, j, d, 3);
    }

    [Theory]
    [AllTiers]
    public void Run_allocates_nothing(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        float[] uHat = new float[1152 * 160], logits = new float[11520], coupling = new float[11520], v = new float[160];
        uHat.AsSpan().Fill(0.01f);
        Allocations.AssertNone(() => Routing.Run(uHat, 1152, 10, 16, 3, logits, coupling, v, tier));
    }

    [Fact]
    public void Wrong_lengths_and_iterations_throw()
    {
        var shortScratch = Assert.Throws<ArgumentException>(() =>
            Routing.Run(new float[48], 1, 3, 16, 3, new float[2], new float[3], new float[48], SimdTier.Scalar));
        Assert.Equal("logits", shortScratch.ParamName);
        Assert.Contains("3", shortScratch.Message);
        var shortV = Assert.Throws<ArgumentException>(() =>
            Routing.Run(new float[48], 1, 3, 16, 3, new float[3], new float[3], new float[47], SimdTier.Scalar));
        Assert.Contains("48", shortV.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Routing.Run(new float[48], 1, 3, 16, 0, new float[3], new float[3], new float[48], SimdTier.Scalar));
    }
}
