using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

/// <summary>|v_j| for each capsule: the paper's class probabilities (the predicted class is the longest capsule).</summary>
public static class CapsuleLengths
{
    /// <summary>lengths[jj] = |v[jj]| for <paramref name="j"/> capsules of <paramref name="d"/> dims, on the best tier.</summary>
    public static void Run(ReadOnlySpan<float> v, int j, int d, Span<float> lengths) => Run(v, j, d, lengths, SimdTiers.Best);

    /// <summary>lengths[jj] = |v[jj]| for <paramref name="j"/> capsules of <paramref name="d"/> dims (v is [j][d]).</summary>
    public static void Run(ReadOnlySpan<float> v, int j, int d, Span<float> lengths, SimdTier tier)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(j);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(d);
        SimdTiers.ThrowIfUnsupported(tier);
        long needed = (long)j * d;
        if (v.Length < needed)
        {
            throw new ArgumentException($"v has {v.Length} elements; expected at least j·d = {needed}.", nameof(v));
        }

        if (lengths.Length < j)
        {
            throw new ArgumentException($"lengths has {lengths.Length} elements; expected at least j = {j}.", nameof(lengths));
        }

        ref float first = ref MemoryMarshal.GetReference(v);
        for (int capsule = 0; capsule < j; capsule++)
        {
            float squaredNorm = VectorMath.SumOfSquares(ref Unsafe.Add(ref first, (nuint)capsule * (nuint)d), d, tier);
            lengths[capsule] = MathF.Sqrt(squaredNorm);
        }
    }
}
