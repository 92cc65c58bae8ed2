using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

/// <summary>
/// destination[c][r] = source[r][c]. The GEMM of a convolution produces channels last ([outH·outW][channels]) while
/// <see cref="Im2Col.Run"/> reads channels first ([C][H][W]): conv1's 400 × 256 output can go through here before the
/// primary-capsule Im2Col — or skip it with <see cref="Im2Col.RunChannelsLast"/> and permuted weights.
/// </summary>
public static class Transpose
{
    /// <summary>Square tiles small enough that a tile of source and of destination both stay in L1.</summary>
    private const int Tile = 16;

    /// <summary>Writes the [columns][rows] transpose of <paramref name="source"/> ([rows][columns]) into <paramref name="destination"/>.</summary>
    public static void Run(ReadOnlySpan<float> source, int rows, int columns, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        long length = (long)rows * columns;
        if (source.Length < length)
        {
            throw new ArgumentException($"source has {source.Length} elements; expected at least rows·columns = {length}.", nameof(source));
        }

        if (destination.Length < length)
        {
            throw new ArgumentException(
                $"destination has {destination.Length} elements; expected at least rows·columns = {length}.", nameof(destination));
        }

        ref float from = ref MemoryMarshal.GetReference(source);
        ref float to = ref MemoryMarshal.GetReference(destination);
        for (int r0 = 0; r0 < rows; r0 += Tile)
        {
            int r1 = Math.Min(r0 + Tile, rows);
            for (int c0 = 0; c0 < columns; c0 += Tile)
            {
                int c1 = Math.Min(c0 + Tile, columns);
                for (int c = c0; c < c1; c++)
                {
                    for (int r = r0; r < r1; r++)
                    {
                        Unsafe.Add(ref to, (nuint)c * (nuint)rows + (nuint)r) = Unsafe.Add(ref from, (nuint)r * (nuint)columns + (nuint)c);
                    }
                }
            }
        }
    }
}
