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
/// Three operations a vector of 16-bit values, sign-extended to 32 bits (NEON's SSHLL extends and shifts at once): shift the
/// exponent and mantissa into a float's places, mask off the extended sign copies (keeping bit 31), multiply by 2^112 (the exponent bias difference 127 − 15). A
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
        nuint done = 0;
        // Whole vectors of the widest tier that fits, then one overlapping last vector; the scalar loop only below 8 values.
        if (tier == SimdTier.Vector512 && count >= (nuint)Vector512<short>.Count)
        {
            nuint step = (nuint)Vector512<short>.Count;
            for (; done + step <= count; done += step) Widen512(ref source, ref destination, done);
            if (done < count) Widen512(ref source, ref destination, count - step);
            return;
        }

        if (tier >= SimdTier.Vector256 && count >= (nuint)Vector256<short>.Count)
        {
            nuint step = (nuint)Vector256<short>.Count;
            for (; done + step <= count; done += step) Widen256(ref source, ref destination, done);
            if (done < count) Widen256(ref source, ref destination, count - step);
            return;
        }

        if (tier >= SimdTier.Vector128 && count >= (nuint)Vector128<short>.Count)
        {
            // Two vectors a pass, the constants in registers: NEON's loop is the one that runs at batch 1 on a Pi.
            nuint step = (nuint)Vector128<short>.Count;
            Vector128<int> mask = Vector128.Create(FloatFieldsMask);
            Vector128<float> scale = Vector128.Create(ExponentScale);
            if (AdvSimd.IsSupported)
            {
                // Advancing references, so that the loads and stores take immediate offsets (LDP/STP, one V-pipe
                // store each on the A76) instead of register offsets (two).
                ref short from = ref Unsafe.Add(ref source, done);
                ref float to = ref Unsafe.Add(ref destination, done);
                for (; done + 2 * step <= count; done += 2 * step)
                {
                    Widen16Neon(ref from, ref to, mask, scale);
                    from = ref Unsafe.Add(ref from, 2 * step);
                    to = ref Unsafe.Add(ref to, 2 * step);
                }
            }

            for (; done + 2 * step <= count; done += 2 * step)
            {
                Widen128(ref source, ref destination, done, mask, scale);
                Widen128(ref source, ref destination, done + step, mask, scale);
            }

            for (; done + step <= count; done += step) Widen128(ref source, ref destination, done, mask, scale);
            if (done < count) Widen128(ref source, ref destination, count - step, mask, scale);
            return;
        }

        for (; done < count; done++)
        {
            int fields = (Unsafe.Add(ref source, done) << ToFloatShift) & FloatFieldsMask;
            Unsafe.Add(ref destination, done) = BitConverter.Int32BitsToSingle(fields) * ExponentScale;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen512(ref short source, ref float destination, nuint offset)
    {
        var (lower, upper) = Vector512.Widen(Vector512.LoadUnsafe(ref source, offset));
        Vector512<int> mask = Vector512.Create(FloatFieldsMask);
        Vector512<float> scale = Vector512.Create(ExponentScale);
        (((lower << ToFloatShift) & mask).AsSingle() * scale).StoreUnsafe(ref destination, offset);
        (((upper << ToFloatShift) & mask).AsSingle() * scale).StoreUnsafe(ref destination, offset + (nuint)Vector512<int>.Count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen256(ref short source, ref float destination, nuint offset)
    {
        var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref source, offset));
        Vector256<int> mask = Vector256.Create(FloatFieldsMask);
        Vector256<float> scale = Vector256.Create(ExponentScale);
        (((lower << ToFloatShift) & mask).AsSingle() * scale).StoreUnsafe(ref destination, offset);
        (((upper << ToFloatShift) & mask).AsSingle() * scale).StoreUnsafe(ref destination, offset + (nuint)Vector256<int>.Count);
    }

    /// <summary>16 values at <paramref name="source"/> on NEON: four 4-value halves, each SSHLL-ed (sign-extend and shift in one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen16Neon(ref short source, ref float destination, Vector128<int> mask, Vector128<float> scale)
    {
        Vector128<int> q0 = AdvSimd.ShiftLeftLogicalWideningLower(Vector64.LoadUnsafe(ref source, 0), ToFloatShift);
        Vector128<int> q1 = AdvSimd.ShiftLeftLogicalWideningLower(Vector64.LoadUnsafe(ref source, 4), ToFloatShift);
        Vector128<int> q2 = AdvSimd.ShiftLeftLogicalWideningLower(Vector64.LoadUnsafe(ref source, 8), ToFloatShift);
        Vector128<int> q3 = AdvSimd.ShiftLeftLogicalWideningLower(Vector64.LoadUnsafe(ref source, 12), ToFloatShift);
        ((q0 & mask).AsSingle() * scale).StoreUnsafe(ref destination, 0);
        ((q1 & mask).AsSingle() * scale).StoreUnsafe(ref destination, 4);
        ((q2 & mask).AsSingle() * scale).StoreUnsafe(ref destination, 8);
        ((q3 & mask).AsSingle() * scale).StoreUnsafe(ref destination, 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen128(ref short source, ref float destination, nuint offset, Vector128<int> mask, Vector128<float> scale)
    {
        Vector128<short> half = Vector128.LoadUnsafe(ref source, offset);
        Vector128<int> lower, upper;
        if (AdvSimd.IsSupported)
        {
            // SSHLL/SSHLL2: sign-extend and shift in one instruction (the same bits as Widen then <<), 3 ops a vector, not 4.
            lower = AdvSimd.ShiftLeftLogicalWideningLower(half.GetLower(), ToFloatShift);
            upper = AdvSimd.ShiftLeftLogicalWideningUpper(half, ToFloatShift);
        }
        else
        {
            (lower, upper) = Vector128.Widen(half);
            lower <<= ToFloatShift;
            upper <<= ToFloatShift;
        }

        ((lower & mask).AsSingle() * scale).StoreUnsafe(ref destination, offset);
        ((upper & mask).AsSingle() * scale).StoreUnsafe(ref destination, offset + (nuint)Vector128<int>.Count);
    }
}
