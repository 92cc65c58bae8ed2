namespace CapsEmbedded.Data.MultiMnist;

/// <summary>
/// Images with two class labels each (MultiMNIST: two overlapping digits of different classes), as loaded by
/// <see cref="MultiMnistStore"/>. Image n's classes are at 2n (the first digit's) and 2n + 1 (the second's).
/// </summary>
public sealed class LabeledPairs(int count, int rows, int cols, byte[] pixels, byte[] labels)
    : LabeledImageSet(count, rows, cols, pixels, labels, labelsPerImage: 2);
