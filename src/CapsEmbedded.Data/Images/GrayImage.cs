namespace CapsEmbedded.Data;

/// <summary>A decoded grayscale image, intensities in [0, 1] (0 = black), row-major.</summary>
public sealed class GrayImage
{
    public GrayImage(int width, int height, float[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (pixels.Length != (long)width * height)
            throw new ArgumentException($"pixels has {pixels.Length} values, expected {(long)width * height} for {width}x{height}.", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>Pixel (x, y) is at y * Width + x.</summary>
    public float[] Pixels { get; }
}
