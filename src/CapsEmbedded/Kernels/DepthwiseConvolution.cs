using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CapsEmbedded.Kernels;

/// <summary>
/// Depthwise K×K convolution, stride 1, valid padding, one filter per channel (PyTorch groups = channels), on
/// channels-last maps: out[y, x, c] = bias[c] + Σ_ky Σ_kx w[ky, kx, c] · in[y + ky, x + kx, c]. Efficient-CapsNet's
/// primary capsules (9×9 over the stem's 9×9×128 → 1×1×128). Vectorised across channels; every tier sums the K² terms
/// in the same order (bias first, then ky, kx), the vector tiers with fused multiply-adds, so tiers differ by rounding only.
/// </summary>
public static class DepthwiseConvolution
{
    /// <summary>Output side of a valid stride-1 K×K convolution over a <paramref name="side"/>-square map.</summary>
    public static int OutputSize(int side, int kernel) => side - kernel + 1;

    /// <summary>
    /// Repacks a PyTorch depthwise weight [C][1][K][K] into this kernel's [K][K][C] (channels innermost, contiguous
    /// for the vector loads).
    /// </summary>
    public static void PackWeights(ReadOnlySpan<float> weight, int channels, int kernel, Span<float> packed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernel);
        int length = channels * kernel * kernel;
        if (weight.Length != length || packed.Length != length)
        {
            throw new ArgumentException(
                $"depthwise weight has {weight.Length} and packed {packed.Length} elements; expected C·K·K = {length}.");
        }

        for (int c = 0; c < channels; c++)
        {
            for (int tap = 0; tap < kernel * kernel; tap++)
            {
                packed[tap * channels + c] = weight[c * kernel * kernel + tap];
            }
        }
    }

    /// <summary>The convolution on the best tier.</summary>
    public static void Run(ReadOnlySpan<float> input, int channels, int side, int kernel, ReadOnlySpan<float> packedWeight,
        ReadOnlySpan<float> bias, Span<float> output) => Run(input, channels, side, kernel, packedWeight, bias, output, SimdTiers.Best);

    /// <summary>
    /// The convolution: <paramref name="input"/> [side][side][C], <paramref name="packedWeight"/> [K][K][C]
    /// (<see cref="PackWeights"/>), <paramref name="bias"/> [C], <paramref name="output"/> [P][P][C] with P = side − K + 1.
    /// </summary>
    public static void Run(ReadOnlySpan<float> input, int channels, int side, int kernel, ReadOnlySpan<float> packedWeight,
        ReadOnlySpan<float> bias, Span<float> output, SimdTier tier)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernel);
        SimdTiers.ThrowIfUnsupported(tier);
        if (kernel > side)
        {
            throw new ArgumentException($"kernel {kernel} is larger than the {side}×{side} input.", nameof(kernel));
        }

        int outSide = OutputSize(side, kernel);
        if (input.Length != channels * side * side)
        {
            throw new ArgumentException($"input has {input.Length} elements; expected side·side·C = {channels * side * side}.", nameof(input));
        }

        if (packedWeight.Length != channels * kernel * kernel)
        {
            throw new ArgumentException(
                $"packedWeight has {packedWeight.Length} elements; expected K·K·C = {channels * kernel * kernel}.", nameof(packedWeight));
        }

        if (bias.Length != channels)
        {
            throw new ArgumentException($"bias has {bias.Length} elements; expected C = {channels}.", nameof(bias));
        }

        if (output.Length != channels * outSide * outSide)
        {
            throw new ArgumentException(
                $"output has {output.Length} elements; expected P·P·C = {channels * outSide * outSide}.", nameof(output));
        }

        ref float x = ref MemoryMarshal.GetReference(input);
        ref float w = ref MemoryMarshal.GetReference(packedWeight);
        ref float b = ref MemoryMarshal.GetReference(bias);
        ref float o = ref MemoryMarshal.GetReference(output);
        nuint c = (nuint)channels;
        for (int y = 0; y < outSide; y++)
        {
            for (int xx = 0; xx < outSide; xx++)
            {
                ref float pixelIn = ref Unsafe.Add(ref x, ((nuint)y * (nuint)side + (nuint)xx) * c);
                ref float pixelOut = ref Unsafe.Add(ref o, ((nuint)y * (nuint)outSide + (nuint)xx) * c);
                nuint t = 0;
                if (tier == SimdTier.Vector512) t = Channels<Vector512<float>, F32x16>(ref pixelIn, ref w, ref b, ref pixelOut, c, side, kernel, t);
                if (tier >= SimdTier.Vector256) t = Channels<Vector256<float>, F32x8>(ref pixelIn, ref w, ref b, ref pixelOut, c, side, kernel, t);
                if (tier >= SimdTier.Vector128) t = Channels<Vector128<float>, F32x4>(ref pixelIn, ref w, ref b, ref pixelOut, c, side, kernel, t);
                for (; t < c; t++)
                {
                    float sum = Unsafe.Add(ref b, t);
                    for (int ky = 0; ky < kernel; ky++)
                    {
                        for (int kx = 0; kx < kernel; kx++)
                        {
                            nuint tap = (nuint)(ky * kernel + kx);
                            sum += Unsafe.Add(ref w, tap * c + t) * Unsafe.Add(ref pixelIn, ((nuint)ky * (nuint)side + (nuint)kx) * c + t);
                        }
                    }

                    Unsafe.Add(ref pixelOut, t) = sum;
                }
            }
        }
    }

    /// <summary>Channels [t, …) in whole vectors of one output pixel; returns the first channel not done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Channels<TVec, TOps>(ref float pixelIn, ref float w, ref float b, ref float pixelOut, nuint c, int side,
        int kernel, nuint t)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        for (; t + TOps.Count <= c; t += TOps.Count)
        {
            TVec sum = TOps.Load(ref b, t);
            for (int ky = 0; ky < kernel; ky++)
            {
                ref float row = ref Unsafe.Add(ref pixelIn, (nuint)ky * (nuint)side * c);
                ref float taps = ref Unsafe.Add(ref w, (nuint)(ky * kernel) * c);
                for (nuint kx = 0; kx < (nuint)kernel; kx++)
                {
                    sum = TOps.MultiplyAdd(TOps.Load(ref taps, kx * c + t), TOps.Load(ref row, kx * c + t), sum);
                }
            }

            TOps.Store(sum, ref pixelOut, t);
        }

        return t;
    }
}
