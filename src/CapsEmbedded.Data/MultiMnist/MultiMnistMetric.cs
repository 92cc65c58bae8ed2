using CapsEmbedded.Runtime;

namespace CapsEmbedded.Data.MultiMnist;

/// <summary>
/// The paper's MultiMNIST metric (§6): an image is classified right only when its two longest capsules are exactly its
/// two labels (as a set); also counted, the images with at least one of their labels among the two longest.
/// </summary>
public static class MultiMnistMetric
{
    /// <summary>How many of the two labels are among the two longest capsules: 2 is right under the paper's metric.</summary>
    /// <exception cref="ArgumentException">The two labels are equal: no two capsules can be that pair.</exception>
    public static int LabelsAmongTwoLongest(ReadOnlySpan<float> lengths, int first, int second)
    {
        if (first == second)
            throw new ArgumentException($"both labels are {first}; a MultiMNIST pair has two different classes", nameof(second));
        Span<int> longest = stackalloc int[2];
        TopK.Longest(lengths, longest);
        return (first == longest[0] || first == longest[1] ? 1 : 0) + (second == longest[0] || second == longest[1] ? 1 : 0);
    }

    /// <summary>
    /// Scores <paramref name="count"/> images: <paramref name="lengths"/> holds [count × classes] capsule lengths and
    /// <paramref name="labels"/> [count × 2] labels (<see cref="LabeledImageSet.Labels"/> of <see cref="LabeledPairs"/>'s layout).
    /// </summary>
    public static MultiMnistScore Score(ReadOnlySpan<float> lengths, int classes, ReadOnlySpan<byte> labels, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        if (lengths.Length < (long)count * classes)
            throw new ArgumentException($"lengths has {lengths.Length} values, {count} images of {classes} classes need {(long)count * classes}", nameof(lengths));
        if (labels.Length < 2L * count)
            throw new ArgumentException($"labels has {labels.Length} entries, {count} images need {2L * count}", nameof(labels));
        int both = 0, one = 0;
        for (int n = 0; n < count; n++)
        {
            int hits = LabelsAmongTwoLongest(lengths.Slice(n * classes, classes), labels[2 * n], labels[2 * n + 1]);
            if (hits == 2) both++;
            if (hits >= 1) one++;
        }
        return new MultiMnistScore(count, both, one);
    }
}

/// <summary>
/// <see cref="MultiMnistMetric.Score"/>'s counts: of <see cref="Count"/> images, <see cref="BothRight"/> have both labels as
/// their two longest capsules, <see cref="AtLeastOneRight"/> at least one.
/// </summary>
public readonly record struct MultiMnistScore(int Count, int BothRight, int AtLeastOneRight)
{
    /// <summary>Images not right under the paper's metric.</summary>
    public int Wrong => Count - BothRight;

    /// <summary>The paper's error: 100 · wrong / count.</summary>
    public double ErrorPercent => Count == 0 ? 0 : 100.0 * Wrong / Count;

    /// <summary>100 · images with at least one label among the two longest / count.</summary>
    public double AtLeastOnePercent => Count == 0 ? 0 : 100.0 * AtLeastOneRight / Count;
}
