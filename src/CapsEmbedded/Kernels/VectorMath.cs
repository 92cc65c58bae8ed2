using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CapsEmbedded.Kernels;

/// <summary>
/// The short-vector helpers of the runtime kernels and of the trainer (one set, visible to CapsEmbedded.Training).
/// The float overloads that take a <see cref="SimdTier"/> serve the runtime kernels, tested per tier: widest vectors
/// first, then narrower ones, then a scalar tail, so capsule dims 8 and 16 (the paper's) never reach the scalar loop;
/// callers validate lengths, these take <c>ref float</c> and a length. The generic span overloads serve the trainer,
/// where <c>T</c> is float when training and double in the gradient checks and <see cref="Vector{T}"/> picks the width.
/// </summary>
internal static class VectorMath
{
    /// <summary>Σ x[t]².</summary>
    public static float SumOfSquares(ref float x, int length, SimdTier tier) => Dot(ref x, ref x, length, tier);

    /// <summary>Σ x[t]² in double, in order: the norm of a vector whose float <see cref="SumOfSquares"/> overflowed.</summary>
    public static double SumOfSquaresInDouble(ref float x, int length)
    {
        double sum = 0;
        for (int t = 0; t < length; t++)
        {
            double value = Unsafe.Add(ref x, t);
            sum += value * value;
        }

        return sum;
    }

    /// <summary>Σ x[t]·y[t]: each width sums its chunks in one register, then its lanes; the widths' sums add in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ref float x, ref float y, int length, SimdTier tier)
    {
        nuint count = (nuint)length;
        nuint t = 0;
        float sum = 0f;
        if (tier == SimdTier.Vector512) sum += DotChunks<Vector512<float>, F32x16>(ref x, ref y, ref t, count);
        if (tier >= SimdTier.Vector256) sum += DotChunks<Vector256<float>, F32x8>(ref x, ref y, ref t, count);
        if (tier >= SimdTier.Vector128) sum += DotChunks<Vector128<float>, F32x4>(ref x, ref y, ref t, count);
        for (; t < count; t++)
        {
            sum += Unsafe.Add(ref x, t) * Unsafe.Add(ref y, t);
        }

        return sum;
    }

    /// <summary>
    /// sums[t] += <see cref="Dot"/>(x + t·length, y + t·length, length) for t &lt; count: routing's agreement
    /// b_ij += û_{j|i} · v_j for one i. On the 128-bit tier with length 16 (the paper's d: NEON at batch 1) two dots go
    /// through each step together, each with Dot's operations in Dot's order (one fused multiply-add chain from zero over
    /// its four vectors, its lanes summed, 0 + that), so the same bits, without Dot's chunk loop and tier tests per dot.
    /// </summary>
    public static void AddDots(ref float sums, ref float x, ref float y, int count, int length, SimdTier tier)
    {
        int t = 0;
        if (tier == SimdTier.Vector128 && length == 16)
        {
            for (; t + 2 <= count; t += 2)
            {
                nuint first = (nuint)t * 16, second = first + 16;
                Vector128<float> acc0 = F32x4.MultiplyAdd(F32x4.Load(ref x, first), F32x4.Load(ref y, first), F32x4.Zero);
                Vector128<float> acc1 = F32x4.MultiplyAdd(F32x4.Load(ref x, second), F32x4.Load(ref y, second), F32x4.Zero);
                acc0 = F32x4.MultiplyAdd(F32x4.Load(ref x, first + 4), F32x4.Load(ref y, first + 4), acc0);
                acc1 = F32x4.MultiplyAdd(F32x4.Load(ref x, second + 4), F32x4.Load(ref y, second + 4), acc1);
                acc0 = F32x4.MultiplyAdd(F32x4.Load(ref x, first + 8), F32x4.Load(ref y, first + 8), acc0);
                acc1 = F32x4.MultiplyAdd(F32x4.Load(ref x, second + 8), F32x4.Load(ref y, second + 8), acc1);
                acc0 = F32x4.MultiplyAdd(F32x4.Load(ref x, first + 12), F32x4.Load(ref y, first + 12), acc0);
                acc1 = F32x4.MultiplyAdd(F32x4.Load(ref x, second + 12), F32x4.Load(ref y, second + 12), acc1);
                Unsafe.Add(ref sums, t) += 0f + F32x4.Sum(acc0);
                Unsafe.Add(ref sums, t + 1) += 0f + F32x4.Sum(acc1);
            }
        }

        for (; t < count; t++)
        {
            nuint at = (nuint)t * (nuint)length;
            Unsafe.Add(ref sums, t) += Dot(ref Unsafe.Add(ref x, at), ref Unsafe.Add(ref y, at), length, tier);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotChunks<TVec, TOps>(ref float x, ref float y, ref nuint t, nuint count)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        // The loop runs on a local copy: a ref-parameter counter could live in memory instead of a register.
        nuint i = t;
        if (i + TOps.Count > count) return 0f;
        TVec acc = TOps.Zero;
        for (; i + TOps.Count <= count; i += TOps.Count)
        {
            acc = TOps.MultiplyAdd(TOps.Load(ref x, i), TOps.Load(ref y, i), acc);
        }

        t = i;
        return TOps.Sum(acc);
    }

    /// <summary>x[t] *= scale.</summary>
    public static void Scale(ref float x, float scale, int length, SimdTier tier)
    {
        nuint count = (nuint)length;
        nuint t = 0;
        if (tier == SimdTier.Vector512) t = ScaleChunks<Vector512<float>, F32x16>(ref x, scale, t, count);
        if (tier >= SimdTier.Vector256) t = ScaleChunks<Vector256<float>, F32x8>(ref x, scale, t, count);
        if (tier >= SimdTier.Vector128) t = ScaleChunks<Vector128<float>, F32x4>(ref x, scale, t, count);
        for (; t < count; t++)
        {
            Unsafe.Add(ref x, t) *= scale;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint ScaleChunks<TVec, TOps>(ref float x, float scale, nuint t, nuint count)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        TVec factor = TOps.Broadcast(scale);
        for (; t + TOps.Count <= count; t += TOps.Count)
        {
            TOps.Store(TOps.Multiply(TOps.Load(ref x, t), factor), ref x, t);
        }

        return t;
    }

    /// <summary>
    /// s[0..d) = Σ_i weight[i·weightStride] · x[i·xStride + 0..d), summed over i in order, each chunk of d in a register
    /// (four or two chunks per pass over i where d allows: independent FMA chains, the same sum per lane).
    /// </summary>
    public static void WeightedSum(ref float s, ref float weight, nuint weightStride, ref float x, nuint xStride, int count, int d,
        SimdTier tier)
    {
        nuint dims = (nuint)d;
        nuint rows = (nuint)count;
        nuint t = 0;
        if (tier == SimdTier.Vector512) t = WeightedSumChunks<Vector512<float>, F32x16>(ref s, ref weight, weightStride, ref x, xStride, rows, t, dims);
        if (tier >= SimdTier.Vector256) t = WeightedSumChunks<Vector256<float>, F32x8>(ref s, ref weight, weightStride, ref x, xStride, rows, t, dims);
        if (tier >= SimdTier.Vector128) t = WeightedSumChunks<Vector128<float>, F32x4>(ref s, ref weight, weightStride, ref x, xStride, rows, t, dims);
        for (; t < dims; t++)
        {
            float sum = 0f;
            for (nuint i = 0; i < rows; i++)
            {
                sum += Unsafe.Add(ref weight, i * weightStride) * Unsafe.Add(ref x, i * xStride + t);
            }

            Unsafe.Add(ref s, t) = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint WeightedSumChunks<TVec, TOps>(ref float s, ref float weight, nuint weightStride, ref float x, nuint xStride,
        nuint rows, nuint t, nuint dims)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        nuint w = TOps.Count;
        // Four chunks per pass where d allows (NEON's 4 lanes, d = 16: û and routing's s_j): four FMA chains hide the
        // multiply-add latency, and each weight is loaded once into lane 0 and multiplied by lane (FMLA by element, no DUP).
        for (; t + 4 * w <= dims; t += 4 * w)
        {
            TVec s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
            // Offsets stepped by addition (the JIT otherwise multiplies both per row); they stay inside the inputs.
            nuint weightAt = 0, xAt = t;
            for (nuint i = 0; i < rows; i++)
            {
                TVec wi = TOps.LoadLane0(ref weight, weightAt);
                ref float xi = ref Unsafe.Add(ref x, xAt);
                s0 = TOps.MultiplyAddLane0(wi, TOps.Load(ref xi, 0), s0);
                s1 = TOps.MultiplyAddLane0(wi, TOps.Load(ref xi, w), s1);
                s2 = TOps.MultiplyAddLane0(wi, TOps.Load(ref xi, 2 * w), s2);
                s3 = TOps.MultiplyAddLane0(wi, TOps.Load(ref xi, 3 * w), s3);
                weightAt += weightStride;
                xAt += xStride;
            }

            TOps.Store(s0, ref s, t);
            TOps.Store(s1, ref s, t + w);
            TOps.Store(s2, ref s, t + 2 * w);
            TOps.Store(s3, ref s, t + 3 * w);
        }

        for (; t + 2 * w <= dims; t += 2 * w)
        {
            TVec low = TOps.Zero, high = TOps.Zero;
            for (nuint i = 0; i < rows; i++)
            {
                TVec wi = TOps.Broadcast(Unsafe.Add(ref weight, i * weightStride));
                low = TOps.MultiplyAdd(wi, TOps.Load(ref x, i * xStride + t), low);
                high = TOps.MultiplyAdd(wi, TOps.Load(ref x, i * xStride + t + w), high);
            }

            TOps.Store(low, ref s, t);
            TOps.Store(high, ref s, t + w);
        }

        for (; t + w <= dims; t += w)
        {
            TVec acc = TOps.Zero;
            for (nuint i = 0; i < rows; i++)
            {
                acc = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref weight, i * weightStride)), TOps.Load(ref x, i * xStride + t), acc);
            }

            TOps.Store(acc, ref s, t);
        }

        return t;
    }

    /// <summary>x[t] = e^x[t] (the runtime's vector exp: within a few ulp of MathF.Exp).</summary>
    public static void ExpInPlace(Span<float> values, SimdTier tier)
    {
        ref float x = ref MemoryMarshal.GetReference(values);
        nuint count = (nuint)values.Length;
        nuint t = 0;
        if (tier == SimdTier.Vector512) t = ExpChunks<Vector512<float>, F32x16>(ref x, t, count);
        if (tier >= SimdTier.Vector256) t = ExpChunks<Vector256<float>, F32x8>(ref x, t, count);
        if (tier >= SimdTier.Vector128) t = ExpChunks<Vector128<float>, F32x4>(ref x, t, count);
        for (; t < count; t++)
        {
            Unsafe.Add(ref x, t) = MathF.Exp(Unsafe.Add(ref x, t));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint ExpChunks<TVec, TOps>(ref float x, nuint t, nuint count)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        for (; t + TOps.Count <= count; t += TOps.Count)
        {
            TOps.Store(TOps.Exp(TOps.Load(ref x, t)), ref x, t);
        }

        return t;
    }

    /// <summary>a·b + c with one rounding where the hardware fuses it (float and double); the JIT folds the type tests.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> MultiplyAdd<T>(Vector<T> a, Vector<T> b, Vector<T> c) where T : unmanaged, INumberBase<T>
    {
        if (typeof(T) == typeof(float))
            return Unsafe.BitCast<Vector<float>, Vector<T>>(Vector.FusedMultiplyAdd(
                Unsafe.BitCast<Vector<T>, Vector<float>>(a), Unsafe.BitCast<Vector<T>, Vector<float>>(b),
                Unsafe.BitCast<Vector<T>, Vector<float>>(c)));
        if (typeof(T) == typeof(double))
            return Unsafe.BitCast<Vector<double>, Vector<T>>(Vector.FusedMultiplyAdd(
                Unsafe.BitCast<Vector<T>, Vector<double>>(a), Unsafe.BitCast<Vector<T>, Vector<double>>(b),
                Unsafe.BitCast<Vector<T>, Vector<double>>(c)));
        return a * b + c;
    }

    /// <summary>y[k] += alpha · x[k]. Inlined: capsule code calls it with 16-element rows a million times a step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy<T>(T alpha, ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, INumberBase<T>
    {
        if (x.Length != y.Length) throw new ArgumentException($"x has {x.Length} elements, y {y.Length}");
        int n = x.Length, k = 0;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        if (Vector.IsHardwareAccelerated && n == 2 * Vector<T>.Count)
        {
            // The paper's 16-float capsule rows: two vectors, the same FMAs as the loop below.
            var a = new Vector<T>(alpha);
            ref byte xb = ref Unsafe.As<T, byte>(ref xr);
            ref byte yb = ref Unsafe.As<T, byte>(ref yr);
            int bytes = Vector<T>.Count * Unsafe.SizeOf<T>();
            Unsafe.WriteUnaligned(ref yb, MultiplyAdd(a, Unsafe.ReadUnaligned<Vector<T>>(ref xb), Unsafe.ReadUnaligned<Vector<T>>(ref yb)));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref yb, bytes), MultiplyAdd(a, Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.Add(ref xb, bytes)),
                Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.Add(ref yb, bytes))));
            return;
        }
        if (Vector.IsHardwareAccelerated && n >= Vector<T>.Count)
        {
            var a = new Vector<T>(alpha);
            for (; k <= n - Vector<T>.Count; k += Vector<T>.Count)
            {
                ref T yk = ref Unsafe.Add(ref yr, k);
                var xv = Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.As<T, byte>(ref Unsafe.Add(ref xr, k)));
                var yv = Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.As<T, byte>(ref yk));
                Unsafe.WriteUnaligned(ref Unsafe.As<T, byte>(ref yk), MultiplyAdd(a, xv, yv));
            }
        }
        for (; k < n; k++) Unsafe.Add(ref yr, k) += alpha * Unsafe.Add(ref xr, k);
    }

    /// <summary>Σ x[k]·y[k], lanes summed in a fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Dot<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y) where T : unmanaged, INumberBase<T>
    {
        if (x.Length != y.Length) throw new ArgumentException($"x has {x.Length} elements, y {y.Length}");
        int n = x.Length, k = 0;
        T sum = T.Zero;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        if (Vector.IsHardwareAccelerated && n == 2 * Vector<T>.Count)
        {
            // Two vectors: the same FMAs in the same order as the loop below.
            ref byte xb = ref Unsafe.As<T, byte>(ref xr);
            ref byte yb = ref Unsafe.As<T, byte>(ref yr);
            int bytes = Vector<T>.Count * Unsafe.SizeOf<T>();
            var acc = MultiplyAdd(Unsafe.ReadUnaligned<Vector<T>>(ref xb), Unsafe.ReadUnaligned<Vector<T>>(ref yb), Vector<T>.Zero);
            acc = MultiplyAdd(Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.Add(ref xb, bytes)), Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.Add(ref yb, bytes)), acc);
            return Vector.Sum(acc);
        }
        if (Vector.IsHardwareAccelerated && n >= Vector<T>.Count)
        {
            var acc = Vector<T>.Zero;
            for (; k <= n - Vector<T>.Count; k += Vector<T>.Count)
            {
                var xv = Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.As<T, byte>(ref Unsafe.Add(ref xr, k)));
                var yv = Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.As<T, byte>(ref Unsafe.Add(ref yr, k)));
                acc = MultiplyAdd(xv, yv, acc);
            }
            sum = Vector.Sum(acc);
        }
        for (; k < n; k++) sum += Unsafe.Add(ref xr, k) * Unsafe.Add(ref yr, k);
        return sum;
    }

    /// <summary>y[k] += x[k].</summary>
    public static void Add<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, INumberBase<T>
    {
        if (x.Length != y.Length) throw new ArgumentException($"x has {x.Length} elements, y {y.Length}");
        int n = x.Length, k = 0;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        if (Vector.IsHardwareAccelerated)
        {
            for (; k <= n - Vector<T>.Count; k += Vector<T>.Count)
            {
                ref T yk = ref Unsafe.Add(ref yr, k);
                var xv = Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.As<T, byte>(ref Unsafe.Add(ref xr, k)));
                var yv = Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.As<T, byte>(ref yk));
                Unsafe.WriteUnaligned(ref Unsafe.As<T, byte>(ref yk), xv + yv);
            }
        }
        for (; k < n; k++) Unsafe.Add(ref yr, k) += Unsafe.Add(ref xr, k);
    }
}
