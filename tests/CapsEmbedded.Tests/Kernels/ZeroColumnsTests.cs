using CapsEmbedded.Kernels;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>
/// PackedGemm's zero-column skipping (PackedGemm.ZeroColumns.cs) on every tier: <see cref="ZeroColumns.Skip"/> gives the
/// bits of <see cref="ZeroColumns.Compute"/> (the loop over every column), and both agree with the double oracle in
/// <see cref="KernelSelfCheck"/>, as the Scalar reference does on the same data. Each sparse case also checks that the
/// tile's listed loop really ran (a block with fewer than 7/8 of its columns non-zero), so that it cannot pass on the
/// dense loop alone.
/// </summary>
public sealed class ZeroColumnsTests
{
    /// <summary>A block's columns are listed when fewer than Numerator/Denominator of them are non-zero (PackedGemm.DenseColumnShare).</summary>
    private const int DenseNumerator = 7, DenseDenominator = 8;

    /// <summary>Zero patterns of A.</summary>
    public enum Sparsity
    {
        /// <summary>No zero at all: every block runs dense.</summary>
        Dense,

        /// <summary>Half the values zero, each on its own: a 6-row tile has few all-zero columns, so mostly dense.</summary>
        HalfZeros,

        /// <summary>80 % zeros: about a quarter of a 6-row tile's columns are all zero.</summary>
        FourFifthsZeros,

        /// <summary>95 % zeros.</summary>
        MostlyZeros,

        /// <summary>70 % of the k columns zero in every row, the others without zeros.</summary>
        WholeColumnsZero,

        /// <summary>95 % zeros in the first k block, none after: listed and dense blocks add onto one tile's partial sums.</summary>
        SparseFirstBlock,

        /// <summary>Every value zero: no column is listed.</summary>
        AllZero,
    }

    // (m, n, k): the primary capsules with k cut to 2 k blocks + 37 (the scan's 8-, 4- and 1-wide tails in the last
    // block); 13 rows (a leftover row for 6- and 4-row tiles) with a partial last panel; one k block of 263 − 256 = 7.
    private static readonly (int M, int N, int K)[] GemmShapes = [(36, 256, 2 * PackedGemm.KBlock + 37), (13, 40, 549), (9, 33, 263)];

    // (C, H, W, K, stride, n) of the convolutions: the primary capsules (blocks read in place); a 7-wide output (tiles
    // cross output rows: gathered); C = 300 (k blocks cross window rows); 64 channels, stride 2 and three panels.
    private static readonly (int C, int H, int W, int K, int Stride, int N) PaperConvolution = (256, 20, 20, 9, 2, 256);
    private static readonly (int C, int H, int W, int K, int Stride, int N)[] SmallConvolutions = [(5, 9, 9, 3, 1, 40), (300, 6, 8, 2, 2, 40), (64, 13, 11, 3, 2, 48)];

    private static void RunSmall(SimdTier tier) =>
        PackedGemm.MultiplyPanels(new float[6 * 2], 6, 2, new float[PackedGemm.PackedLength(32, 2)], 32, [], Activation.None,
            new float[6 * 32], tier, 0, 2, ZeroColumns.Skip);

    [Theory]
    [AllTiers]
    public void Sparse_a_gives_the_bits_of_every_column_computed_and_the_oracle_sums(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        ulong seed = 1;
        foreach (var (m, n, k) in GemmShapes)
        {
            foreach (Sparsity sparsity in Enum.GetValues<Sparsity>())
            {
                var random = new DeterministicRandom(seed++);
                float[] a = SparseA(sparsity, random, m, k);
                float[] b = KernelSelfCheck.Random(random, n * k, -1f, 1f);
                float[] bias = KernelSelfCheck.Random(random, n, -1f, 1f);
                string what = $"{m}x{n}x{k} {sparsity} {tier}";
                // The Scalar reference has no zero-column path (ZeroColumns does not reach it): only the oracle check.
                if (tier != SimdTier.Scalar)
                {
                    AssertListedLoopRuns(sparsity, a, m, k, TileRows(tier), what);
                    float[] packed = Packed(b, n, k);
                    int panels = PackedGemm.PanelCount(n);
                    foreach (Activation activation in Enum.GetValues<Activation>())
                    {
                        SkipEqualsCompute(tier, a, m, k, packed, n, bias, activation, 0, panels, $"{what} {activation} bias");
                        SkipEqualsCompute(tier, a, m, k, packed, n, [], activation, 0, panels, $"{what} {activation} no bias");
                    }

                    // One panel (no scan), and two ranges that start past panel 0 (the second one the partial panel's).
                    var activationOfRange = (Activation)(seed % 3);
                    foreach (var (begin, end) in new[] { (0, 1), (1, 3), (2, panels) })
                    {
                        SkipEqualsCompute(tier, a, m, k, packed, n, seed % 2 == 0 ? bias : [], activationOfRange, begin, end,
                            $"{what} {activationOfRange} panels [{begin}, {end})");
                    }
                }

                // Multiply covers every panel (≥ 2 here), so it skips on the SIMD tiers.
                KernelSelfCheck.GemmWith(tier, a, b, seed % 2 == 0 ? bias : [], m, n, k, (Activation)(seed % 3));
            }
        }
    }

    [Theory]
    [AllTiers]
    public void All_zero_a_gives_the_activation_of_the_bias_exactly(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        var random = new DeterministicRandom(3);
        foreach (var (m, n, k) in GemmShapes)
        {
            float[] a = new float[m * k];
            float[] packed = Packed(KernelSelfCheck.Random(random, n * k, -1f, 1f), n, k);
            float[] bias = KernelSelfCheck.Random(random, n, -4f, 4f);
            foreach (Activation activation in Enum.GetValues<Activation>())
            {
                foreach (float[] biasOrNone in new float[][] { bias, [] })
                {
                    float[] expected = new float[m * n];
                    for (int t = 0; t < expected.Length; t++)
                    {
                        float sum = biasOrNone.Length == 0 ? 0f : biasOrNone[t % n];
                        // The kernels' own formulas: Relu max(x, 0), sigmoid 1 / (1 + e^−x) (PackedGemm.ApplySigmoid).
                        expected[t] = activation switch
                        {
                            Activation.Relu => MathF.Max(sum, 0f),
                            Activation.Sigmoid => 1f / (1f + MathF.Exp(-sum)),
                            _ => sum,
                        };
                    }

                    string what = $"all-zero A {m}x{n}x{k} {activation} bias {biasOrNone.Length > 0} {tier}";
                    float[] skip = SkipEqualsCompute(tier, a, m, k, packed, n, biasOrNone, activation, 0, PackedGemm.PanelCount(n), what);
                    AssertSameSums(expected, skip, what);
                }
            }
        }
    }

    [Theory]
    [AllTiers]
    public void Nan_and_infinity_in_an_otherwise_zero_column_are_summed_and_negative_zero_is_skipped(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        const int m = 13, n = 40, k = 300;
        // Rows 1 and 8 lie in different row tiles of 6 and of 4 rows, row 12 is left to the 1-row kernel; columns in
        // the first k block, in the last one's tail (kk 41 of 44), and in the middle of the first.
        (int Row, int Column)[] places = [(1, 5), (8, 297), (12, 100)];
        foreach (float special in new[] { float.NaN, float.PositiveInfinity, -0f })
        {
            var random = new DeterministicRandom(11);
            float[] a = SparseA(Sparsity.MostlyZeros, random, m, k);
            float[] b = KernelSelfCheck.Random(random, n * k, -1f, 1f);
            float[] bias = KernelSelfCheck.Random(random, n, -1f, 1f);
            foreach (var (_, column) in places)
            {
                for (int i = 0; i < m; i++) a[i * k + column] = 0f;
            }

            foreach (var (row, column) in places) a[row * k + column] = special;
            string what = $"A = {special} {tier}";
            if (tier != SimdTier.Scalar)
            {
                // The blocks that hold the special values run the listed loop, so a wrong skip would show.
                int rows = TileRows(tier);
                foreach (var (row, column) in places.Take(2))
                {
                    int row0 = row / rows * rows, k0 = column / PackedGemm.KBlock * PackedGemm.KBlock;
                    Assert.True(IsListed(a, k, row0, rows, k0, Math.Min(PackedGemm.KBlock, k - k0)), $"{what}: block ({row0}, {k0}) runs dense");
                }
            }

            float[] packed = Packed(b, n, k);
            foreach (Activation activation in Enum.GetValues<Activation>())
            {
                SkipEqualsCompute(tier, a, m, k, packed, n, bias, activation, 0, PackedGemm.PanelCount(n), $"{what} {activation}");
            }

            float[] c = SkipEqualsCompute(tier, a, m, k, packed, n, bias, Activation.None, 0, PackedGemm.PanelCount(n), what);
            for (int i = 0; i < m; i++)
            {
                int column = Array.FindIndex(places, place => place.Row == i) is int p and >= 0 ? places[p].Column : -1;
                for (int j = 0; j < n; j++)
                {
                    float value = c[i * n + j];
                    if (column < 0 || float.IsFinite(special))
                    {
                        Assert.True(float.IsFinite(value), $"{what}: C[{i},{j}] = {value}");
                    }
                    else if (float.IsNaN(special))
                    {
                        Assert.True(float.IsNaN(value), $"{what}: C[{i},{j}] = {value}, expected NaN");
                    }
                    else
                    {
                        Assert.Equal(b[j * k + column] > 0 ? float.PositiveInfinity : float.NegativeInfinity, value);
                    }
                }
            }

            if (float.IsFinite(special))
            {
                KernelSelfCheck.GemmWith(tier, a, b, bias, m, n, k, Activation.None);
            }
        }
    }

    [Theory]
    [AllTiers]
    public void A_sum_that_underflows_to_zero_differs_at_most_in_its_sign(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        // Every row: 1e-30 · (−1e-30) underflows to −0, then a zero column (listed: 1 of 2 columns is under 7/8) whose
        // product +0 the dense loop adds: −0 + +0 = +0, while Skip leaves −0. The documented exception, and why the
        // other comparisons here accept either sign of zero. It survives only a bias of −0: no bias adds +0 (the
        // kernels' zero bias), which makes both +0.
        const int m = 6, n = 32, k = 2;
        float[] a = Enumerable.Range(0, m * k).Select(t => t % k == 0 ? 1e-30f : 0f).ToArray();
        float[] b = Enumerable.Range(0, n * k).Select(t => t % k == 0 ? -1e-30f : 1f).ToArray();
        float[] packed = Packed(b, n, k);
        var skip = new float[m * n];
        var compute = new float[m * n];
        float[] bias = Enumerable.Repeat(-0f, n).ToArray();
        PackedGemm.MultiplyPanels(a, m, k, packed, n, bias, Activation.None, skip, tier, 0, 2, ZeroColumns.Skip);
        PackedGemm.MultiplyPanels(a, m, k, packed, n, bias, Activation.None, compute, tier, 0, 2, ZeroColumns.Compute);
        Assert.All(skip, value => Assert.Equal(0f, value));
        Assert.All(compute, value => Assert.Equal(0f, value));
        if (tier is SimdTier.Vector256 or SimdTier.Vector512)
        {
            // These tiers always fuse the multiply-add, so the underflowed −0 is the running sum.
            Assert.All(skip, value => Assert.True(float.IsNegative(value), "Skip keeps the −0 of the underflowed product"));
            Assert.All(compute, value => Assert.False(float.IsNegative(value), "Compute adds +0 to it"));
        }
    }

    [Fact]
    public void NonzeroColumns_lists_the_columns_where_some_row_is_not_zero_in_increasing_order()
    {
        var random = new DeterministicRandom(5);
        // Non-zero values the scan must keep (NaN ≠ 0, the smallest subnormals), and a zero it must drop (−0).
        float[] specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon];
        const int Guard = -7;
        int checks = 0;
        foreach (bool wide in new[] { false, true })
        {
            foreach (int rows in new[] { 2, 4, 6 })
            {
                foreach (int kc in Enumerable.Range(1, 40).Append(PackedGemm.KBlock))
                {
                    foreach (int gap in new[] { 0, 3, 9 })
                    {
                        foreach (double zeroShare in new[] { 0.3, 0.8, 0.97, 1.0 })
                        {
                            int lda = kc + gap;
                            // Between rows (lda > kc) lie non-zero values the scan must not read as columns.
                            float[] a = Enumerable.Repeat(float.NaN, (rows - 1) * lda + kc).ToArray();
                            for (int r = 0; r < rows; r++)
                            {
                                for (int kk = 0; kk < kc; kk++)
                                {
                                    a[r * lda + kk] = random.NextDouble() < zeroShare ? (random.NextInt(2) == 0 ? 0f : -0f)
                                        : random.NextInt(4) == 0 ? specials[random.NextInt(specials.Length)]
                                        : random.NextUniform(-1f, 1f);
                                }
                            }

                            int[] columns = Enumerable.Repeat(Guard, kc + 1).ToArray();
                            int count = PackedGemm.NonzeroColumns(ref a[0], (nuint)lda, rows, kc, ref columns[0], wide);
                            string what = $"wide {wide}, rows {rows}, kc {kc}, lda {lda}, zeros {zeroShare}";
                            Assert.True(PlainNonzeroColumns(a, 0, lda, rows, kc).SequenceEqual(columns[..count]),
                                $"{what}: listed [{string.Join(", ", columns[..count])}]");
                            Assert.True(columns[kc] == Guard, $"{what}: wrote past kc columns");
                            checks++;
                        }
                    }
                }
            }
        }

        Assert.Equal(2 * 3 * 41 * 3 * 4, checks);
    }

    [Theory]
    [AllTiers]
    public void Sparse_convolution_input_gives_the_bits_of_every_column_computed_and_of_im2col_then_multiply(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        ulong seed = 100;
        // The paper's shape is 191 M multiply-adds a run: once on the SIMD tiers, at conv1's share of zeros on real
        // digits (87 %, PackedGemm.ZeroColumns.cs); the Scalar reference (no zero-column path) takes the small shapes.
        if (tier != SimdTier.Scalar)
        {
            Convolve(tier, PaperConvolution, zeroShare: 0.87f, Activation.None, seed++);
        }

        foreach (var shape in SmallConvolutions)
        {
            foreach (float zeroShare in new[] { 0.6f, 0.75f, 0.9f })
            {
                Convolve(tier, shape, zeroShare, (Activation)(seed % 3), seed++);
            }
        }
    }

    [Theory]
    [AllTiers]
    public void Skipping_zero_columns_of_a_convolution_allocates_nothing(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        var (channels, height, width, kernel, stride, n) = SmallConvolutions[0];
        int k = kernel * kernel * channels;
        int positions = Im2Col.OutputSize(height, kernel, stride) * Im2Col.OutputSize(width, kernel, stride);
        var random = new DeterministicRandom(8);
        float[] input = ReluOfRandom(random, height * width * channels, 0.87f);
        float[] packed = Packed(KernelSelfCheck.Random(random, n * k, -1f, 1f), n, k);
        float[] bias = new float[n], output = new float[positions * n];
        if (tier != SimdTier.Scalar)
        {
            var patches = new float[positions * k];
            Im2Col.RunChannelsLast(input, channels, height, width, kernel, stride, patches);
            AssertListedLoopRuns(Sparsity.MostlyZeros, patches, positions, k, TileRows(tier), $"allocation input {tier}");
        }

        Allocations.AssertNone(() => PackedGemm.ConvolveChannelsLastPanels(input, channels, height, width, kernel, stride,
            packed, n, bias, Activation.Relu, output, tier, 0, PackedGemm.PanelCount(n), ZeroColumns.Skip));
    }

    /// <summary>
    /// One convolution of a ReLU'd random input: Skip against Compute, and both against im2col + Multiply (the same bits:
    /// ConvolveChannelsLastTests), with a check that the listed loop ran where the input is sparse enough.
    /// </summary>
    private static void Convolve(SimdTier tier, (int C, int H, int W, int K, int Stride, int N) shape, float zeroShare,
        Activation activation, ulong seed)
    {
        var (channels, height, width, kernel, stride, n) = shape;
        var random = new DeterministicRandom(seed);
        int k = kernel * kernel * channels;
        int positions = Im2Col.OutputSize(height, kernel, stride) * Im2Col.OutputSize(width, kernel, stride);
        float[] input = ReluOfRandom(random, height * width * channels, zeroShare);
        float[] packed = Packed(KernelSelfCheck.Random(random, n * k, -1f, 1f), n, k);
        float[] bias = KernelSelfCheck.Random(random, n, -1f, 1f);
        var patches = new float[positions * k];
        Im2Col.RunChannelsLast(input, channels, height, width, kernel, stride, patches);
        string what = $"C{channels} {height}x{width} K{kernel}/{stride} n{n} zeros {zeroShare} {activation} {tier}";
        if (tier != SimdTier.Scalar && zeroShare >= 0.75f)
        {
            AssertListedLoopRuns(Sparsity.MostlyZeros, patches, positions, k, TileRows(tier), what);
        }

        var expected = new float[positions * n];
        PackedGemm.Multiply(patches, positions, k, packed, n, bias, activation, expected, tier);
        var skip = new float[positions * n];
        var compute = new float[positions * n];
        foreach (var (zeroColumns, c) in new[] { (ZeroColumns.Skip, skip), (ZeroColumns.Compute, compute) })
        {
            c.AsSpan().Fill(float.NaN);
            PackedGemm.ConvolveChannelsLastPanels(input, channels, height, width, kernel, stride, packed, n, bias, activation,
                c, tier, 0, PackedGemm.PanelCount(n), zeroColumns);
        }

        AssertSameSums(compute, skip, $"{what}: Skip vs Compute");
        AssertSameSums(expected, skip, $"{what}: Skip vs im2col + Multiply");
    }

    /// <summary>
    /// Runs panels [begin, end) of C = act(A · Bᵀ + bias) with <see cref="ZeroColumns.Skip"/> and with
    /// <see cref="ZeroColumns.Compute"/> into NaN-filled outputs, asserts the same sums, and returns Skip's output.
    /// </summary>
    private static float[] SkipEqualsCompute(SimdTier tier, float[] a, int m, int k, float[] packed, int n, float[] bias,
        Activation activation, int begin, int end, string what)
    {
        var skip = new float[m * n];
        var compute = new float[m * n];
        skip.AsSpan().Fill(float.NaN);
        compute.AsSpan().Fill(float.NaN);
        PackedGemm.MultiplyPanels(a, m, k, packed, n, bias, activation, skip, tier, begin, end, ZeroColumns.Skip);
        PackedGemm.MultiplyPanels(a, m, k, packed, n, bias, activation, compute, tier, begin, end, ZeroColumns.Compute);
        AssertSameSums(compute, skip, what);
        return skip;
    }

    /// <summary>
    /// The same float bits, except that +0 and −0 match: the one difference skipping allows (PackedGemm.ZeroColumns.cs).
    /// A product that underflows to −0 can leave a sum at −0, and a skipped +0 product would have made it +0 + −0 = +0.
    /// </summary>
    private static void AssertSameSums(float[] expected, float[] actual, string what)
    {
        for (int t = 0; t < expected.Length; t++)
        {
            bool same = BitConverter.SingleToInt32Bits(expected[t]) == BitConverter.SingleToInt32Bits(actual[t])
                || (expected[t] == 0f && actual[t] == 0f);
            Assert.True(same, $"{what}: [{t}] {actual[t]:R} vs {expected[t]:R}");
        }
    }

    /// <summary>
    /// Asserts the loop the sparsity calls for: dense A lists no block; sparse A (80 % zeros or more) lists at least
    /// one (at 50 % it may go either way).
    /// </summary>
    private static void AssertListedLoopRuns(Sparsity sparsity, float[] a, int m, int k, int rows, string what)
    {
        int listed = 0;
        for (int row0 = 0; row0 + rows <= m; row0 += rows)
        {
            for (int k0 = 0; k0 < k; k0 += PackedGemm.KBlock)
            {
                listed += IsListed(a, k, row0, rows, k0, Math.Min(PackedGemm.KBlock, k - k0)) ? 1 : 0;
            }
        }

        if (sparsity == Sparsity.Dense) Assert.True(listed == 0, $"{what}: {listed} blocks listed without a zero");
        else if (sparsity != Sparsity.HalfZeros) Assert.True(listed > 0, $"{what}: no block runs the listed loop");
    }

    /// <summary>Whether the tile at <paramref name="row0"/> lists the columns of the k block at <paramref name="k0"/> (A is [m][k]).</summary>
    private static bool IsListed(float[] a, int k, int row0, int rows, int k0, int kc) =>
        PlainNonzeroColumns(a, row0 * k + k0, k, rows, kc).Count() * DenseDenominator < kc * DenseNumerator;

    /// <summary>The definition NonzeroColumns implements: the kk, in increasing order, where some row's A[r][kk] ≠ 0.</summary>
    private static IEnumerable<int> PlainNonzeroColumns(float[] a, int start, int lda, int rows, int kc) =>
        Enumerable.Range(0, kc).Where(kk => Enumerable.Range(0, rows).Any(r => a[start + r * lda + kk] != 0f));

    /// <summary>Register-tile rows of <paramref name="tier"/>'s micro-kernel (the rows a zero column must span).</summary>
    private static int TileRows(SimdTier tier) => tier switch
    {
        SimdTier.Vector512 => PackedGemm.Gemm6x32Avx512.Rows,
        SimdTier.Vector256 => PackedGemm.Gemm6x16Fma3.Rows,
        _ => PackedGemm.Gemm2x32Simd128.Rows,
    };

    /// <summary>A of the given pattern; non-zero values are ±[1/8, 1), never zero.</summary>
    private static float[] SparseA(Sparsity sparsity, DeterministicRandom random, int m, int k)
    {
        bool[] zeroColumn = Enumerable.Range(0, k).Select(_ => random.NextDouble() < 0.7).ToArray();
        var a = new float[m * k];
        for (int i = 0; i < m; i++)
        {
            for (int kk = 0; kk < k; kk++)
            {
                double zeroShare = sparsity switch
                {
                    Sparsity.HalfZeros => 0.5,
                    Sparsity.FourFifthsZeros => 0.8,
                    Sparsity.MostlyZeros => 0.95,
                    Sparsity.WholeColumnsZero => zeroColumn[kk] ? 1 : 0,
                    Sparsity.SparseFirstBlock => kk < PackedGemm.KBlock ? 0.95 : 0,
                    Sparsity.AllZero => 1,
                    _ => 0,
                };
                a[i * k + kk] = random.NextDouble() < zeroShare ? 0f
                    : random.NextUniform(0.125f, 1f) * (random.NextInt(2) == 0 ? 1f : -1f);
            }
        }

        return a;
    }

    /// <summary>max(0, u) for u uniform in [−z, 1 − z): about a share z of zeros, as after conv1's ReLU.</summary>
    private static float[] ReluOfRandom(DeterministicRandom random, int count, float zeroShare) =>
        KernelSelfCheck.Random(random, count, -zeroShare, 1f - zeroShare).Select(value => MathF.Max(value, 0f)).ToArray();

    private static float[] Packed(float[] b, int n, int k)
    {
        var packed = new float[PackedGemm.PackedLength(n, k)];
        PackedGemm.Pack(b, n, k, packed);
        return packed;
    }
}
