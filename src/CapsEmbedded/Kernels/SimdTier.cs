using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace CapsEmbedded.Kernels;

/// <summary>
/// The SIMD width a kernel runs with. Every arithmetic kernel (PackedGemm, CapsuleTransform, Squash, Routing,
/// CapsuleLengths) implements all four; Im2Col only copies and takes none. The results agree within each test's stated tolerance.
/// </summary>
public enum SimdTier
{
    /// <summary>Plain C# loops; runs everywhere.</summary>
    Scalar,

    /// <summary>128-bit vectors: SSE on x64, NEON (AdvSimd) on ARM64.</summary>
    Vector128,

    /// <summary>256-bit vectors with fused multiply-add: AVX2 + FMA3 on x64.</summary>
    Vector256,

    /// <summary>512-bit vectors: AVX-512F on x64.</summary>
    Vector512,
}

/// <summary>The one place that decides which <see cref="SimdTier"/> this process can run.</summary>
public static class SimdTiers
{
    // Declared before Best: static initialisers run in textual order.
    /// <summary>
    /// AMD family 19h (Zen 4) runs each 512-bit FMA as two 256-bit halves: no more FLOP per cycle than AVX2, and the
    /// wider tiles cost registers and cache, so Vector512 is slower than Vector256 there (bench/RESULTS.md, "Vector512
    /// vs Vector256"). Family 1Ah (Zen 5) and Intel cores are not affected.
    /// </summary>
    public static bool HalfRateVector512 { get; } = IsAmdFamily19h();

    /// <summary>
    /// The tier the kernels run with, checked once in the fixed order Vector512 → Vector256 → Vector128 → Scalar;
    /// Vector512 is skipped where it is known to be slower (<see cref="HalfRateVector512"/>).
    /// </summary>
    public static SimdTier Best { get; } =
        IsSupported(SimdTier.Vector512) && !HalfRateVector512 ? SimdTier.Vector512
        : IsSupported(SimdTier.Vector256) ? SimdTier.Vector256
        : IsSupported(SimdTier.Vector128) ? SimdTier.Vector128
        : SimdTier.Scalar;

    private static bool IsAmdFamily19h()
    {
        if (!X86Base.IsSupported) return false;
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        bool amd = ebx == 0x68747541 && edx == 0x69746E65 && ecx == 0x444D4163; // "AuthenticAMD"
        if (!amd) return false;
        int signature = X86Base.CpuId(1, 0).Eax;
        int family = ((signature >> 8) & 0xF) + ((signature >> 20) & 0xFF); // base + extended family
        return family == 0x19;
    }

    /// <summary>Whether <paramref name="tier"/> runs in hardware here (the JIT honours DOTNET_EnableAVX2=0 and similar switches).</summary>
    public static bool IsSupported(SimdTier tier) => tier switch
    {
        SimdTier.Scalar => true,
        SimdTier.Vector128 => Vector128.IsHardwareAccelerated,
        // The 256-bit kernels use FMA; on x64 AVX2 alone would make Vector256.FusedMultiplyAdd a slow software fallback.
        SimdTier.Vector256 => Vector256.IsHardwareAccelerated && Fma.IsSupported && Avx2.IsSupported,
        SimdTier.Vector512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported,
        _ => false,
    };

    /// <summary>
    /// The instructions <paramref name="tier"/> runs on in this process, for reports ("NEON/AdvSimd" for Vector128 on
    /// ARM64): the tier names a vector width, which alone does not tell an ARM user that NEON ran.
    /// </summary>
    public static string InstructionSet(SimdTier tier) => tier switch
    {
        SimdTier.Scalar => "no SIMD",
        SimdTier.Vector128 when AdvSimd.IsSupported => "NEON/AdvSimd",
        SimdTier.Vector128 when Fma.IsSupported => "SSE + FMA3",
        SimdTier.Vector128 => "SSE",
        SimdTier.Vector256 => "AVX2 + FMA3",
        SimdTier.Vector512 => "AVX-512F",
        _ => throw new ArgumentOutOfRangeException(nameof(tier), tier, "Unknown SIMD tier."),
    };

    /// <summary>Every tier this process supports, narrowest first.</summary>
    public static IReadOnlyList<SimdTier> Supported { get; } =
        Enum.GetValues<SimdTier>().Where(IsSupported).ToArray();

    /// <summary>Throws <see cref="PlatformNotSupportedException"/> naming <paramref name="tier"/> when this process cannot run it.</summary>
    public static void ThrowIfUnsupported(SimdTier tier) =>
        KernelArguments.ThrowIfUnsupported(tier, IsSupported(tier), "SIMD", Best, static () =>
            $"AdvSimd={AdvSimd.IsSupported}, Avx2={Avx2.IsSupported}, Fma={Fma.IsSupported}, Avx512F={Avx512F.IsSupported}");
}
