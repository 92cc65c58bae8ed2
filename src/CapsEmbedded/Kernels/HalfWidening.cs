using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CapsEmbedded.Kernels;

/// <summary>
/// One F16 → float32 conversion of 16-bit lanes sign-extended to 32 bits, per vector width and for one value: the lane
/// operation <see cref="HalfWidening.Run{TConversion}"/> applies. Implementations are empty structs, so the JIT specialises
/// the loop per conversion and inlines it (as <see cref="IFloatVector{TVec}"/> does for the float kernels).
/// </summary>
internal interface IHalfConversion
{
    static abstract Vector512<float> Convert(Vector512<int> bits);

    static abstract Vector256<float> Convert(Vector256<int> bits);

    static abstract Vector128<float> Convert(Vector128<int> bits);

    static abstract float Convert(short bits);
}

/// <summary>
/// Widens F16 bits to float32 with a conversion TConversion on a SIMD tier: the tier dispatch, once
/// for every F16 widening (<see cref="HalfPanels"/>' exact-for-finite one, WeightPrecision's IEEE one).
/// </summary>
internal static class HalfWidening
{
    /// <summary>
    /// <paramref name="count"/> values from <paramref name="source"/> (possibly unaligned) to <paramref name="destination"/>;
    /// the caller validated both and the tier.
    /// </summary>
    internal static void Run<TConversion>(ref short source, ref float destination, nuint count, SimdTier tier)
        where TConversion : struct, IHalfConversion
    {
        nuint done = 0;
        // Whole vectors of the widest tier that fits, then one overlapping last vector (TensorPrimitives' remainder);
        // shorter spans fall through to the next narrower tier and finally the scalar loop.
        if (tier == SimdTier.Vector512 && count >= (nuint)Vector512<short>.Count)
        {
            nuint step = (nuint)Vector512<short>.Count;
            for (; done + step <= count; done += step) Widen512<TConversion>(ref source, ref destination, done);
            if (done < count) Widen512<TConversion>(ref source, ref destination, count - step);
            return;
        }

        if (tier >= SimdTier.Vector256 && count >= (nuint)Vector256<short>.Count)
        {
            nuint step = (nuint)Vector256<short>.Count;
            for (; done + step <= count; done += step) Widen256<TConversion>(ref source, ref destination, done);
            if (done < count) Widen256<TConversion>(ref source, ref destination, count - step);
            return;
        }

        if (tier >= SimdTier.Vector128 && count >= (nuint)Vector128<short>.Count)
        {
            nuint step = (nuint)Vector128<short>.Count;
            for (; done + step <= count; done += step) Widen128<TConversion>(ref source, ref destination, done);
            if (done < count) Widen128<TConversion>(ref source, ref destination, count - step);
            return;
        }

        for (; done < count; done++) Unsafe.Add(ref destination, done) = TConversion.Convert(Unsafe.Add(ref source, done));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen512<TConversion>(ref short source, ref float destination, nuint offset)
        where TConversion : struct, IHalfConversion
    {
        var (lower, upper) = Vector512.Widen(Vector512.LoadUnsafe(ref source, offset));
        TConversion.Convert(lower).StoreUnsafe(ref destination, offset);
        TConversion.Convert(upper).StoreUnsafe(ref destination, offset + (nuint)Vector512<int>.Count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen256<TConversion>(ref short source, ref float destination, nuint offset)
        where TConversion : struct, IHalfConversion
    {
        var (lower, upper) = Vector256.Widen(Vector256.LoadUnsafe(ref source, offset));
        TConversion.Convert(lower).StoreUnsafe(ref destination, offset);
        TConversion.Convert(upper).StoreUnsafe(ref destination, offset + (nuint)Vector256<int>.Count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen128<TConversion>(ref short source, ref float destination, nuint offset)
        where TConversion : struct, IHalfConversion
    {
        var (lower, upper) = Vector128.Widen(Vector128.LoadUnsafe(ref source, offset));
        TConversion.Convert(lower).StoreUnsafe(ref destination, offset);
        TConversion.Convert(upper).StoreUnsafe(ref destination, offset + (nuint)Vector128<int>.Count);
    }
}
