namespace CapsEmbedded.Data;

/// <summary>The content of an IDX3 unsigned-byte image file: <see cref="Count"/> images of <see cref="Rows"/> x <see cref="Cols"/>.</summary>
public sealed class IdxImages
{
    public IdxImages(int count, int rows, int cols, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        if (pixels.Length != (long)count * rows * cols)
            throw new ArgumentException($"pixels has {pixels.Length} bytes, expected {(long)count * rows * cols} for {count} images of {rows}x{cols}.", nameof(pixels));
        Count = count;
        Rows = rows;
        Cols = cols;
        Pixels = pixels;
    }

    public int Count { get; }
    public int Rows { get; }
    public int Cols { get; }

    /// <summary>Image-major, then row-major: pixel (n, y, x) is at n*Rows*Cols + y*Cols + x; 0 = background.</summary>
    public byte[] Pixels { get; }
}
