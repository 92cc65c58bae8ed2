namespace CapsEmbedded.Data.MultiMnist;

/// <summary>
/// One MultiMNIST pair's recipe (paper §6): which two digits of the source split, and each one's shift in pixels
/// from the canvas centre (x right, y down).
/// </summary>
public readonly record struct MultiMnistPair(int First, int Second, int FirstDx, int FirstDy, int SecondDx, int SecondDy);

/// <summary>
/// MultiMNIST as the paper builds it (§6): two digits of different classes from the same split, each shifted
/// independently by up to <see cref="MaxShift"/> pixels in each direction on a canvas padded by <see cref="Pad"/>
/// pixels on every side (28 + 2·4 = 36), merged pixel-wise as min(a + b, 255). The un-merged shifted digits are the
/// reconstruction targets (§6: "each digit reconstructed from its own capsule").
/// </summary>
public static class MultiMnistPairs
{
    public const int DigitSize = 28;
    public const int Pad = 4;
    public const int MaxShift = 4;
    public const int CanvasSize = DigitSize + 2 * Pad;
    public const int CanvasLength = CanvasSize * CanvasSize;

    // Rejection sampling of a partner of another class ends after about 1.1 draws on MNIST; this bound only turns a
    // one-class input into an error instead of a hang.
    private const int PartnerDrawLimit = 10_000;

    /// <summary>
    /// Draws a partner of another class for digit <paramref name="first"/> and both shifts, each uniform in
    /// −<see cref="MaxShift"/>..<see cref="MaxShift"/>. Five draws of <paramref name="random"/> per pair plus one per
    /// rejected partner: the sequence is fixed by the seed.
    /// </summary>
    public static MultiMnistPair Draw(ReadOnlySpan<byte> labels, int first, DeterministicRandom random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(first, labels.Length);
        int second = -1;
        for (int attempt = 0; attempt < PartnerDrawLimit && second < 0; attempt++)
        {
            int candidate = random.NextInt(labels.Length);
            if (labels[candidate] != labels[first]) second = candidate;
        }
        if (second < 0)
            throw new ArgumentException($"no digit of a class other than {labels[first]} found: MultiMNIST needs two classes at least", nameof(labels));
        return new MultiMnistPair(first, second, Shift(random), Shift(random), Shift(random), Shift(random));
    }

    private static int Shift(DeterministicRandom random) => random.NextInt(2 * MaxShift + 1) - MaxShift;

    /// <summary>
    /// canvas[y][x] = digit[y − Pad − dy][x − Pad − dx] where that lies inside the digit, else 0
    /// (<see cref="CanvasSize"/>² bytes).
    /// </summary>
    public static void Place(ReadOnlySpan<byte> digit, int dx, int dy, Span<byte> canvas)
    {
        if (digit.Length != DigitSize * DigitSize)
            throw new ArgumentException($"a digit has {DigitSize}×{DigitSize} pixels, got {digit.Length}", nameof(digit));
        if (canvas.Length < CanvasLength)
            throw new ArgumentException($"the canvas needs {CanvasLength} bytes, got {canvas.Length}", nameof(canvas));
        if (Math.Abs(dx) > MaxShift || Math.Abs(dy) > MaxShift)
            throw new ArgumentOutOfRangeException(nameof(dx), $"shift ({dx}, {dy}) is outside ±{MaxShift}");
        canvas[..CanvasLength].Clear();
        for (int y = 0; y < DigitSize; y++)
            digit.Slice(y * DigitSize, DigitSize).CopyTo(canvas.Slice((y + Pad + dy) * CanvasSize + Pad + dx, DigitSize));
    }

    /// <summary>merged[k] = min(a[k] + b[k], 255), the paper's overlay.</summary>
    public static void Merge(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> merged)
    {
        if (a.Length != b.Length || merged.Length < a.Length)
            throw new ArgumentException($"overlay of {a.Length} and {b.Length} bytes into {merged.Length}");
        for (int k = 0; k < a.Length; k++) merged[k] = (byte)Math.Min(a[k] + b[k], 255);
    }

    /// <summary>
    /// Builds pair <paramref name="pair"/> from <paramref name="digits"/> (28×28): each digit shifted on its own canvas
    /// (the reconstruction targets) and their overlay, each <see cref="CanvasLength"/> bytes.
    /// </summary>
    public static void Compose(LabeledImages digits, in MultiMnistPair pair, Span<byte> first, Span<byte> second, Span<byte> merged)
    {
        ArgumentNullException.ThrowIfNull(digits);
        if (digits.Rows != DigitSize || digits.Cols != DigitSize)
            throw new ArgumentException($"MultiMNIST is built from {DigitSize}×{DigitSize} digits, got {digits.Rows}×{digits.Cols}", nameof(digits));
        Place(digits.GetImage(pair.First), pair.FirstDx, pair.FirstDy, first);
        Place(digits.GetImage(pair.Second), pair.SecondDx, pair.SecondDy, second);
        Merge(first[..CanvasLength], second[..CanvasLength], merged);
    }
}
