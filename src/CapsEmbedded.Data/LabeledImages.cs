namespace CapsEmbedded.Data;

/// <summary>Images with one class label each, as loaded by <see cref="DatasetStore"/>.</summary>
public sealed class LabeledImages
{
    public LabeledImages(int count, int rows, int cols, byte[] pixels, byte[] labels)
    {
        IdxImages.CheckPixels(count, rows, cols, pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Length != count)
            throw new ArgumentException($"labels has {labels.Length} entries, expected {count}.", nameof(labels));
        Count = count;
        Rows = rows;
        Cols = cols;
        Pixels = pixels;
        Labels = labels;
    }

    public int Count { get; }
    public int Rows { get; }
    public int Cols { get; }

    /// <summary>Pixels of one image: Rows * Cols.</summary>
    public int ImageLength => Rows * Cols;

    /// <summary>Image-major, then row-major bytes 0..255 (0 = background).</summary>
    public byte[] Pixels { get; }

    /// <summary>Class of each image, 0..9.</summary>
    public byte[] Labels { get; }

    /// <summary>The raw bytes of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> GetImage(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Pixels.AsSpan(index * ImageLength, ImageLength);
    }

    /// <summary>Writes image <paramref name="index"/> scaled to [0, 1] (byte / 255), the network's input range.</summary>
    public void CopyImage(int index, Span<float> destination)
    {
        ReadOnlySpan<byte> image = GetImage(index);
        if (destination.Length < image.Length)
            throw new ArgumentException($"destination has {destination.Length} floats, an image needs {image.Length}.", nameof(destination));
        for (int i = 0; i < image.Length; i++)
            destination[i] = image[i] / 255f;
    }
}
