using System.Numerics;

namespace CapsEmbedded.Runtime;

/// <summary>
/// The k longest capsules (paper §6: MultiMNIST's prediction is the two longest), for any class count and any model:
/// shape-independent, so it is runtime code every model calls, not generated code.
/// </summary>
public static class TopK
{
    /// <summary>
    /// The longest capsule's class (k = 1), the prediction of every model (the reference, the generated float and int8
    /// models, QuantizedCapsNet): ties go to the lowest index and NaN never wins (all NaN → 0).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="lengths"/> is empty.</exception>
    public static int ArgMax<T>(ReadOnlySpan<T> lengths) where T : IFloatingPointIeee754<T>
    {
        if (lengths.IsEmpty) throw new ArgumentException("argmax of an empty vector", nameof(lengths));
        int best = 0;
        for (int k = 1; k < lengths.Length; k++)
            if (lengths[k] > lengths[best] || T.IsNaN(lengths[best])) best = T.IsNaN(lengths[k]) ? best : k;
        return best;
    }

    /// <summary>
    /// Writes the classes of the <c>classes.Length</c> longest capsules, longest first: equal lengths go to the lower
    /// class index and NaN ranks below every number, so the first class is always <see cref="ArgMax{T}"/>'s. An insertion
    /// into the short list, no allocation.
    /// </summary>
    /// <exception cref="ArgumentException">k = 0 or k is more than the number of capsules.</exception>
    public static void Longest(ReadOnlySpan<float> lengths, Span<int> classes) => Longest(lengths, classes, []);

    /// <summary>
    /// As <see cref="Longest(ReadOnlySpan{float}, Span{int})"/>, and also writes each chosen capsule's length into
    /// <paramref name="longest"/> (empty: not written; else as long as <paramref name="classes"/>).
    /// </summary>
    public static void Longest(ReadOnlySpan<float> lengths, Span<int> classes, Span<float> longest)
    {
        int k = classes.Length;
        if (k == 0) throw new ArgumentException("k (the length of classes) must be at least 1", nameof(classes));
        if (k > lengths.Length)
            throw new ArgumentException($"the {k} longest of {lengths.Length} capsules were asked for", nameof(classes));
        if (!longest.IsEmpty && longest.Length != k)
            throw new ArgumentException($"longest has {longest.Length} entries; it must be empty or have k = {k}", nameof(longest));

        int filled = 0;
        for (int c = 0; c < lengths.Length; c++)
        {
            float length = lengths[c];
            if (filled == k && !Longer(length, lengths[classes[k - 1]])) continue;
            // Strictly longer moves up, so an equal length stays behind the lower class index scanned before it.
            int slot = filled < k ? filled++ : k - 1;
            while (slot > 0 && Longer(length, lengths[classes[slot - 1]]))
            {
                classes[slot] = classes[slot - 1];
                slot--;
            }
            classes[slot] = c;
        }
        for (int r = 0; r < longest.Length; r++) longest[r] = lengths[classes[r]];
    }

    private static bool Longer(float a, float b) => a > b || (float.IsNaN(b) && !float.IsNaN(a));
}
