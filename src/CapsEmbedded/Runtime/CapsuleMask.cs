namespace CapsEmbedded.Runtime;

/// <summary>The decoder's input (paper §4.1): every digit capsule but one set to zero, as every model masks.</summary>
public static class CapsuleMask
{
    /// <summary>
    /// Writes <paramref name="capsules"/> (classes·<paramref name="classDims"/>, class-major) into
    /// <paramref name="masked"/> (the same length) with every capsule but <paramref name="keep"/> zeroed.
    /// </summary>
    public static void Keep(ReadOnlySpan<float> capsules, int classDims, int keep, Span<float> masked)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classDims);
        if (masked.Length != capsules.Length)
            throw new ArgumentException($"masked has {masked.Length} values; capsules has {capsules.Length}", nameof(masked));
        if ((uint)keep >= (uint)(capsules.Length / classDims))
            throw new ArgumentOutOfRangeException(nameof(keep), keep, $"the class to keep must be in 0..{capsules.Length / classDims - 1}");
        masked.Clear();
        capsules.Slice(keep * classDims, classDims).CopyTo(masked.Slice(keep * classDims, classDims));
    }
}
