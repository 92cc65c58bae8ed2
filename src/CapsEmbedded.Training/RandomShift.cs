namespace CapsEmbedded.Training;

/// <summary>
/// The paper's only augmentation (§5): shift the image by up to 2 pixels in each direction, padding with zeros.
/// </summary>
public static class RandomShift
{
    /// <summary>
    /// destination[c][y][x] = source[c][y − dy][x − dx] / 255 where that is inside the image, else 0.
    /// </summary>
    public static void Apply(ReadOnlySpan<byte> source, int channels, int size, int dx, int dy, Span<float> destination)
    {
        int plane = size * size;
        if (source.Length < channels * plane || destination.Length < channels * plane)
            throw new ArgumentException($"image buffers are shorter than {channels}×{size}×{size}");
        const float scale = 1f / 255f;
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < size; y++)
            {
                var row = destination.Slice(c * plane + y * size, size);
                int sy = y - dy;
                if (sy < 0 || sy >= size) { row.Clear(); continue; }
                for (int x = 0; x < size; x++)
                {
                    int sx = x - dx;
                    row[x] = sx < 0 || sx >= size ? 0f : source[c * plane + sy * size + sx] * scale;
                }
            }
    }
}
