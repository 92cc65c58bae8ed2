using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

/// <summary>A capsule non-linearity on one vector in place (<see cref="Squash"/>'s eq. 1, <see cref="EfficientSquash"/>).</summary>
internal interface ISquashFunction
{
    static abstract void SquashOne(ref float s, int dims, SimdTier tier);
}

/// <summary>The paper network's squash (eq. 1) as a <see cref="SquashVectors"/> operator.</summary>
internal readonly struct PaperSquash : ISquashFunction
{
    public static void SquashOne(ref float s, int dims, SimdTier tier) => Squash.SquashOne(ref s, dims, tier);
}

/// <summary>Efficient-CapsNet's squash as a <see cref="SquashVectors"/> operator.</summary>
internal readonly struct EfficientSquashFunction : ISquashFunction
{
    public static void SquashOne(ref float s, int dims, SimdTier tier) => EfficientSquash.SquashOne(ref s, dims, tier);
}

/// <summary>
/// Applies a squash function to consecutive vectors in place: the argument checks and the loop, once for both squashes
/// (an empty struct per function, so the JIT specialises and inlines the call).
/// </summary>
internal static class SquashVectors
{
    /// <summary>Squashes <paramref name="count"/> consecutive vectors of <paramref name="dims"/> floats in place.</summary>
    internal static void Run<TSquash>(Span<float> vectors, int count, int dims, SimdTier tier) where TSquash : struct, ISquashFunction
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dims);
        SimdTiers.ThrowIfUnsupported(tier);
        long needed = (long)count * dims;
        if (vectors.Length < needed)
        {
            throw new ArgumentException(
                $"vectors has {vectors.Length} elements; expected at least count·dims = {needed}.", nameof(vectors));
        }

        ref float first = ref MemoryMarshal.GetReference(vectors);
        for (int index = 0; index < count; index++)
        {
            TSquash.SquashOne(ref Unsafe.Add(ref first, (nuint)index * (nuint)dims), dims, tier);
        }
    }
}
