namespace CapsEmbedded.Kernels;

/// <summary>
/// Regroups the primary-capsule convolution's output into capsules: output channel k is capsule type k / dims,
/// dimension k % dims, and capsule i = type·positions + position (type-major, position = y·grid + x), as the paper's
/// reference implementation numbers them.
/// </summary>
public static class CapsuleRegroup
{
    /// <summary>
    /// capsules[type·positions + position][t] = channelsLast[position][type·dims + t]: from the GEMM's
    /// [positions][types·dims] to [types·positions][dims], ready for <see cref="Squash"/>.
    /// </summary>
    public static void Run(ReadOnlySpan<float> channelsLast, int positions, int types, int dims, Span<float> capsules)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(positions);
        ArgumentOutOfRangeException.ThrowIfNegative(types);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dims);
        long length = (long)positions * types * dims;
        if (channelsLast.Length < length)
        {
            throw new ArgumentException(
                $"channelsLast has {channelsLast.Length} elements; expected at least positions·types·dims = {length}.", nameof(channelsLast));
        }

        if (capsules.Length < length)
        {
            throw new ArgumentException(
                $"capsules has {capsules.Length} elements; expected at least positions·types·dims = {length}.", nameof(capsules));
        }

        int channels = types * dims;
        for (int type = 0; type < types; type++)
        {
            for (int position = 0; position < positions; position++)
            {
                channelsLast.Slice(position * channels + type * dims, dims)
                    .CopyTo(capsules.Slice((type * positions + position) * dims, dims));
            }
        }
    }
}
