using System.Runtime.CompilerServices;

namespace CapsEmbedded.Kernels;

/// <summary>
/// The capsule non-linearity, eq. 1 of the paper: v = |s|² / (1 + |s|²) · s / |s|, i.e. s scaled by |s| / (1 + |s|²);
/// v = 0 for s = 0. Short vectors shrink to almost zero, long ones to just below unit length.
/// </summary>
public static class Squash
{
    /// <summary>Squashes <paramref name="count"/> vectors of <paramref name="dims"/> floats in place on the best tier.</summary>
    public static void Run(Span<float> vectors, int count, int dims) => Run(vectors, count, dims, SimdTiers.Best);

    /// <summary>Squashes <paramref name="count"/> consecutive vectors of <paramref name="dims"/> floats in place.</summary>
    public static void Run(Span<float> vectors, int count, int dims, SimdTier tier) =>
        SquashVectors.Run<PaperSquash>(vectors, count, dims, tier);

    /// <summary>Squashes one vector of <paramref name="dims"/> floats in place.</summary>
    internal static void SquashOne(ref float s, int dims, SimdTier tier)
    {
        float squaredNorm = VectorMath.SumOfSquares(ref s, dims, tier);
        if (squaredNorm == 0f)
        {
            // s = 0 (or so small that |s|² underflows, where v ≈ |s|·s underflows too): v = 0 exactly.
            VectorMath.Scale(ref s, 0f, dims, tier);
            return;
        }

        if (float.IsPositiveInfinity(squaredNorm))
        {
            ScaleWithDoubleNorm(ref s, dims);
            return;
        }

        VectorMath.Scale(ref s, ScaleFor(squaredNorm), dims, tier);
    }

    /// <summary>|s| / (1 + |s|²), in double so that neither 1 + |s|² nor the quotient lose precision.</summary>
    private static float ScaleFor(double squaredNorm) => (float)(Math.Sqrt(squaredNorm) / (1.0 + squaredNorm));

    /// <summary>|s|² overflowed float (components beyond ~1e19): v ≈ s / |s|, with the norm taken in double.</summary>
    private static void ScaleWithDoubleNorm(ref float s, int dims)
    {
        double squaredNorm = VectorMath.SumOfSquaresInDouble(ref s, dims);
        double scale = Math.Sqrt(squaredNorm) / (1.0 + squaredNorm);
        for (int t = 0; t < dims; t++)
        {
            Unsafe.Add(ref s, t) = (float)(Unsafe.Add(ref s, t) * scale);
        }
    }
}
