namespace CapsEmbedded.Data.MultiMnist;

/// <summary>
/// Images with two class labels each (MultiMNIST: two overlapping digits of different classes), as loaded by
/// <see cref="MultiMnistStore"/>.
/// </summary>
public sealed class LabeledPairs
{
    public LabeledPairs(int count, int rows, int cols, byte[] pixels, byte[] labels)
    {
        IdxImages.CheckPixels(count, rows, cols, pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Length != 2L * count)
            throw new ArgumentException($"labels has {labels.Length} entries, expected 2 × {count}.", nameof(labels));
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

    /// <summary>Two classes per image, 0..9: image n's are at 2n (the first digit's) and 2n + 1 (the second's).</summary>
    public byte[] Labels { get; }

    /// <summary>The raw bytes of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> GetImage(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Pixels.AsSpan(index * ImageLength, ImageLength);
    }

    /// <summary>The two classes of image <paramref name="index"/>: the first digit's, the second's.</summary>
    public ReadOnlySpan<byte> GetLabels(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Labels.AsSpan(2 * index, 2);
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
