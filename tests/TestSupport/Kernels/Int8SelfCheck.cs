using CapsEmbedded.Kernels.Int8;

namespace CapsEmbedded.TierProbe;

/// <summary>An int8 GEMM result that differs from the plain integer reference (integer sums are exact: no tolerance).</summary>
internal sealed class Int8CheckException(string message) : Exception(message);

/// <summary>
/// <see cref="QuantizedGemm"/> on every supported <see cref="Int8Tier"/> against plain int64 loops over the unpacked
/// weights, bit for bit: the xunit tests call <see cref="Check"/> per tier and shape, the probe runs <see cref="RunAll"/>
/// (also under qemu for the ARM64 tiers, .ci/arm64.sh). Compiled into both, like <see cref="KernelSelfCheck"/>.
/// </summary>
internal static class Int8SelfCheck
{
    /// <summary>m values: every remainder of the 4- and 2-row tiles, the 1-row GEMV, the primary capsules' 36.</summary>
    public static readonly int[] Rows = [0, 1, 2, 3, 4, 5, 7, 13, 36];

    /// <summary>n values: a single channel, one exact panel, partial panels, a whole panel left after the 2-panel x64 tiles (48).</summary>
    public static readonly int[] Columns = [1, 16, 17, 40, 48];

    /// <summary>k values: partial groups (k mod 4 ≠ 0), one group, several, and across the 512-byte k block with a tail.</summary>
    public static readonly int[] Depths = [0, 1, 3, 4, 7, 300, 512, 1025];

    /// <summary>
    /// Larger shapes: the primary-capsule depth (k = 20736, 41 k blocks) at fewer channels, a GEMV, and 100 channels (one
    /// 4-panel ARM tile, two panels left to the 1-panel kernel, a partial panel).
    /// </summary>
    public static readonly (int M, int N, int K)[] LargeShapes = [(36, 32, 20736), (1, 256, 2049), (13, 100, 1025)];

    /// <summary>
    /// Shapes for the sparse checks: several k blocks with a partial last group, rows left below a whole tile (the 1-row
    /// kernel), a partial panel, a whole panel left after the 2-panel x64 tiles, the primary capsules' 36 × 256 at a shorter k,
    /// panels left after the 4-panel ARM tile.
    /// </summary>
    public static readonly (int M, int N, int K)[] SparseShapes =
        [(36, 40, 2049), (13, 33, 1031), (36, 256, 700), (5, 17, 512), (7, 48, 1030), (7, 100, 1030)];

    /// <summary>Shares of zeros in A for the sparse checks (1: every group zero, the result is all zeros).</summary>
    public static readonly double[] SparseShares = [0.5, 0.9, 1.0];

    /// <summary>What <see cref="Check"/> fills A and B with.</summary>
    public enum Fill
    {
        /// <summary>Uniform values with the extremes (0 and 127 activations, ±127 and 0 weights) drawn often.</summary>
        Random,

        /// <summary>A = 127, B = +127 everywhere: every vpmaddubsw pair sums to +32258, the largest int16 it can produce here.</summary>
        MaxPositive,

        /// <summary>A = 127, B = -127 everywhere: the most negative pair sum, -32258.</summary>
        MaxNegative,
    }

    /// <summary>Runs every check on each supported tier, printing one line per tier; throws on the first mismatch.</summary>
    public static int RunAll(TextWriter output)
    {
        output.WriteLine($"int8best={Int8Tiers.Best}");
        output.WriteLine($"int8supported={string.Join(",", Int8Tiers.Supported)}");
        int total = 0;
        foreach (Int8Tier tier in Int8Tiers.Supported)
        {
            int checks = RunTier(tier);
            output.WriteLine($"int8 {tier}=pass ({checks} checks)");
            total += checks;
        }

        output.WriteLine("int8=pass");
        return total;
    }

    /// <summary>Every shape of this class on <paramref name="tier"/>; returns how many checks ran.</summary>
    public static int RunTier(Int8Tier tier)
    {
        int checks = 0;
        ulong seed = 0;
        foreach (var (m, n, k) in KernelSelfCheck.Shapes(Rows, Columns, Depths))
        {
            Check(tier, m, n, k, Fill.Random, ++seed);
            checks++;
        }

        foreach (var (m, n, k) in LargeShapes)
        {
            Check(tier, m, n, k, Fill.Random, ++seed);
            checks++;
        }

        foreach (var (m, n, k) in SparseShapes)
        {
            foreach (double zeroShare in SparseShares)
            {
                Check(tier, m, n, k, Fill.Random, ++seed, zeroShare);
                checks++;
            }
        }

        foreach (Fill fill in new[] { Fill.MaxPositive, Fill.MaxNegative })
        {
            Check(tier, 13, 17, 1025, fill, ++seed);
            Check(tier, 4, 16, 20736, fill, ++seed); // |C| = 20736 · 127² = 334 million: far from int32 overflow, every pair at the int16 edge
            checks += 2;
        }

        return checks;
    }

    /// <summary>
    /// C = A · Bᵀ on <paramref name="tier"/> equals the int64 reference exactly: once for all rows, and again split into
    /// two row ranges at an odd row (rows outside a range must stay untouched). With <paramref name="zeroShare"/> &gt; 0
    /// that share of A's bytes is zero, and as many whole k columns are, so that the SIMD tiers take their zero-group
    /// lists (QuantizedGemm.ZeroGroups.cs) as they do on conv1's quantised ReLU output.
    /// </summary>
    public static void Check(Int8Tier tier, int m, int n, int k, Fill fill, ulong seed, double zeroShare = 0)
    {
        var random = new DeterministicRandom(seed);
        byte[] a = new byte[m * k];
        sbyte[] b = new sbyte[n * k];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = fill switch
            {
                Fill.Random => (byte)(random.NextInt(8) switch { 0 => 0, 1 => 127, _ => random.NextInt(128) }),
                _ => 127,
            };
        }

        KernelSelfCheck.ZeroSome(a, m, k, zeroShare, random);

        for (int i = 0; i < b.Length; i++)
        {
            b[i] = fill switch
            {
                Fill.Random => (sbyte)(random.NextInt(8) switch { 0 => -127, 1 => 127, 2 => 0, _ => random.NextInt(255) - 127 }),
                Fill.MaxPositive => 127,
                _ => -127,
            };
        }

        int[] expected = Reference(a, b, m, n, k);
        sbyte[] packed = new sbyte[QuantizedGemm.PackedLength(n, k)];
        QuantizedGemm.Pack(b, n, k, packed);

        const int Sentinel = unchecked((int)0xDEADBEEF);
        int[] c = new int[m * n];
        Array.Fill(c, Sentinel);
        QuantizedGemm.Multiply(a, m, k, packed, n, c, tier);
        Compare(tier, "whole", expected, c, m, n, k, 0, m);

        int split = Math.Min(m, m / 2 | 1);
        Array.Fill(c, Sentinel);
        QuantizedGemm.Multiply(a, m, k, packed, n, c, split, m, tier);
        for (int i = 0; i < split * n; i++)
        {
            if (c[i] != Sentinel)
            {
                throw new Int8CheckException($"int8 {tier} m={m} n={n} k={k}: rows [{split}, {m}) wrote C[{i}] outside its range.");
            }
        }

        QuantizedGemm.Multiply(a, m, k, packed, n, c, 0, split, tier);
        Compare(tier, $"rows split at {split}", expected, c, m, n, k, 0, m);
    }

    /// <summary>Σ_kk A[i, kk] · B[j, kk] in int64 from the unpacked [n][k] weights (so it checks Pack too).</summary>
    public static int[] Reference(byte[] a, sbyte[] b, int m, int n, int k)
    {
        int[] c = new int[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                long sum = 0;
                for (int kk = 0; kk < k; kk++)
                {
                    sum += a[i * k + kk] * b[j * k + kk];
                }

                c[i * n + j] = checked((int)sum);
            }
        }

        return c;
    }

    private static void Compare(Int8Tier tier, string what, int[] expected, int[] actual, int m, int n, int k, int row0, int row1)
    {
        for (int i = row0 * n; i < row1 * n; i++)
        {
            if (expected[i] != actual[i])
            {
                throw new Int8CheckException(
                    $"int8 {tier} m={m} n={n} k={k} ({what}): C[{i / n}, {i % n}] = {actual[i]}, reference {expected[i]}.");
            }
        }
    }
}
