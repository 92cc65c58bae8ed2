namespace CapsEmbedded.Data;

/// <summary>Images with one class label each, as loaded by <see cref="DatasetStore"/>.</summary>
public sealed class LabeledImages(int count, int rows, int cols, byte[] pixels, byte[] labels)
    : LabeledImageSet(count, rows, cols, pixels, labels, labelsPerImage: 1);
