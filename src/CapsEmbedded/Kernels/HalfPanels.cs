using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace CapsEmbedded.Kernels;

/// <summary>
/// Widens packed F16 weights to float32 one cache block at a time, for the kernels that read their weights in F16 where
/// they lie (<see cref="PackedGemm"/>'s F16 panels, <see cref="CapsuleTransform"/>'s F16 W): every finite F16 value widens
/// exactly, so a kernel summing the widened block in its usual order gives the bits of its float32 path.
/// </summary>
/// <remarks>
/// Three operations a vector of 16-bit values, sign-extended to 32 bits (NEON's SSHLL extends and shifts at once): shift the exponent and mantissa into a float's
/// places, mask off the extended sign copies (keeping bit 31), multiply by 2^112 (the exponent bias difference 127 − 15). A
/// normal F16 becomes a normal float scaled by a power of two, a subnormal F16 a subnormal float that the multiply
/// normalises, ±0 stays ±0; all exact. Inf and NaN are not kept (they become ±2^16·(1 + m)): weights widened here must be
/// finite, which the build-time packer and the weight readers check. WeightPrecision.WidenHalf is the conversion for
/// arbitrary F16 data.
/// </remarks>
public static class HalfPanels
{
    private const int FloatFieldsMask = unchecked((int)0x8FFF_E000); // sign, then F16 exponent and mantissa at float's places
    private const int ToFloatShift = 13; // 23 − 10 mantissa bits
    private const float ExponentScale = 5.1922968585348276e33f; // 2^112

    /// <summary><paramref name="destination"/>[i] = (float)<paramref name="source"/>[i] for finite F16 values, on <paramref name="tier"/>.</summary>
    public static void Widen(ReadOnlySpan<Half> source, Span<float> destination, SimdTier tier)
    {
        SimdTiers.ThrowIfUnsupported(tier);
        KernelArguments.RequireLength(destination.Length, source.Length, nameof(destination), "source.Length");
        Widen(ref Unsafe.As<Half, short>(ref MemoryMarshal.GetReference(source)), ref MemoryMarshal.GetReference(destination),
            (nuint)source.Length, tier);
    }

    /// <summary>The unchecked form for kernels that validated their spans: <paramref name="count"/> values.</summary>
    internal static void Widen(ref short source, ref float destination, nuint count, SimdTier tier)
    {
        if (tier == SimdTier.Vector128 && AdvSimd.IsSupported && count >= 16) WidenNeon(ref source, ref destination, count);
        else HalfWidening.Run<FiniteHalf>(ref source, ref destination, count, tier);
    }

    /// <summary>
    /// The 128-bit tier on NEON, the loop that runs at batch 1 on a Pi: 16 values a pass with the mask and scale in registers
    /// and SSHLL (sign-extend and shift in one instruction; the same bits as widen then shift), through advancing references
    /// so that loads and stores take immediate offsets; then one overlapping last 8-value vector. The pass's four vectors
    /// go through each step together (four loads, four SSHLL, four AND, four FMUL, four stores): one vector at a time, the
    /// JIT gave them one register, and the in-order Cortex-A53/A55 waited on every step (llvm-mca on the emitted loop, cycles
    /// a pass: A53 98 → 47, A55 46 → 31, Neoverse N1 11.4 → 8.6; bench/arm/README.md).
    /// </summary>
    private static void WidenNeon(ref short source, ref float destination, nuint count)
    {
        Vector128<int> mask = Vector128.Create(FloatFieldsMask);
        Vector128<float> scale = Vector128.Create(ExponentScale);
        nuint done = 0;
        ref short from = ref source;
        ref float to = ref destination;
        for (; done + 16 <= count; done += 16)
        {
            Vector64<short> h0 = Vector64.LoadUnsafe(ref from, 0), h1 = Vector64.LoadUnsafe(ref from, 4);
            Vector64<short> h2 = Vector64.LoadUnsafe(ref from, 8), h3 = Vector64.LoadUnsafe(ref from, 12);
            Vector128<int> w0 = AdvSimd.ShiftLeftLogicalWideningLower(h0, ToFloatShift);
            Vector128<int> w1 = AdvSimd.ShiftLeftLogicalWideningLower(h1, ToFloatShift);
            Vector128<int> w2 = AdvSimd.ShiftLeftLogicalWideningLower(h2, ToFloatShift);
            Vector128<int> w3 = AdvSimd.ShiftLeftLogicalWideningLower(h3, ToFloatShift);
            w0 &= mask;
            w1 &= mask;
            w2 &= mask;
            w3 &= mask;
            Vector128<float> f0 = w0.AsSingle() * scale, f1 = w1.AsSingle() * scale;
            Vector128<float> f2 = w2.AsSingle() * scale, f3 = w3.AsSingle() * scale;
            f0.StoreUnsafe(ref to, 0);
            f1.StoreUnsafe(ref to, 4);
            f2.StoreUnsafe(ref to, 8);
            f3.StoreUnsafe(ref to, 12);
            from = ref Unsafe.Add(ref from, 16);
            to = ref Unsafe.Add(ref to, 16);
        }

        for (; done + 4 <= count; done += 4) Widen4Neon(ref source, ref destination, done, mask, scale);
        if (done < count) Widen4Neon(ref source, ref destination, count - 4, mask, scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen4Neon(ref short source, ref float destination, nuint offset, Vector128<int> mask, Vector128<float> scale)
        => ((AdvSimd.ShiftLeftLogicalWideningLower(Vector64.LoadUnsafe(ref source, offset), ToFloatShift) & mask).AsSingle() * scale)
            .StoreUnsafe(ref destination, offset);

    /// <summary>Shift, mask, scale: exact for every finite F16 (the remarks above).</summary>
    private readonly struct FiniteHalf : IHalfConversion
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Convert(Vector512<int> bits)
            => ((bits << ToFloatShift) & Vector512.Create(FloatFieldsMask)).AsSingle() * Vector512.Create(ExponentScale);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Convert(Vector256<int> bits)
            => ((bits << ToFloatShift) & Vector256.Create(FloatFieldsMask)).AsSingle() * Vector256.Create(ExponentScale);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Convert(Vector128<int> bits)
            => ((bits << ToFloatShift) & Vector128.Create(FloatFieldsMask)).AsSingle() * Vector128.Create(ExponentScale);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Convert(short bits) => BitConverter.Int32BitsToSingle((bits << ToFloatShift) & FloatFieldsMask) * ExponentScale;
    }
}
