using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

public static partial class PackedGemm
{
    /// <summary>
    /// A convolution as an implicit GEMM: C[outH·outW][n] = act(patches · Bᵀ + bias), where patches are the rows
    /// <see cref="Im2Col.RunChannelsLast"/> would write for
    /// <paramref name="input"/> ([H][W][C]) — but read in place, never written out. B is the conv weight permuted to
    /// [out][ky][kx][c] (<see cref="Im2Col.PermuteWeightsToChannelsLast"/>) and packed. The result is the same bits as
    /// im2col followed by <see cref="Multiply(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Activation, Span{float}, SimdTier)"/>.
    /// </summary>
    /// <remarks>
    /// A row tile's k block is one piece of a window row (K pixels × C channels, contiguous in [H][W][C]) for each of
    /// its output positions; when the tile's positions lie on one output row they are <paramref name="stride"/>·C
    /// floats apart and the micro-kernel reads them where they are (the primary capsules: 6 positions a row, k blocks
    /// of 256 = C). Otherwise the block is gathered into a 6 × 256 stack buffer that stays in L1. Either way the
    /// 36 × 20736 patch matrix (3 MB for the paper network) is never materialised.
    /// </remarks>
    public static void ConvolveChannelsLast(ReadOnlySpan<float> input, int channels, int height, int width, int kernel,
        int stride, ReadOnlySpan<float> packedB, int n, ReadOnlySpan<float> bias, Activation activation, Span<float> c,
        SimdTier tier) =>
        ConvolveChannelsLastPanels(input, channels, height, width, kernel, stride, packedB, n, bias, activation, c, tier,
            0, PanelCount(n));

    /// <summary>
    /// Only columns [16·<paramref name="panelBegin"/>, min(n, 16·<paramref name="panelEnd"/>)) of
    /// <see cref="ConvolveChannelsLast"/>, as <see cref="MultiplyPanels(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Activation, Span{float}, SimdTier, int, int)"/> does for a dense A: threads that each take a
    /// panel range reproduce the whole convolution's bits.
    /// </summary>
    public static void ConvolveChannelsLastPanels(ReadOnlySpan<float> input, int channels, int height, int width,
        int kernel, int stride, ReadOnlySpan<float> packedB, int n, ReadOnlySpan<float> bias, Activation activation,
        Span<float> c, SimdTier tier, int panelBegin, int panelEnd) =>
        ConvolveChannelsLastPanels(input, channels, height, width, kernel, stride, packedB, n, bias, activation, c, tier,
            panelBegin, panelEnd, ZeroColumns.Skip);

    /// <summary>
    /// Only output positions (rows of C) [<paramref name="positionBegin"/>, <paramref name="positionEnd"/>) of
    /// <see cref="ConvolveChannelsLast"/>, every column: threads that each take a position range (a band of the output
    /// map) read only their band of the input and its halo; cut at multiples of <see cref="RowGranule"/>, the ranges keep
    /// the row tiles of one call and together reproduce the whole convolution's bits.
    /// </summary>
    public static void ConvolveChannelsLastRows(ReadOnlySpan<float> input, int channels, int height, int width,
        int kernel, int stride, ReadOnlySpan<float> packedB, int n, ReadOnlySpan<float> bias, Activation activation,
        Span<float> c, SimdTier tier, int positionBegin, int positionEnd)
    {
        int positions = Im2Col.OutputSize(height, kernel, stride) * Im2Col.OutputSize(width, kernel, stride);
        if (positionBegin < 0 || positionEnd < positionBegin || positionEnd > positions)
        {
            throw new ArgumentOutOfRangeException(nameof(positionEnd),
                $"position range [{positionBegin}, {positionEnd}) is not inside the {positions} output positions.");
        }

        KernelArguments.RequireLength(c.Length, (long)positions * n, nameof(c), "outH·outW·n");
        Convolve(input, channels, height, width, kernel, stride, new PackedB(packedB), n, bias, activation,
            c.Slice(positionBegin * n), tier, 0, PanelCount(n), ZeroColumns.Skip, positionBegin, positionEnd);
    }

    /// <summary>As above; <paramref name="zeroColumns"/> = <see cref="ZeroColumns.Compute"/> runs every column (tests compare the two).</summary>
    internal static void ConvolveChannelsLastPanels(ReadOnlySpan<float> input, int channels, int height, int width,
        int kernel, int stride, ReadOnlySpan<float> packedB, int n, ReadOnlySpan<float> bias, Activation activation,
        Span<float> c, SimdTier tier, int panelBegin, int panelEnd, ZeroColumns zeroColumns) =>
        Convolve(input, channels, height, width, kernel, stride, new PackedB(packedB), n, bias, activation, c, tier, panelBegin,
            panelEnd, zeroColumns);

    /// <summary>
    /// The convolution over either kind of packed B (float32, or F16 widened a k block at a time), for output positions
    /// [<paramref name="positionBegin"/>, <paramref name="positionEnd"/>) (all of them when the end is −1); C starts at
    /// the first of them.
    /// </summary>
    private static void Convolve(ReadOnlySpan<float> input, int channels, int height, int width, int kernel, int stride,
        PackedB packedB, int n, ReadOnlySpan<float> bias, Activation activation, Span<float> c, SimdTier tier, int panelBegin,
        int panelEnd, ZeroColumns zeroColumns, int positionBegin = 0, int positionEnd = -1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        int outH = Im2Col.OutputSize(height, kernel, stride);
        int outW = Im2Col.OutputSize(width, kernel, stride);
        long inputLength = (long)height * width * channels;
        if (input.Length < inputLength)
        {
            // Only here: the interpolated formula would allocate on every call.
            KernelArguments.RequireLength(input.Length, inputLength, nameof(input), $"H·W·C = {height}·{width}·{channels}");
        }

        long k = (long)kernel * kernel * channels;
        if (k > int.MaxValue)
        {
            throw new ArgumentException($"A patch of K·K·C = {kernel}·{kernel}·{channels} values is too long.", nameof(kernel));
        }

        Span<float> gather = stackalloc float[MaxTileRows * KBlock];
        if (positionEnd < 0) positionEnd = outH * outW;
        var rows = new ChannelsLastPatches(input, channels, width, kernel, stride, outW, positionBegin, gather);
        Compute(ref rows, positionEnd - positionBegin, (int)k, packedB, n, bias, activation, c, tier, panelBegin, panelEnd, zeroColumns);
    }

    /// <summary>
    /// The patch rows of a channels-last image from output position <c>first</c> on (row r is position first + r), read in
    /// place where a block allows it, else gathered.
    /// </summary>
    private readonly ref struct ChannelsLastPatches : IRowBlocks
    {
        private readonly ref float _input;
        private readonly Span<float> _gather;
        private readonly int _channels, _width, _stride, _outW, _first;
        private readonly int _windowRow; // K·C: one window row, contiguous in [H][W][C]

        public ChannelsLastPatches(ReadOnlySpan<float> input, int channels, int width, int kernel, int stride, int outW,
            int first, Span<float> gather)
        {
            _first = first;
            _input = ref MemoryMarshal.GetReference(input);
            _gather = gather;
            _channels = channels;
            _width = width;
            _stride = stride;
            _outW = outW;
            _windowRow = kernel * channels;
        }

        public ref float Block(int row, int rows, int k0, int kc, out nuint lda)
        {
            row += _first;
            int ky = k0 / _windowRow, offset = k0 - ky * _windowRow;
            int oy = row / _outW, ox = row - oy * _outW;
            if (offset + kc <= _windowRow && ox + rows <= _outW)
            {
                // One window row's piece for positions on one output row: stride·C floats apart.
                lda = (nuint)(_stride * _channels);
                return ref Unsafe.Add(ref _input, Start(oy, ox, ky) + offset);
            }

            for (int r = 0; r < rows; r++)
            {
                int position = row + r;
                oy = position / _outW;
                ox = position - oy * _outW;
                for (int kk = k0; kk < k0 + kc;)
                {
                    ky = kk / _windowRow;
                    offset = kk - ky * _windowRow;
                    int length = Math.Min(_windowRow - offset, k0 + kc - kk);
                    MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref _input, Start(oy, ox, ky) + offset), length)
                        .CopyTo(_gather.Slice(r * kc + (kk - k0), length));
                    kk += length;
                }
            }

            lda = (nuint)kc;
            return ref MemoryMarshal.GetReference(_gather);
        }

        /// <summary>Where window row <paramref name="ky"/> of output position (oy, ox) starts in [H][W][C].</summary>
        private nint Start(int oy, int ox, int ky) => (nint)((oy * _stride + ky) * _width + ox * _stride) * _channels;
    }
}
