using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;
using CapsEmbedded.Training.Kernels;

namespace CapsEmbedded.Training.Layers;

/// <summary>
/// Prediction vectors (eq. 2): û_{j|i} = W_ij u_i. The trainer keeps W as [i][j][p][d] (PyTorch's [i][j][d][p]
/// transposed per block) so that both directions are vector operations over the D output dims.
/// </summary>
public static class CapsuleTransformLayer
{
    /// <summary>uHat[i][j][·] = Σ_p u[i][p] · W[i][j][p][·].</summary>
    public static void Forward<T>(ReadOnlySpan<T> u, ReadOnlySpan<T> weight, int n, int j, int d, int p, Span<T> uHat)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (u.Length < n * p || weight.Length < n * j * p * d || uHat.Length < n * j * d)
            throw new ArgumentException($"buffers too short for n={n} j={j} d={d} p={p}");
        if (d == 2 * Vector<T>.Count && Vector.IsHardwareAccelerated)
        {
            ForwardTwoVectors(u, weight, n * j, j, p, uHat);
            return;
        }
        for (int i = 0; i < n; i++)
            for (int jj = 0; jj < j; jj++)
            {
                var dst = uHat.Slice((i * j + jj) * d, d);
                dst.Clear();
                var w = weight.Slice((i * j + jj) * p * d, p * d);
                for (int pp = 0; pp < p; pp++) VectorMath.Axpy(u[i * p + pp], w.Slice(pp * d, d), dst);
            }
    }

    /// <summary>
    /// D = two vectors (16 floats with 256-bit vectors, the paper's size): both halves of û_{j|i} stay in registers over p.
    /// Same products, same order as the general loop (one FMA per p), so the same bits.
    /// </summary>
    private static void ForwardTwoVectors<T>(ReadOnlySpan<T> u, ReadOnlySpan<T> weight, int blocks, int j, int p, Span<T> uHat)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector<T>.Count;
        ref T wr = ref MemoryMarshal.GetReference(weight);
        ref T ur = ref MemoryMarshal.GetReference(u);
        ref T outr = ref MemoryMarshal.GetReference(uHat);
        for (int b = 0; b < blocks; b++)
        {
            ref T ui = ref Unsafe.Add(ref ur, b / j * p);
            ref T wb = ref Unsafe.Add(ref wr, b * p * 2 * w);
            Vector<T> acc0 = Vector<T>.Zero, acc1 = Vector<T>.Zero;
            for (int pp = 0; pp < p; pp++)
            {
                var a = new Vector<T>(Unsafe.Add(ref ui, pp));
                acc0 = VectorMath.MultiplyAdd(a, Load(ref wb, pp * 2 * w), acc0);
                acc1 = VectorMath.MultiplyAdd(a, Load(ref wb, pp * 2 * w + w), acc1);
            }
            Store(ref outr, b * 2 * w, acc0);
            Store(ref outr, b * 2 * w + w, acc1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Load<T>(ref T origin, int offset) where T : unmanaged, INumberBase<T> =>
        Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.As<T, byte>(ref Unsafe.Add(ref origin, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(ref T origin, int offset, Vector<T> value) where T : unmanaged, INumberBase<T> =>
        Unsafe.WriteUnaligned(ref Unsafe.As<T, byte>(ref Unsafe.Add(ref origin, offset)), value);

    /// <summary>
    /// For <paramref name="count"/> images (u [count][N][P], dÛ [count][N][J][D], du [count][N][P]):
    /// dW[i][j][p][·] += Σ_images u[i][p] · dÛ[i][j][·] (images in order); du[i][p] = Σ_j W[i][j][p][·] · dÛ[i][j][·] (overwrites du).
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> u, ReadOnlySpan<T> weight, ReadOnlySpan<T> dUHat, int count, int n, int j, int d, int p,
        Span<T> dWeight, Span<T> du) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (u.Length < count * n * p || weight.Length < n * j * p * d || dWeight.Length < n * j * p * d
            || dUHat.Length < count * n * j * d || du.Length < count * n * p)
            throw new ArgumentException($"buffers too short for {count} images, n={n} j={j} d={d} p={p}");
        if (d == 2 * Vector<T>.Count && Vector.IsHardwareAccelerated)
        {
            BackwardTwoVectors(u, weight, dUHat, count, n, j, p, dWeight, du);
            return;
        }
        for (int g = 0; g < count; g++)
        {
            var ug = u.Slice(g * n * p, n * p);
            var dg = dUHat.Slice(g * n * j * d, n * j * d);
            for (int i = 0; i < n; i++)
            {
                var dui = du.Slice((g * n + i) * p, p);
                dui.Clear();
                for (int jj = 0; jj < j; jj++)
                {
                    var grad = dg.Slice((i * j + jj) * d, d);
                    int block = (i * j + jj) * p * d;
                    for (int pp = 0; pp < p; pp++)
                    {
                        VectorMath.Axpy(ug[i * p + pp], grad, dWeight.Slice(block + pp * d, d));
                        dui[pp] += VectorMath.Dot(weight.Slice(block + pp * d, d), grad);
                    }
                }
            }
        }
    }

    /// <summary>
    /// D = two vectors (the paper's 16 floats): dW summed over the group's images in registers (same order as the general
    /// loop); du sums Σ_j W·dÛ lane-wise over j and reduces once (another order than the general loop: equal to rounding).
    /// </summary>
    private static void BackwardTwoVectors<T>(ReadOnlySpan<T> u, ReadOnlySpan<T> weight, ReadOnlySpan<T> dUHat, int count, int n, int j, int p,
        Span<T> dWeight, Span<T> du) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector<T>.Count, imageU = n * p, imageG = n * j * 2 * w;
        ref T wr = ref MemoryMarshal.GetReference(weight);
        ref T dwr = ref MemoryMarshal.GetReference(dWeight);
        ref T gr = ref MemoryMarshal.GetReference(dUHat);
        ref T ur = ref MemoryMarshal.GetReference(u);
        // dW: each 2-vector row of dW is read and written once per group, the images summed in order in registers.
        for (int i = 0; i < n; i++)
            for (int jj = 0; jj < j; jj++)
            {
                int b = i * j + jj;
                ref T dwb = ref Unsafe.Add(ref dwr, b * p * 2 * w);
                for (int pp = 0; pp < p; pp++)
                {
                    var acc0 = Load(ref dwb, pp * 2 * w);
                    var acc1 = Load(ref dwb, pp * 2 * w + w);
                    for (int g = 0; g < count; g++)
                    {
                        var a = new Vector<T>(Unsafe.Add(ref ur, g * imageU + i * p + pp));
                        acc0 = VectorMath.MultiplyAdd(a, Load(ref gr, g * imageG + b * 2 * w), acc0);
                        acc1 = VectorMath.MultiplyAdd(a, Load(ref gr, g * imageG + b * 2 * w + w), acc1);
                    }
                    Store(ref dwb, pp * 2 * w, acc0);
                    Store(ref dwb, pp * 2 * w + w, acc1);
                }
            }
        // du[i][p] = Σ_j W[i][j][p]·dÛ[i][j], lane-wise over j, one horizontal sum per (image, i, p).
        for (int g = 0; g < count; g++)
            for (int i = 0; i < n; i++)
                for (int pp = 0; pp < p; pp++)
                {
                    var acc = Vector<T>.Zero;
                    for (int jj = 0; jj < j; jj++)
                    {
                        int b = i * j + jj;
                        ref T wb = ref Unsafe.Add(ref wr, (b * p + pp) * 2 * w);
                        acc = VectorMath.MultiplyAdd(Load(ref wb, 0), Load(ref gr, g * imageG + b * 2 * w), acc);
                        acc = VectorMath.MultiplyAdd(Load(ref wb, w), Load(ref gr, g * imageG + b * 2 * w + w), acc);
                    }
                    du[(g * n + i) * p + pp] = Vector.Sum(acc);
                }
    }
}
