using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Training.Kernels;

/// <summary>
/// Small generic vector helpers shared by the training layers. <c>T</c> is float when training and double in the
/// gradient checks: the same code runs in both, <see cref="Vector{T}"/> picks the lane count.
/// </summary>
public static class VectorMath
{
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
