using CapsEmbedded.Kernels;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>PackedGemm on every tier against the double oracle in <see cref="KernelSelfCheck"/> (tolerance stated there).</summary>
public sealed class PackedGemmTests
{
    public static TheoryData<SimdTier, int> TiersAndRows()
    {
        var data = new TheoryData<SimdTier, int>();
        foreach (SimdTier tier in Enum.GetValues<SimdTier>())
        {
            foreach (int m in KernelSelfCheck.GemmRows)
            {
                data.Add(tier, m);
            }
        }

        return data;
    }

    private static void RunSmall(SimdTier tier) => KernelSelfCheck.Gemm(tier, 6, 16, 8, Activation.None, true, 1);

    [Theory]
    [MemberData(nameof(TiersAndRows))]
    public void Matches_oracle_for_every_n_k_and_activation(SimdTier tier, int m)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        int variant = m;
        foreach (int n in KernelSelfCheck.GemmColumns)
        {
            foreach (int k in KernelSelfCheck.GemmDepths)
            {
                variant++;
                KernelSelfCheck.Gemm(tier, m, n, k, (Activation)(variant % 3), withBias: variant % 2 == 0, seed: (ulong)variant);
            }
        }
    }

    [Theory]
    [AllTiers]
    public void Matches_oracle_for_many_k_blocks_gemv_and_paper_shapes(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        foreach (var (m, n, k) in KernelSelfCheck.LargeGemmShapes)
        {
            foreach (Activation activation in Enum.GetValues<Activation>())
            {
                KernelSelfCheck.Gemm(tier, m, n, k, activation, withBias: activation != Activation.None, seed: (ulong)(m + n + k));
            }
        }
    }

    [Theory]
    [AllTiers]
    public void Tiles_sum_each_output_in_column_order_bit_for_bit(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        foreach (int n in new[] { 40, 48, 64 })
        {
            foreach (double zeroShare in new[] { 0.0, 0.5, 0.95 })
            {
                KernelSelfCheck.GemmColumnOrder(tier, n, zeroShare, seed: (ulong)(n * 7 + (int)(zeroShare * 100)));
            }
        }
    }

    [Theory]
    [AllTiers]
    public void Random_shapes_match_oracle(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        var random = new DeterministicRandom(2024);
        for (int trial = 0; trial < 150; trial++)
        {
            int m = random.NextInt(14), n = 1 + random.NextInt(40), k = 1 + random.NextInt(100);
            KernelSelfCheck.Gemm(tier, m, n, k, (Activation)random.NextInt(3), random.NextInt(2) == 0, (ulong)trial);
        }
    }

    [Theory]
    [AllTiers]
    public void Relu_zeroes_negative_sums_and_keeps_positive_ones(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        // One row of ones; channel j has weights (j − 8) so the sums are (j − 8)·k + bias: negative, zero and positive.
        const int m = 7, n = 19, k = 300;
        float[] a = Enumerable.Repeat(1f, m * k).ToArray();
        float[] b = Enumerable.Range(0, n * k).Select(index => (float)(index / k - 8)).ToArray();
        float[] bias = Enumerable.Range(0, n).Select(j => j == 8 ? -0.5f : 0.25f).ToArray();
        var packed = new float[PackedGemm.PackedLength(n, k)];
        PackedGemm.Pack(b, n, k, packed);
        var c = new float[m * n];
        PackedGemm.Multiply(a, m, k, packed, n, bias, Activation.Relu, c, tier);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float expected = Math.Max(0f, (j - 8) * k + bias[j]);
                Assert.Equal(expected, c[i * n + j]);
            }
        }
    }

    [Theory]
    [AllTiers]
    public void Large_values_and_zeros_stay_within_tolerance(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        var random = new DeterministicRandom(7);
        const int m = 9, n = 35, k = 513;
        float[] a = KernelSelfCheck.Random(random, m * k, -1e15f, 1e15f);
        float[] b = KernelSelfCheck.Random(random, n * k, -1e15f, 1e15f);
        for (int i = 0; i < a.Length; i += 3) a[i] = 0f;
        KernelSelfCheck.GemmWith(tier, a, b, [], m, n, k, Activation.None);
        KernelSelfCheck.GemmWith(tier, new float[m * k], b, new float[n], m, n, k, Activation.Sigmoid); // sigmoid(0) = 0.5
    }

    [Theory]
    [AllTiers]
    public void Panel_ranges_and_row_ranges_reproduce_the_whole_product_bit_for_bit(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        var random = new DeterministicRandom(21);
        foreach (var (m, n, k) in new[] { (36, 256, 600), (7, 40, 300), (400, 32, 81), (13, 16, 5), (1, 70, 33) })
        {
            float[] a = KernelSelfCheck.Random(random, m * k, -1f, 1f);
            float[] b = KernelSelfCheck.Random(random, n * k, -1f, 1f);
            float[] bias = KernelSelfCheck.Random(random, n, -1f, 1f);
            var packed = new float[PackedGemm.PackedLength(n, k)];
            PackedGemm.Pack(b, n, k, packed);
            foreach (Activation activation in Enum.GetValues<Activation>())
            {
                var whole = new float[m * n];
                PackedGemm.Multiply(a, m, k, packed, n, bias, activation, whole, tier);
                int panels = PackedGemm.PanelCount(n);
                foreach (int parts in new[] { 2, 3, 5 })
                {
                    var split = new float[m * n];
                    split.AsSpan().Fill(float.NaN);
                    int begin = 0;
                    for (int part = 0; part < parts; part++)
                    {
                        int end = panels * (part + 1) / parts;
                        PackedGemm.MultiplyPanels(a, m, k, packed, n, bias, activation, split, tier, begin, end);
                        begin = end;
                    }

                    FloatBits.AssertSame(whole, split, $"{m}x{n}x{k} {activation} {tier}, {parts} panel ranges");
                }

                // Rows cut at multiples of RowGranule, as the generated model splits conv1.
                var byRows = new float[m * n];
                for (int first = 0; first < m; first += 2 * PackedGemm.RowGranule)
                {
                    int rows = Math.Min(2 * PackedGemm.RowGranule, m - first);
                    PackedGemm.Multiply(a.AsSpan(first * k, rows * k), rows, k, packed, n, bias, activation,
                        byRows.AsSpan(first * n, rows * n), tier);
                }

                FloatBits.AssertSame(whole, byRows, $"{m}x{n}x{k} {activation} {tier}, row ranges");
            }
        }

        // A range leaves the other columns alone, and a range outside the panels is refused.
        var c = new float[6 * 40];
        c.AsSpan().Fill(-7f);
        var p = new float[PackedGemm.PackedLength(40, 3)];
        PackedGemm.MultiplyPanels(new float[18], 6, 3, p, 40, default, Activation.None, c, tier, 1, 2);
        for (int t = 0; t < c.Length; t++) Assert.Equal(t % 40 is >= 16 and < 32 ? 0f : -7f, c[t]);
        Assert.Throws<ArgumentOutOfRangeException>(() => PackedGemm.MultiplyPanels(new float[18], 6, 3, p, 40, default, Activation.None, c, tier, 2, 4));
    }

    [Theory]
    [AllTiers]
    public void Multiply_allocates_nothing(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        const int m = 13, n = 37, k = 700;
        float[] a = new float[m * k], packed = new float[PackedGemm.PackedLength(n, k)], bias = new float[n], c = new float[m * n];
        Allocations.AssertNone(() =>
        {
            PackedGemm.Multiply(a, m, k, packed, n, bias, Activation.Sigmoid, c, tier);
            PackedGemm.Multiply(a, m, k, packed, n, ReadOnlySpan<float>.Empty, Activation.Relu, c, tier);
        });
    }

    [Theory]
    [InlineData(300)] // one full block of 256 and a last block of 44
    [InlineData(3)] // a single k block: plain panels, k × 16 floats each
    public void Pack_lays_out_k_blocks_of_panels_of_16_channels_zero_padded(int k)
    {
        // n = 18 = one full panel and one of 2 channels + 14 zeros.
        const int n = 18, kb = PackedGemm.KBlock;
        float[] b = Enumerable.Range(0, n * k).Select(index => (float)(index + 1)).ToArray();
        var packed = new float[PackedGemm.PackedLength(n, k)];
        Assert.Equal(2 * 16 * k, packed.Length);
        PackedGemm.Pack(b, n, k, packed);
        for (int j = 0; j < 32; j++)
        {
            for (int kk = 0; kk < k; kk++)
            {
                int k0 = kk / kb * kb, kc = Math.Min(kb, k - k0);
                float expected = j < n ? b[j * k + kk] : 0f;
                Assert.Equal(expected, packed[k0 * 32 + (j / 16) * kc * 16 + (kk - k0) * 16 + j % 16]);
            }
        }
    }

    [Fact]
    public void Wrong_lengths_throw_naming_the_expected_length()
    {
        float[] packed = new float[PackedGemm.PackedLength(20, 10)];
        var shortA = Assert.Throws<ArgumentException>(() =>
            PackedGemm.Multiply(new float[29], 3, 10, packed, 20, [], Activation.None, new float[60], SimdTier.Scalar));
        Assert.Equal("a", shortA.ParamName);
        Assert.Contains("30", shortA.Message);
        var shortC = Assert.Throws<ArgumentException>(() =>
            PackedGemm.Multiply(new float[30], 3, 10, packed, 20, [], Activation.None, new float[59], SimdTier.Scalar));
        Assert.Contains("60", shortC.Message);
        var shortB = Assert.Throws<ArgumentException>(() =>
            PackedGemm.Multiply(new float[30], 3, 10, packed.AsSpan(1), 20, [], Activation.None, new float[60], SimdTier.Scalar));
        Assert.Contains(packed.Length.ToString(), shortB.Message);
        var badBias = Assert.Throws<ArgumentException>(() =>
            PackedGemm.Multiply(new float[30], 3, 10, packed, 20, new float[19], Activation.None, new float[60], SimdTier.Scalar));
        Assert.Equal("bias", badBias.ParamName);
        Assert.Throws<ArgumentException>(() => PackedGemm.Pack(new float[199], 20, 10, packed));
        Assert.Throws<ArgumentOutOfRangeException>(() => PackedGemm.PackedLength(-1, 3));
    }

    [Fact]
    public void Best_tier_is_the_widest_supported_one_unless_512_bits_run_at_half_rate()
    {
        SimdTier widest = Enum.GetValues<SimdTier>().Where(SimdTiers.IsSupported)
            .Where(t => t != SimdTier.Vector512 || !SimdTiers.HalfRateVector512).Max();
        Assert.Equal(widest, SimdTiers.Best);
        KernelSelfCheck.Gemm(SimdTiers.Best, 5, 20, 30, Activation.Relu, true, 3);
    }
}
