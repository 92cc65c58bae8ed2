using System.Numerics;
using CapsEmbedded.Kernels;
using CapsEmbedded.Training.Kernels;

namespace CapsEmbedded.Training.Layers;

/// <summary>
/// Routing by agreement (Procedure 1) kept differentiable through every iteration, as the authors' code: the
/// gradient flows through c = softmax(b), through s = Σ c û, and through each agreement update b += û·v.
/// The forward stores c, s and v of every iteration (r × [N][J], r × [J][D]) for the backward pass.
/// </summary>
public static class RoutingLayer
{
    /// <summary>
    /// b = 0; for r iterations: c = softmax_j(b), s_j = Σ_i c_ij û_{j|i}, v_j = squash(s_j), b_ij += û_{j|i}·v_j (skipped
    /// after the last). The output is the last v: <c>v[(iterations−1)·J·D ..]</c>.
    /// </summary>
    public static void Forward<T>(ReadOnlySpan<T> uHat, int n, int j, int d, int iterations,
        Span<T> logits, Span<T> coupling, Span<T> s, Span<T> v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int nj = n * j, jd = j * d;
        logits.Slice(0, nj).Clear();
        for (int r = 0; r < iterations; r++)
        {
            var c = coupling.Slice(r * nj, nj);
            Softmax(logits, n, j, c);
            var sr = s.Slice(r * jd, jd);
            sr.Clear();
            for (int i = 0; i < n; i++)
                for (int jj = 0; jj < j; jj++)
                    VectorMath.Axpy(c[i * j + jj], uHat.Slice((i * j + jj) * d, d), sr.Slice(jj * d, d));
            var vr = v.Slice(r * jd, jd);
            SquashLayer.Forward<T>(sr, j, d, vr);
            if (r == iterations - 1) break;
            for (int i = 0; i < n; i++)
                for (int jj = 0; jj < j; jj++)
                    logits[i * j + jj] += VectorMath.Dot(uHat.Slice((i * j + jj) * d, d), vr.Slice(jj * d, d));
        }
    }

    /// <summary>c_i = softmax over j of b_i (max subtracted first).</summary>
    public static void Softmax<T>(ReadOnlySpan<T> logits, int n, int j, Span<T> c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < n; i++)
        {
            var b = logits.Slice(i * j, j);
            var ci = c.Slice(i * j, j);
            T max = b[0];
            for (int jj = 1; jj < j; jj++) max = T.Max(max, b[jj]);
            T sum = T.Zero;
            for (int jj = 0; jj < j; jj++) { ci[jj] = T.Exp(b[jj] - max); sum += ci[jj]; }
            T inv = T.One / sum;
            for (int jj = 0; jj < j; jj++) ci[jj] *= inv;
        }
    }

    /// <summary>
    /// From dL/dv (of the last iteration) to dL/dû (overwrites <paramref name="dUHat"/>), walking the iterations back.
    /// Scratch: dLogits and dLogitsNext [N·J], dv and ds [J·D], dc [J].
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> uHat, ReadOnlySpan<T> coupling, ReadOnlySpan<T> s, ReadOnlySpan<T> v,
        ReadOnlySpan<T> dvOut, int n, int j, int d, int iterations, Span<T> dUHat,
        Span<T> dLogits, Span<T> dLogitsNext, Span<T> dv, Span<T> ds, Span<T> dc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int nj = n * j, jd = j * d;
        dUHat.Slice(0, nj * d).Clear();
        for (int r = iterations - 1; r >= 0; r--)
        {
            var vr = v.Slice(r * jd, jd);
            var c = coupling.Slice(r * nj, nj);
            if (r == iterations - 1) dvOut.Slice(0, jd).CopyTo(dv);
            else
            {
                // b_{r+1} = b_r + û·v_r: gradient to v_r and û from dL/db_{r+1}; the identity part is added below.
                dv.Slice(0, jd).Clear();
                for (int i = 0; i < n; i++)
                    for (int jj = 0; jj < j; jj++)
                    {
                        T g = dLogitsNext[i * j + jj];
                        VectorMath.Axpy(g, uHat.Slice((i * j + jj) * d, d), dv.Slice(jj * d, d));
                        VectorMath.Axpy(g, vr.Slice(jj * d, d), dUHat.Slice((i * j + jj) * d, d));
                    }
            }
            SquashLayer.Backward<T>(s.Slice(r * jd, jd), dv, j, d, ds);
            // s_j = Σ_i c_ij û: dû += c ds_j, dc_ij = û·ds_j; then through the softmax (b_0 = 0 is constant: stop at r = 0).
            for (int i = 0; i < n; i++)
            {
                for (int jj = 0; jj < j; jj++)
                {
                    var u = uHat.Slice((i * j + jj) * d, d);
                    var dsj = ds.Slice(jj * d, d);
                    VectorMath.Axpy(c[i * j + jj], dsj, dUHat.Slice((i * j + jj) * d, d));
                    if (r > 0) dc[jj] = VectorMath.Dot(u, dsj);
                }
                if (r == 0) continue;
                T dot = T.Zero;
                for (int jj = 0; jj < j; jj++) dot += c[i * j + jj] * dc[jj];
                for (int jj = 0; jj < j; jj++)
                {
                    T next = r < iterations - 1 ? dLogitsNext[i * j + jj] : T.Zero;
                    dLogits[i * j + jj] = next + c[i * j + jj] * (dc[jj] - dot);
                }
            }
            if (r > 0) dLogits.Slice(0, nj).CopyTo(dLogitsNext);
        }
    }
}
