using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels.Int8;

/// <summary>QuantizedGemm on every <see cref="Int8Tier"/>, bit-exact against the plain integer reference in <see cref="Int8SelfCheck"/>.</summary>
public sealed class QuantizedGemmTests
{
    public static TheoryData<Int8Tier> AllTiers => new(Enum.GetValues<Int8Tier>());

    /// <summary>
    /// True when <paramref name="tier"/> runs here. Scalar must run everywhere and Avx2 on x64 (the project's x64
    /// machines have it), so a missing one fails. Any other tier this CPU lacks must be refused with
    /// PlatformNotSupportedException naming it, and the test is then reported as skipped with the reason, never passed.
    /// </summary>
    internal static void RequireOrSkip(Int8Tier tier)
    {
        if (Int8Tiers.IsSupported(tier)) return;
        bool mustRun = tier == Int8Tier.Scalar || (RuntimeInformation.ProcessArchitecture == Architecture.X64 && tier == Int8Tier.Avx2);
        Assert.False(mustRun, $"int8 tier {tier} is not supported in this test process; the tests require it here.");
        var error = Assert.Throws<PlatformNotSupportedException>(() => Int8SelfCheck.Check(tier, 4, 16, 8, Int8SelfCheck.Fill.Random, 1));
        Assert.Contains(tier.ToString(), error.Message);
        Skip.If(true, $"int8 tier {tier} is NOT TESTED on this machine: the CPU/runtime does not support it " +
            $"({RuntimeInformation.ProcessArchitecture}; best here {Int8Tiers.Best}). ARM64 tiers run under qemu in .ci/arm64.sh.");
    }

    [SkippableTheory]
    [MemberData(nameof(AllTiers))]
    public void Every_shape_and_extreme_fill_is_bit_exact(Int8Tier tier)
    {
        RequireOrSkip(tier);
        Assert.Equal(Int8SelfCheck.Rows.Length * Int8SelfCheck.Columns.Length * Int8SelfCheck.Depths.Length
            + Int8SelfCheck.LargeShapes.Length + Int8SelfCheck.SparseShapes.Length * Int8SelfCheck.SparseShares.Length + 4,
            Int8SelfCheck.RunTier(tier));
    }

    private static readonly Lazy<(byte[] A, sbyte[] Packed, int[] Expected)> Primary = new(() =>
    {
        const int m = 36, n = 256, k = 20736;
        var random = new DeterministicRandom(12);
        byte[] a = new byte[m * k];
        sbyte[] b = new sbyte[n * k];
        for (int i = 0; i < a.Length; i++) a[i] = (byte)random.NextInt(128);
        for (int i = 0; i < b.Length; i++) b[i] = (sbyte)(random.NextInt(255) - 127);
        sbyte[] packed = new sbyte[QuantizedGemm.PackedLength(n, k)];
        QuantizedGemm.Pack(b, n, k, packed);
        return (a, packed, Int8SelfCheck.Reference(a, b, m, n, k));
    });

    [SkippableTheory]
    [MemberData(nameof(AllTiers))]
    public void Primary_capsule_shape_is_bit_exact_and_allocates_nothing(Int8Tier tier)
    {
        RequireOrSkip(tier);
        var (a, packed, expected) = Primary.Value;
        int[] c = new int[36 * 256];
        QuantizedGemm.Multiply(a, 36, 20736, packed, 256, c, tier);
        Assert.Equal(expected, c);
        if (tier != Int8Tier.Scalar)
        {
            Allocations.AssertNone(() => QuantizedGemm.Multiply(a, 36, 20736, packed, 256, c, 0, 36, tier));
        }
    }

    [Fact]
    public void Best_tier_overload_matches_and_allocates_nothing()
    {
        Assert.True(Int8Tiers.IsSupported(Int8Tiers.Best));
        Assert.Contains(Int8Tiers.Best, Int8Tiers.Supported);
        var (a, packed, expected) = Primary.Value;
        int[] c = new int[36 * 256];
        QuantizedGemm.Multiply(a, 36, 20736, packed, 256, c);
        Assert.Equal(expected, c);
        Allocations.AssertNone(() => QuantizedGemm.Multiply(a, 36, 20736, packed, 256, c));
    }

    [Fact]
    public void Best_prefers_avx2_where_512_bit_operations_run_at_half_rate()
    {
        if (Int8Tiers.IsSupported(Int8Tier.AvxVnni)) Assert.Equal(Int8Tier.AvxVnni, Int8Tiers.Best);
        else if (Int8Tiers.IsSupported(Int8Tier.Avx512BW)) Assert.Equal(SimdTiers.HalfRateVector512 ? Int8Tier.Avx2 : Int8Tier.Avx512BW, Int8Tiers.Best);
        else if (Int8Tiers.IsSupported(Int8Tier.Avx2)) Assert.Equal(Int8Tier.Avx2, Int8Tiers.Best);
        else if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64) Assert.True(Int8Tiers.Best is Int8Tier.AdvSimdDp or Int8Tier.AdvSimd);
        else Assert.Equal(Int8Tier.Scalar, Int8Tiers.Best);
    }

    [Fact]
    public void Pack_rejects_minus_128_naming_where_it_is()
    {
        sbyte[] b = new sbyte[3 * 5];
        b[2 * 5 + 4] = -128;
        var error = Assert.Throws<ArgumentException>(() => QuantizedGemm.Pack(b, 3, 5, new sbyte[QuantizedGemm.PackedLength(3, 5)]));
        Assert.Equal("bOutIn", error.ParamName);
        Assert.Contains("row 2, column 4", error.Message);
        Assert.Contains("-128", error.Message);
    }

    [Fact]
    public void Pack_pads_k_to_groups_of_four_and_n_to_panels()
    {
        Assert.Equal(16 * 4, QuantizedGemm.PackedLength(1, 1));
        Assert.Equal(32 * 8, QuantizedGemm.PackedLength(17, 7));
        Assert.Equal(256 * 20736, QuantizedGemm.PackedLength(256, 20736));
        Assert.Equal(0, QuantizedGemm.PackedLength(5, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedGemm.PackedLength(-1, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedGemm.PackedLength(1, QuantizedGemm.MaxK + 1));
    }

    [Fact]
    public void Scalar_reference_rejects_activations_above_127()
    {
        byte[] a = new byte[2 * 3];
        a[1 * 3 + 2] = 128;
        sbyte[] packed = new sbyte[QuantizedGemm.PackedLength(4, 3)];
        var error = Assert.Throws<ArgumentException>(() => QuantizedGemm.Multiply(a, 2, 3, packed, 4, new int[8], Int8Tier.Scalar));
        Assert.Equal("a", error.ParamName);
        Assert.Contains("row 1, column 2", error.Message);
    }

    [Fact]
    public void Multiply_validates_its_arguments_naming_them()
    {
        const int m = 3, n = 17, k = 5;
        byte[] a = new byte[m * k];
        sbyte[] packed = new sbyte[QuantizedGemm.PackedLength(n, k)];
        int[] c = new int[m * n];
        Assert.Equal("a", Assert.Throws<ArgumentException>(() => QuantizedGemm.Multiply(a.AsSpan(1), m, k, packed, n, c, Int8Tier.Scalar)).ParamName);
        Assert.Equal("packedB", Assert.Throws<ArgumentException>(() => QuantizedGemm.Multiply(a, m, k, packed.AsSpan(1), n, c, Int8Tier.Scalar)).ParamName);
        Assert.Equal("c", Assert.Throws<ArgumentException>(() => QuantizedGemm.Multiply(a, m, k, packed, n, c.AsSpan(1), Int8Tier.Scalar)).ParamName);
        Assert.Equal("m", Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedGemm.Multiply(a, -1, k, packed, n, c, Int8Tier.Scalar)).ParamName);
        Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedGemm.Multiply(a, m, QuantizedGemm.MaxK + 1, packed, n, c, Int8Tier.Scalar)).ParamName);
        Assert.Equal("rowEnd", Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedGemm.Multiply(a, m, k, packed, n, c, 2, 1, Int8Tier.Scalar)).ParamName);
        Assert.Equal("rowEnd", Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedGemm.Multiply(a, m, k, packed, n, c, 0, m + 1, Int8Tier.Scalar)).ParamName);
        Assert.Equal("tier", Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedGemm.Multiply(a, m, k, packed, n, c, (Int8Tier)42)).ParamName);
        Assert.Equal("bOutIn", Assert.Throws<ArgumentException>(() => QuantizedGemm.Pack(new sbyte[n * k - 1], n, k, packed)).ParamName);
        Assert.Equal("packed", Assert.Throws<ArgumentException>(() => QuantizedGemm.Pack(new sbyte[n * k], n, k, packed.AsSpan(1))).ParamName);
    }

    [Fact]
    public void Zero_k_is_an_empty_sum_and_an_empty_row_range_writes_nothing()
    {
        int[] c = [7, 7, 7, 7, 7, 7];
        QuantizedGemm.Multiply([], 2, 0, [], 3, c, 1, 2, Int8Tiers.Best);
        Assert.Equal([7, 7, 7, 0, 0, 0], c);
        QuantizedGemm.Multiply(new byte[2 * 4], 2, 4, new sbyte[QuantizedGemm.PackedLength(3, 4)], 3, c, 1, 1, Int8Tiers.Best);
        Assert.Equal([7, 7, 7, 0, 0, 0], c);
    }
}
