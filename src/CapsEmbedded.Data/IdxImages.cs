namespace CapsEmbedded.Data;

/// <summary>The content of an IDX3 unsigned-byte image file: <see cref="Count"/> images of <see cref="Rows"/> x <see cref="Cols"/>.</summary>
public sealed class IdxImages
{
    public IdxImages(int count, int rows, int cols, byte[] pixels)
    {
        CheckPixels(count, rows, cols, pixels);
        Count = count;
        Rows = rows;
        Cols = cols;
        Pixels = pixels;
    }

    /// <summary>Checks that <paramref name="pixels"/> holds exactly <paramref name="count"/> images of rows x cols
    /// (the one check of image sets, also <see cref="LabeledImages"/>'s).</summary>
    internal static void CheckPixels(int count, int rows, int cols, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        if (pixels.Length != (long)count * rows * cols)
            throw new ArgumentException($"pixels has {pixels.Length} bytes, expected {(long)count * rows * cols} for {count} images of {rows}x{cols}.", nameof(pixels));
    }

    public int Count { get; }
    public int Rows { get; }
    public int Cols { get; }

    /// <summary>Image-major, then row-major: pixel (n, y, x) is at n*Rows*Cols + y*Cols + x; 0 = background.</summary>
    public byte[] Pixels { get; }
}
