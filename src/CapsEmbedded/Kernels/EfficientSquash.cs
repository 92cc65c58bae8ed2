namespace CapsEmbedded.Kernels;

/// <summary>
/// Efficient-CapsNet's squash (Mazzia et al. 2021, the authors' Squash layer): v = (1 − 1/(e^‖s‖ + ε)) · s/(‖s‖ + ε),
/// ε = 1e-20 (the code's 10e-21). ‖v‖ = 1 − e^−‖s‖ to rounding; v = 0 for s = 0. The paper network's eq. 1 is <see cref="Squash"/>.
/// </summary>
public static class EfficientSquash
{
    /// <summary>ε, which only keeps s/‖s‖ finite at s = 0.</summary>
    public const float Epsilon = 1e-20f;

    /// <summary>Squashes <paramref name="count"/> vectors of <paramref name="dims"/> floats in place on the best tier.</summary>
    public static void Run(Span<float> vectors, int count, int dims) => Run(vectors, count, dims, SimdTiers.Best);

    /// <summary>Squashes <paramref name="count"/> consecutive vectors of <paramref name="dims"/> floats in place.</summary>
    public static void Run(Span<float> vectors, int count, int dims, SimdTier tier) =>
        SquashVectors.Run<EfficientSquashFunction>(vectors, count, dims, tier);

    /// <summary>Squashes one vector of <paramref name="dims"/> floats in place.</summary>
    internal static void SquashOne(ref float s, int dims, SimdTier tier)
    {
        float squaredNorm = VectorMath.SumOfSquares(ref s, dims, tier);
        if (float.IsPositiveInfinity(squaredNorm))
        {
            // ‖s‖² overflowed float (components beyond ~1e19): e^‖s‖ is infinite, so v = s/‖s‖, the norm taken in double.
            double norm = VectorMath.SumOfSquaresInDouble(ref s, dims);
            VectorMath.Scale(ref s, (float)(1.0 / Math.Sqrt(norm)), dims, tier);
            return;
        }

        // The reference's formula in float, so the scalar tier is the reference's bits for the same ‖s‖².
        float length = MathF.Sqrt(squaredNorm);
        float scale = (1f - 1f / (MathF.Exp(length) + Epsilon)) / (length + Epsilon);
        VectorMath.Scale(ref s, scale, dims, tier);
    }
}
