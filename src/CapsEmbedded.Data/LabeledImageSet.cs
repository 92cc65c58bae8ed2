namespace CapsEmbedded.Data;

/// <summary>
/// Images of one size with a fixed number of class labels each: one for MNIST-like sets (<see cref="LabeledImages"/>),
/// two for MultiMNIST (<see cref="MultiMnist.LabeledPairs"/>).
/// </summary>
public abstract class LabeledImageSet
{
    private protected LabeledImageSet(int count, int rows, int cols, byte[] pixels, byte[] labels, int labelsPerImage)
    {
        IdxImages.CheckPixels(count, rows, cols, pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Length != (long)labelsPerImage * count)
            throw new ArgumentException(labelsPerImage == 1
                ? $"labels has {labels.Length} entries, expected {count}."
                : $"labels has {labels.Length} entries, expected {labelsPerImage} × {count}.", nameof(labels));
        Count = count;
        Rows = rows;
        Cols = cols;
        Pixels = pixels;
        Labels = labels;
        LabelsPerImage = labelsPerImage;
    }

    public int Count { get; }
    public int Rows { get; }
    public int Cols { get; }

    /// <summary>How many classes each image carries; image n's are at n·LabelsPerImage onwards.</summary>
    public int LabelsPerImage { get; }

    /// <summary>Pixels of one image: Rows * Cols.</summary>
    public int ImageLength => Rows * Cols;

    /// <summary>Image-major, then row-major bytes 0..255 (0 = background).</summary>
    public byte[] Pixels { get; }

    /// <summary>Classes 0..9, <see cref="LabelsPerImage"/> per image, image-major.</summary>
    public byte[] Labels { get; }

    /// <summary>The raw bytes of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> GetImage(int index)
    {
        CheckIndex(index);
        return Pixels.AsSpan(index * ImageLength, ImageLength);
    }

    /// <summary>The classes of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> GetLabels(int index)
    {
        CheckIndex(index);
        return Labels.AsSpan(index * LabelsPerImage, LabelsPerImage);
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

    private void CheckIndex(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
    }
}
