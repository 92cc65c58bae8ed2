using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

/// <summary>
/// Unrolls the receptive fields of a valid (unpadded) convolution into rows, so that the convolution becomes a
/// <see cref="PackedGemm"/>: patches[outH·outW][C·K·K] · weightᵀ with the PyTorch weight [out][in][kh][kw] as B.
/// </summary>
/// <remarks>
/// Row o = oy·outW + ox holds input[c][oy·s + ky][ox·s + kx] at column (c·K + ky)·K + kx — the order of
/// PyTorch's [in][kh][kw], which is why the weight needs no reshuffling. Each (c, ky) run of K pixels is contiguous in
/// the input and in the row, and is copied as a block.
/// </remarks>
public static class Im2Col
{
    /// <summary>Output side of a valid convolution: (size − kernel) / stride + 1.</summary>
    public static int OutputSize(int size, int kernel, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernel);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        if (size < kernel)
        {
            throw new ArgumentException($"Input side {size} is smaller than the kernel {kernel}.", nameof(size));
        }

        return (size - kernel) / stride + 1;
    }

    /// <summary>Floats <see cref="Run"/> writes: outH·outW rows of C·K·K.</summary>
    public static int PatchesLength(int channels, int height, int width, int kernel, int stride) =>
        checked(OutputSize(height, kernel, stride) * OutputSize(width, kernel, stride) * channels * kernel * kernel);

    /// <summary>
    /// The span checks both layouts share: returns the output size and the patch row length, or throws naming the
    /// layout ([C][H][W] with rows in [c][ky][kx] order, or channels last with rows in [ky][kx][c] order).
    /// </summary>
    private static (int OutH, int OutW, int RowLength) CheckLengths(int inputLength, int patchesLength, int channels,
        int height, int width, int kernel, int stride, bool channelsLast)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        int outH = OutputSize(height, kernel, stride);
        int outW = OutputSize(width, kernel, stride);
        long needInput = (long)channels * height * width;
        if (inputLength < needInput)
        {
            string shape = channelsLast ? $"H·W·C = {height}·{width}·{channels}" : $"C·H·W = {channels}·{height}·{width}";
            throw new ArgumentException($"input has {inputLength} elements; expected at least {shape} = {needInput}.", "input");
        }

        int rowLength = channels * kernel * kernel;
        long needPatches = (long)outH * outW * rowLength;
        if (patchesLength < needPatches)
        {
            string shape = channelsLast
                ? $"outH·outW·K·K·C = {outH}·{outW}·{kernel}·{kernel}·{channels}"
                : $"outH·outW·C·K·K = {outH}·{outW}·{channels}·{kernel}·{kernel}";
            throw new ArgumentException($"patches has {patchesLength} elements; expected at least {shape} = {needPatches}.", "patches");
        }

        return (outH, outW, rowLength);
    }

    /// <summary>
    /// Writes the [outH·outW][C·K·K] patch matrix of <paramref name="input"/> ([C][H][W]) into <paramref name="patches"/>,
    /// or only its rows [<paramref name="firstRow"/>, firstRow + <paramref name="rowCount"/>) (clipped to outH·outW), each
    /// at its usual place: threads can share one patch matrix, a row range each.
    /// </summary>
    public static void Run(ReadOnlySpan<float> input, int channels, int height, int width, int kernel, int stride,
        Span<float> patches, int firstRow = 0, int rowCount = int.MaxValue)
    {
        var (outH, outW, rowLength) = CheckLengths(input.Length, patches.Length, channels, height, width, kernel, stride, channelsLast: false);
        var (begin, end) = RowRange(outH * outW, firstRow, rowCount);

        ref float inputRef = ref MemoryMarshal.GetReference(input);
        ref float patchRef = ref MemoryMarshal.GetReference(patches);
        nuint bytesPerRun = (nuint)kernel * sizeof(float);
        for (int o = begin; o < end; o++)
        {
            int oy = o / outW, ox = o % outW;
            ref float row = ref Unsafe.Add(ref patchRef, (nuint)(o * rowLength));
            nuint column = 0;
            for (int ch = 0; ch < channels; ch++)
            {
                ref float window = ref Unsafe.Add(ref inputRef, (nuint)((ch * height + oy * stride) * width + ox * stride));
                for (int ky = 0; ky < kernel; ky++)
                {
                    Unsafe.CopyBlockUnaligned(
                        ref Unsafe.As<float, byte>(ref Unsafe.Add(ref row, column)),
                        ref Unsafe.As<float, byte>(ref Unsafe.Add(ref window, (nuint)(ky * width))),
                        (uint)bytesPerRun);
                    column += (nuint)kernel;
                }
            }
        }
    }

    /// <summary>[begin, end) of a row range clipped to <paramref name="rows"/>; throws for a negative start or count.</summary>
    private static (int Begin, int End) RowRange(int rows, int firstRow, int rowCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        int begin = Math.Min(firstRow, rows);
        return (begin, (int)Math.Min((long)begin + rowCount, rows));
    }

    /// <summary>
    /// The channels-last variant: <paramref name="input"/> is [H][W][C] (what a GEMM writes: [positions][channels]) and
    /// each patch row is in [ky][kx][c] order. Each (ky) run of K·C floats is contiguous in the input, so a row is K block
    /// copies and no transpose of the previous layer's output is needed. Pair it with weights permuted by
    /// <see cref="PermuteWeightsToChannelsLast"/>. <paramref name="firstRow"/> and <paramref name="rowCount"/> select
    /// rows as in <see cref="Run"/>. Generic over the element: the int8 model runs it on its u7 activation bytes.
    /// </summary>
    public static void RunChannelsLast<T>(ReadOnlySpan<T> input, int channels, int height, int width, int kernel, int stride,
        Span<T> patches, int firstRow = 0, int rowCount = int.MaxValue) where T : unmanaged
    {
        var (outH, outW, rowLength) = CheckLengths(input.Length, patches.Length, channels, height, width, kernel, stride, channelsLast: true);
        var (begin, end) = RowRange(outH * outW, firstRow, rowCount);

        int run = kernel * channels; // one window row: K pixels × C channels, contiguous in [H][W][C]
        for (int o = begin; o < end; o++)
        {
            int oy = o / outW, ox = o % outW;
            Span<T> row = patches.Slice(o * rowLength, rowLength);
            for (int ky = 0; ky < kernel; ky++)
            {
                input.Slice(((oy * stride + ky) * width + ox * stride) * channels, run).CopyTo(row.Slice(ky * run, run));
            }
        }
    }

    /// <summary>
    /// Rewrites conv weights from PyTorch's [out][in][kh][kw] to [out][kh][kw][in], the column order of
    /// <see cref="RunChannelsLast"/>'s patch rows.
    /// </summary>
    public static void PermuteWeightsToChannelsLast(ReadOnlySpan<float> weight, int outputs, int channels, int kernel,
        Span<float> permuted)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outputs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernel);
        long length = (long)outputs * channels * kernel * kernel;
        if (weight.Length < length)
        {
            throw new ArgumentException($"weight has {weight.Length} elements; expected at least out·in·K·K = {length}.", nameof(weight));
        }

        if (permuted.Length < length)
        {
            throw new ArgumentException($"permuted has {permuted.Length} elements; expected at least out·in·K·K = {length}.", nameof(permuted));
        }

        int area = kernel * kernel;
        int rowLength = channels * area;
        ref float source = ref MemoryMarshal.GetReference(weight);
        ref float target = ref MemoryMarshal.GetReference(permuted);
        for (int o = 0; o < outputs; o++)
        {
            nuint row = (nuint)o * (nuint)rowLength;
            // Writes in order, reads strided by K·K floats: the C lines read stay in L1 from one tap to the next. (Strided
            // writes instead would step by C floats, a power of two, and map every fourth line to the same L1 set.)
            for (int tap = 0; tap < area; tap++)
            {
                ref float targetRun = ref Unsafe.Add(ref target, row + (nuint)(tap * channels));
                ref float sourceColumn = ref Unsafe.Add(ref source, row + (nuint)tap);
                for (int c = 0; c < channels; c++)
                {
                    Unsafe.Add(ref targetRun, (nuint)c) = Unsafe.Add(ref sourceColumn, (nuint)(c * area));
                }
            }
        }
    }
}
