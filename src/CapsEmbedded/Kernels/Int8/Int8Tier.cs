using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace CapsEmbedded.Kernels.Int8;

/// <summary>
/// The instructions <see cref="QuantizedGemm"/> runs its u7 × s8 → s32 dot products on. Every tier computes the same
/// exact int32 sums (integer arithmetic; see the README for why activations are 7-bit).
/// </summary>
public enum Int8Tier
{
    /// <summary>Plain C# loops; the reference every other tier must match bit for bit.</summary>
    Scalar,

    /// <summary>ARM64 NEON without the dot-product extension: SMULL/SMULL2 (s8 × s8 → s16) then SADALP (pairs → s32).</summary>
    AdvSimd,

    /// <summary>ARM64 with ARMv8.2 DotProd (Cortex-A76 and later): SDOT, four s8 × s8 products into each s32 lane.</summary>
    AdvSimdDp,

    /// <summary>x64 AVX2: vpmaddubsw (u8 × s8, pairs → s16) then vpmaddwd with ones (pairs → s32).</summary>
    Avx2,

    /// <summary>x64 AVX-512BW: the AVX2 pair on 512-bit vectors.</summary>
    Avx512BW,

    /// <summary>x64 AVX-VNNI (VEX, 256-bit; Alder Lake, Zen 5): vpdpbusd, four u8 × s8 products into each s32 lane.</summary>
    AvxVnni,
}

/// <summary>The one place that decides which <see cref="Int8Tier"/> this process can run.</summary>
/// <remarks>
/// .NET 10 exposes VNNI only as <see cref="System.Runtime.Intrinsics.X86.AvxVnni"/>: <c>Avx10v1</c> has no
/// MultiplyWideningAndAdd, and there is no Avx512Vnni class, so a Zen 4 (which has AVX512_VNNI) runs Avx512BW or Avx2.
/// </remarks>
public static class Int8Tiers
{
    /// <summary>
    /// The tier <see cref="QuantizedGemm"/> uses by default, in the fixed order AvxVnni → Avx512BW → Avx2 → AdvSimdDp →
    /// AdvSimd → Scalar; Avx512BW is skipped where 512-bit operations run as two halves
    /// (<see cref="SimdTiers.HalfRateVector512"/>, AMD Zen 4), as the float kernels do.
    /// </summary>
    public static Int8Tier Best { get; } =
        IsSupported(Int8Tier.AvxVnni) ? Int8Tier.AvxVnni
        : IsSupported(Int8Tier.Avx512BW) && !SimdTiers.HalfRateVector512 ? Int8Tier.Avx512BW
        : IsSupported(Int8Tier.Avx2) ? Int8Tier.Avx2
        : IsSupported(Int8Tier.AdvSimdDp) ? Int8Tier.AdvSimdDp
        : IsSupported(Int8Tier.AdvSimd) ? Int8Tier.AdvSimd
        : Int8Tier.Scalar;

    /// <summary>Whether <paramref name="tier"/> runs in hardware here (the JIT honours DOTNET_EnableAVX2=0 and similar switches).</summary>
    public static bool IsSupported(Int8Tier tier) => tier switch
    {
        Int8Tier.Scalar => true,
        // The no-Dp kernel finishes with ADDP (AdvSimd.Arm64.AddPairwise), an A64-only instruction.
        Int8Tier.AdvSimd => AdvSimd.Arm64.IsSupported,
        Int8Tier.AdvSimdDp => AdvSimd.Arm64.IsSupported && Dp.IsSupported,
        Int8Tier.Avx2 => Avx2.IsSupported,
        Int8Tier.Avx512BW => Vector512.IsHardwareAccelerated && Avx512BW.IsSupported,
        Int8Tier.AvxVnni => AvxVnni.IsSupported,
        _ => false,
    };

    /// <summary>Every tier this process supports, in enum order.</summary>
    public static IReadOnlyList<Int8Tier> Supported { get; } =
        Enum.GetValues<Int8Tier>().Where(IsSupported).ToArray();

    /// <summary>Throws <see cref="PlatformNotSupportedException"/> naming <paramref name="tier"/> when this process cannot run it.</summary>
    public static void ThrowIfUnsupported(Int8Tier tier) =>
        KernelArguments.ThrowIfUnsupported(tier, IsSupported(tier), "int8", Best, static () =>
            $"Avx2={Avx2.IsSupported}, Avx512BW={Avx512BW.IsSupported}, AvxVnni={AvxVnni.IsSupported}, " +
            $"AdvSimd={AdvSimd.IsSupported}, Dp={Dp.IsSupported}");
}
