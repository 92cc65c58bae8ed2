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

    /// <summary>Writes the [outH·outW][C·K·K] patch matrix of <paramref name="input"/> ([C][H][W]) into <paramref name="patches"/>.</summary>
    public static void Run(ReadOnlySpan<float> input, int channels, int height, int width, int kernel, int stride,
        Span<float> patches)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        int outH = OutputSize(height, kernel, stride);
        int outW = OutputSize(width, kernel, stride);
        long inputLength = (long)channels * height * width;
        if (input.Length < inputLength)
        {
            throw new ArgumentException(
                $"input has {input.Length} elements; expected at least C·H·W = {channels}·{height}·{width} = {inputLength}.", nameof(input));
        }

        int rowLength = channels * kernel * kernel;
        long patchesLength = (long)outH * outW * rowLength;
        if (patches.Length < patchesLength)
        {
            throw new ArgumentException(
                $"patches has {patches.Length} elements; expected at least outH·outW·C·K·K = {outH}·{outW}·{channels}·{kernel}·{kernel} = {patchesLength}.",
                nameof(patches));
        }

        ref float inputRef = ref MemoryMarshal.GetReference(input);
        ref float patchRef = ref MemoryMarshal.GetReference(patches);
        nuint bytesPerRun = (nuint)kernel * sizeof(float);
        for (int oy = 0; oy < outH; oy++)
        {
            for (int ox = 0; ox < outW; ox++)
            {
                ref float row = ref Unsafe.Add(ref patchRef, (nuint)((oy * outW + ox) * rowLength));
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
    }
}
