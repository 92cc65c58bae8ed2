using CapsEmbedded.Kernels;

namespace CapsEmbedded.Runtime;

/// <summary>
/// From the primary conv's output [position][type·dims + d] to capsules u_i [i][d], i = type·positions + position
/// (type-major, as the paper's PyTorch view orders them), squashed (eq. 1).
/// </summary>
public static class PrimaryCapsuleLayout
{
    /// <summary>
    /// Capsules [<paramref name="first"/>, <paramref name="end"/>) of <paramref name="conv"/> (positions × types·dims)
    /// into <paramref name="primary"/> ((end − first)·dims), squashed. Parts of one image may run on several threads.
    /// </summary>
    public static void RegroupAndSquash(ReadOnlySpan<float> conv, int positions, int dims, int first, int end, Span<float> primary,
        SimdTier tier)
    {
        int channels = conv.Length / positions;
        if ((long)positions * channels != conv.Length || channels % dims != 0)
            throw new ArgumentException($"conv has {conv.Length} values, not {positions} positions of whole capsule types", nameof(conv));
        if (first < 0 || end < first || end > positions * (channels / dims))
            throw new ArgumentOutOfRangeException(nameof(end), $"capsules [{first}, {end}) are not within the {positions * (channels / dims)} capsules");
        if (primary.Length != (end - first) * dims)
            throw new ArgumentException($"primary has {primary.Length} values; {end - first} capsules of {dims} need {(end - first) * dims}", nameof(primary));
        for (int i = first; i < end; i++)
        {
            int type = i / positions, position = i % positions;
            conv.Slice(position * channels + type * dims, dims).CopyTo(primary.Slice((i - first) * dims, dims));
        }
        Squash.Run(primary, end - first, dims, tier);
    }
}
