using System.Numerics;
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
        for (int i = 0; i < n; i++)
            for (int jj = 0; jj < j; jj++)
            {
                var dst = uHat.Slice((i * j + jj) * d, d);
                dst.Clear();
                var w = weight.Slice((i * j + jj) * p * d, p * d);
                for (int pp = 0; pp < p; pp++) VectorMath.Axpy(u[i * p + pp], w.Slice(pp * d, d), dst);
            }
    }

    /// <summary>dW[i][j][p][·] += u[i][p] · dÛ[i][j][·]; du[i][p] = Σ_j W[i][j][p][·] · dÛ[i][j][·] (overwrites du).</summary>
    public static void Backward<T>(ReadOnlySpan<T> u, ReadOnlySpan<T> weight, ReadOnlySpan<T> dUHat, int n, int j, int d, int p,
        Span<T> dWeight, Span<T> du) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < n; i++)
        {
            var dui = du.Slice(i * p, p);
            dui.Clear();
            for (int jj = 0; jj < j; jj++)
            {
                var g = dUHat.Slice((i * j + jj) * d, d);
                int block = (i * j + jj) * p * d;
                for (int pp = 0; pp < p; pp++)
                {
                    VectorMath.Axpy(u[i * p + pp], g, dWeight.Slice(block + pp * d, d));
                    dui[pp] += VectorMath.Dot(weight.Slice(block + pp * d, d), g);
                }
            }
        }
    }
}
