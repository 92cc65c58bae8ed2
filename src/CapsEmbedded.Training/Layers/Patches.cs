using System.Numerics;

namespace CapsEmbedded.Training.Layers;

/// <summary>
/// im2col and col2im for the two convolutions, so that each conv is one GEMM (patches · Wᵀ).
/// conv1 reads the image as [C][H][W] and writes patch columns in (channel, ky, kx) order, which is PyTorch's
/// conv1.weight [out, in, kh, kw] row as it is. The primary conv reads conv1's output as [H][W][C] (channel fastest),
/// so each (ky, kx) slice of a patch is one contiguous copy of C values; its weight is kept as [out][ky][kx][in].
/// </summary>
public static class Patches
{
    /// <summary>The output grid and a patch's length; checks both buffers against them.</summary>
    private static (int OutH, int OutW, int Columns) Shape(int inputLength, int patchesLength, int channels, int height, int width,
        int kernel, int stride)
    {
        int outH = (height - kernel) / stride + 1, outW = (width - kernel) / stride + 1;
        int columns = channels * kernel * kernel;
        if (inputLength < channels * height * width) throw new ArgumentException($"input has {inputLength} elements, needs {channels * height * width}", "input");
        if (patchesLength < outH * outW * columns) throw new ArgumentException($"patches has {patchesLength} elements, needs {outH * outW * columns}", "patches");
        return (outH, outW, columns);
    }

    /// <summary>patches[(y·outW + x)][(c·k + ky)·k + kx] = input[c][y·stride + ky][x·stride + kx].</summary>
    public static void FromChw<T>(ReadOnlySpan<T> input, int channels, int height, int width, int kernel, int stride,
        Span<T> patches) where T : unmanaged, INumberBase<T>
    {
        var (outH, outW, columns) = Shape(input.Length, patches.Length, channels, height, width, kernel, stride);
        for (int y = 0; y < outH; y++)
            for (int x = 0; x < outW; x++)
            {
                var row = patches.Slice((y * outW + x) * columns, columns);
                int col = 0;
                for (int c = 0; c < channels; c++)
                    for (int ky = 0; ky < kernel; ky++)
                    {
                        input.Slice((c * height + y * stride + ky) * width + x * stride, kernel).CopyTo(row.Slice(col, kernel));
                        col += kernel;
                    }
            }
    }

    /// <summary>patches[(y·outW + x)][(ky·k + kx)·C + c] = input[y·stride + ky][x·stride + kx][c].</summary>
    public static void FromHwc<T>(ReadOnlySpan<T> input, int channels, int height, int width, int kernel, int stride,
        Span<T> patches) where T : unmanaged, INumberBase<T>
    {
        var (outH, outW, columns) = Shape(input.Length, patches.Length, channels, height, width, kernel, stride);
        for (int y = 0; y < outH; y++)
            for (int x = 0; x < outW; x++)
            {
                var row = patches.Slice((y * outW + x) * columns, columns);
                for (int ky = 0; ky < kernel; ky++)
                    input.Slice(((y * stride + ky) * width + x * stride) * channels, kernel * channels)
                        .CopyTo(row.Slice(ky * kernel * channels, kernel * channels));
            }
    }

    /// <summary>The adjoint of <see cref="FromHwc"/>: input gradient [H][W][C] = Σ over the patches that read each value (overwrites).</summary>
    public static void ToHwc<T>(ReadOnlySpan<T> patches, int channels, int height, int width, int kernel, int stride,
        Span<T> input) where T : unmanaged, INumberBase<T>
    {
        var (outH, outW, columns) = Shape(input.Length, patches.Length, channels, height, width, kernel, stride);
        input.Slice(0, channels * height * width).Clear();
        for (int y = 0; y < outH; y++)
            for (int x = 0; x < outW; x++)
            {
                var row = patches.Slice((y * outW + x) * columns, columns);
                for (int ky = 0; ky < kernel; ky++)
                    CapsEmbedded.Kernels.VectorMath.Add(row.Slice(ky * kernel * channels, kernel * channels),
                        input.Slice(((y * stride + ky) * width + x * stride) * channels, kernel * channels));
            }
    }
}
