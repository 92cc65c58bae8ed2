using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

public static partial class PackedGemm
{
    /// <summary>
    /// Floats of the scratch the F16 overloads widen B into: one k block of every panel,
    /// ⌈n/16⌉ · min(k, <see cref="KBlock"/>) · 16 (256 KiB for the primary capsules' 256 channels).
    /// </summary>
    public static int WidenedLength(int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        return KernelArguments.PackedLength((long)PanelCount(n) * Math.Min(k, KBlock) * PanelWidth, n, k, "matrix block", "floats");
    }

    /// <summary>
    /// <see cref="MultiplyPanels(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Activation, Span{float}, SimdTier, int, int)"/>
    /// with B packed in the same layout but stored as F16 (every value finite): each k block of this call's panels is widened
    /// (<see cref="HalfPanels"/>, exact) into <paramref name="widened"/> (<see cref="WidenedLength"/> floats, this call's
    /// panels only: threads that split the panels may share one) just before the row tiles sweep it, so the result is the
    /// bits of the float32 path on the widened B, with half the bytes of B read.
    /// </summary>
    public static void MultiplyPanels(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<Half> packedB, int n,
        ReadOnlySpan<float> bias, Activation activation, Span<float> c, SimdTier tier, int panelBegin, int panelEnd,
        Span<float> widened)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        KernelArguments.RequireLength(a.Length, (long)m * k, nameof(a), "m·k");
        var rows = new DenseRows(a, k);
        Compute(ref rows, m, k, new PackedB(packedB, widened), n, bias, activation, c, tier, panelBegin, panelEnd, ZeroColumns.Skip);
    }

    /// <summary>
    /// <see cref="ConvolveChannelsLastPanels(ReadOnlySpan{float}, int, int, int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Activation, Span{float}, SimdTier, int, int)"/>
    /// with F16 panels, widened a k block at a time into <paramref name="widened"/> as by the F16 MultiplyPanels.
    /// </summary>
    public static void ConvolveChannelsLastPanels(ReadOnlySpan<float> input, int channels, int height, int width,
        int kernel, int stride, ReadOnlySpan<Half> packedB, int n, ReadOnlySpan<float> bias, Activation activation,
        Span<float> c, SimdTier tier, int panelBegin, int panelEnd, Span<float> widened) =>
        Convolve(input, channels, height, width, kernel, stride, new PackedB(packedB, widened), n, bias, activation, c, tier,
            panelBegin, panelEnd, ZeroColumns.Skip);

    /// <summary>B's packed panels as the loop nest reads them: float32 in place, or F16 widened a k block at a time into scratch.</summary>
    private readonly ref struct PackedB
    {
        public PackedB(ReadOnlySpan<float> single)
        {
            Single = single;
        }

        public PackedB(ReadOnlySpan<Half> half, Span<float> widened)
        {
            Half = MemoryMarshal.Cast<Half, short>(half);
            Widened = widened;
            IsHalf = true;
        }

        public ReadOnlySpan<float> Single { get; }

        /// <summary>The F16 values as their bits (HalfPanels widens sign-extended 16-bit lanes).</summary>
        public ReadOnlySpan<short> Half { get; }

        public Span<float> Widened { get; }

        public bool IsHalf { get; }

        public int Length => IsHalf ? Half.Length : Single.Length;

        /// <summary>B at a packed index, as a float (the scalar tier's read).</summary>
        public float At(int index) => IsHalf ? (float)BitConverter.Int16BitsToHalf(Half[index]) : Single[index];
    }
}
