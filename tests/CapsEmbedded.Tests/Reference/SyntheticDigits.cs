namespace CapsEmbedded.Tests.Reference;

/// <summary>Digit-like test images drawn from geometry, pixels in [0, 1], row-major.</summary>
internal static class SyntheticDigits
{
    /// <summary>A "0": an anti-aliased ring around the centre.</summary>
    public static float[] Ring(int size)
    {
        var image = new float[size * size];
        double centre = (size - 1) / 2.0, radius = size * 0.3, halfWidth = size * 0.06;
        for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
        {
            double distance = Math.Abs(Math.Sqrt((y - centre) * (y - centre) + (x - centre) * (x - centre)) - radius);
            image[y * size + x] = (float)Math.Clamp(1.5 - distance / halfWidth, 0, 1);
        }
        return image;
    }

    /// <summary>A "7": a top bar and a slanted stroke.</summary>
    public static float[] Seven(int size)
    {
        var image = new float[size * size];
        int top = size / 5, left = size / 4, right = size - size / 4;
        for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
        {
            bool bar = y >= top && y < top + 2 && x >= left && x < right;
            // Stroke from (top, right) down to (size − top, size/2 − 2).
            double t = (double)(y - top) / (size - 2 * top);
            double strokeX = right - t * (right - (size / 2 - 2));
            bool stroke = t >= 0 && t <= 1 && Math.Abs(x - strokeX) < 1.5;
            image[y * size + x] = bar || stroke ? 1f : 0f;
        }
        return image;
    }

    /// <summary>Uniform noise in [0, 1).</summary>
    public static float[] Noise(int size, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var image = new float[size * size];
        for (int p = 0; p < image.Length; p++) image[p] = (float)random.NextDouble();
        return image;
    }
}
