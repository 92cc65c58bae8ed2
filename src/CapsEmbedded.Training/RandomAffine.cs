namespace CapsEmbedded.Training;

/// <summary>
/// An augmentation beyond the paper's (§5 shifts only): rotate and scale the image about its centre by a small random
/// amount, then shift it, sampling the source bilinearly and padding with zeros. Small affine distortions are the classic
/// MNIST augmentation (Simard et al. 2003; Cireşan et al. 2010); <c>--rotate</c> and <c>--scale</c> turn it on.
/// </summary>
public static class RandomAffine
{
    /// <summary>
    /// destination = source (÷ 255) rotated by <paramref name="degrees"/> (counter-clockwise as displayed, y pointing down)
    /// and scaled by <paramref name="scale"/> about the image centre ((size − 1)/2, (size − 1)/2), then shifted by
    /// (<paramref name="dx"/>, <paramref name="dy"/>) pixels. Each destination pixel maps back to a source point, read by
    /// bilinear interpolation of its four neighbours, those outside the image counting 0. With 0° and scale 1 the source
    /// points fall on pixels and the result is <see cref="RandomShift.Apply"/>'s, bit for bit.
    /// </summary>
    public static void Apply(ReadOnlySpan<byte> source, int channels, int size, int dx, int dy, double degrees, double scale,
        Span<float> destination)
    {
        int plane = size * size;
        if (source.Length < channels * plane || destination.Length < channels * plane)
            throw new ArgumentException($"image buffers are shorter than {channels}×{size}×{size}");
        if (!(scale > 0) || !double.IsFinite(scale) || !double.IsFinite(degrees))
            throw new ArgumentOutOfRangeException(nameof(scale), $"scale must be finite and positive and the angle finite, got {scale} and {degrees}");
        double radians = degrees * (Math.PI / 180);
        // The inverse map: a destination offset (u, v) from the centre is rotated back by θ and divided by the scale
        // (cos 0 = 1 and sin 0 = 0 exactly, so 0° and scale 1 land on pixels).
        double cos = Math.Cos(radians) / scale, sin = Math.Sin(radians) / scale;
        double centre = (size - 1) / 2.0;
        const float toUnit = 1f / 255f;
        for (int c = 0; c < channels; c++)
        {
            var image = source.Slice(c * plane, plane);
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    double u = x - dx - centre, v = y - dy - centre;
                    double sx = centre + cos * u - sin * v, sy = centre + sin * u + cos * v;
                    destination[c * plane + y * size + x] = Bilinear(image, size, sx, sy) * toUnit;
                }
        }
    }

    /// <summary>The image at a real point (x, y): its four neighbouring pixels weighted by nearness, 0 outside.</summary>
    private static float Bilinear(ReadOnlySpan<byte> image, int size, double x, double y)
    {
        if (!(x > -1 && x < size && y > -1 && y < size)) return 0f;
        int x0 = (int)Math.Floor(x), y0 = (int)Math.Floor(y);
        float fx = (float)(x - x0), fy = (float)(y - y0);
        float p00 = Pixel(image, size, x0, y0), p10 = Pixel(image, size, x0 + 1, y0);
        float p01 = Pixel(image, size, x0, y0 + 1), p11 = Pixel(image, size, x0 + 1, y0 + 1);
        float top = p00 + fx * (p10 - p00), bottom = p01 + fx * (p11 - p01);
        return top + fy * (bottom - top);
    }

    private static float Pixel(ReadOnlySpan<byte> image, int size, int x, int y) =>
        x >= 0 && x < size && y >= 0 && y < size ? image[y * size + x] : 0f;
}
