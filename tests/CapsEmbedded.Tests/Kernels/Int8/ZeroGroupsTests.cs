using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels.Int8;

/// <summary>
/// QuantizedGemm's zero-group skipping (QuantizedGemm.ZeroGroups.cs): the scan lists exactly the groups with a non-zero
/// byte, and on every tier <see cref="ZeroColumns.Skip"/> gives the reference's integer sums, as
/// <see cref="ZeroColumns.Compute"/> does, on data where the listed loop really runs (checked, so the test cannot pass on
/// the dense loop alone). The forced-tier child processes run the sparse cases of <see cref="Int8SelfCheck"/>.
/// </summary>
public sealed class ZeroGroupsTests
{
    [Fact]
    public void The_scan_lists_exactly_the_groups_where_some_row_has_a_nonzero_byte()
    {
        var random = new DeterministicRandom(35);
        for (int rows = 1; rows <= 4; rows++)
        {
            for (int count = 0; count <= 41; count++)
            {
                const int lda = 200;
                byte[] a = new byte[rows * lda];
                // A few single non-zero bytes anywhere in a group and any row: each must keep its group.
                for (int t = 0; t < count / 3 + 1; t++) a[random.NextInt(rows) * lda + random.NextInt(Math.Max(1, 4 * count))] = (byte)(1 + random.NextInt(127));
                int[] listed = new int[count];
                int kept = QuantizedGemm.NonzeroGroups(ref a[0], lda, rows, count, ref listed.AsSpan().GetPinnableReference());
                var expected = Enumerable.Range(0, count)
                    .Where(g => Enumerable.Range(0, rows).Any(r => a.AsSpan(r * lda + 4 * g, 4).ContainsAnyExcept((byte)0)))
                    .ToArray();
                Assert.Equal(expected, listed[..kept]);
            }
        }
    }

    // The primary capsules' 36 × 256 with k cut to 2 k blocks + 37 bytes (a partial last group, the scan's 8-, 4- and
    // 1-wide tails); 13 rows (a row below the 4- and 2-row tiles) with a partial last panel.
    private static readonly (int M, int N, int K)[] Shapes = [(36, 256, 2 * QuantizedGemm.KBlock + 37), (13, 40, 549)];

    [SkippableTheory]
    [MemberData(nameof(QuantizedGemmTests.AllTiers), MemberType = typeof(QuantizedGemmTests))]
    public void Sparse_a_gives_the_reference_sums_listed_and_dense(Int8Tier tier)
    {
        QuantizedGemmTests.RequireOrSkip(tier);
        ulong seed = 100;
        foreach (var (m, n, k) in Shapes)
        {
            foreach (double zeroShare in new[] { 0.0, 0.6, 0.9, 1.0 })
            {
                var random = new DeterministicRandom(seed++);
                byte[] a = new byte[m * k];
                for (int i = 0; i < a.Length; i++) a[i] = random.NextDouble() < zeroShare ? (byte)0 : (byte)random.NextInt(128);
                // Whole groups of 4 channels zero at every position, as conv1's quantised ReLU output has them.
                for (int g = 0; g < k / 4; g++)
                {
                    if (random.NextDouble() >= zeroShare) continue;
                    for (int i = 0; i < m; i++) a.AsSpan(i * k + 4 * g, 4).Clear();
                }

                sbyte[] b = new sbyte[n * k];
                for (int i = 0; i < b.Length; i++) b[i] = (sbyte)(random.NextInt(255) - 127);
                sbyte[] packed = new sbyte[QuantizedGemm.PackedLength(n, k)];
                QuantizedGemm.Pack(b, n, k, packed);
                int[] expected = Int8SelfCheck.Reference(a, b, m, n, k);
                if (zeroShare >= 0.9) Assert.True(SomeBlockIsListed(a, m, k), $"{m}x{n}x{k} at {zeroShare}: no block takes the listed loop");

                foreach (ZeroColumns mode in Enum.GetValues<ZeroColumns>())
                {
                    int[] c = new int[m * n];
                    QuantizedGemm.Multiply(a, m, k, packed, n, c, 0, m, tier, mode);
                    Assert.True(expected.AsSpan().SequenceEqual(c), $"int8 {tier} {mode} {m}x{n}x{k} at {zeroShare} zeros differs from the reference");
                    if (tier != Int8Tier.Scalar)
                    {
                        Allocations.AssertNone(() => QuantizedGemm.Multiply(a, m, k, packed, n, c, 0, m, tier, mode));
                    }
                }
            }
        }
    }

    /// <summary>Whether some 4-row tile's k block has fewer than 7/8 of its whole groups non-zero (the driver then lists them, and so for every tile of 1, 2 or 4 rows inside it).</summary>
    private static bool SomeBlockIsListed(byte[] a, int m, int k)
    {
        int[] list = new int[QuantizedGemm.KBlock / 4];
        for (int i0 = 0; i0 + 4 <= m; i0 += 4)
        {
            for (int k0 = 0; k0 < k; k0 += QuantizedGemm.KBlock)
            {
                int groups = Math.Min(QuantizedGemm.KBlock, k - k0) / 4;
                int kept = QuantizedGemm.NonzeroGroups(ref a[i0 * k + k0], (nuint)k, 4, groups, ref list[0]);
                if (kept * 8 < groups * 7) return true;
            }
        }

        return false;
    }
}
