using CapsEmbedded.Kernels;

namespace CapsEmbedded.Runtime;

/// <summary>The decoder's packed fully connected layers (PackedGemm's B layout), for <see cref="CapsuleDecoder"/>.</summary>
public readonly ref struct DecoderWeights(
    ReadOnlySpan<float> fc1Weight, ReadOnlySpan<float> fc1Bias,
    ReadOnlySpan<float> fc2Weight, ReadOnlySpan<float> fc2Bias,
    ReadOnlySpan<float> fc3Weight, ReadOnlySpan<float> fc3Bias)
{
    public ReadOnlySpan<float> Fc1Weight { get; } = fc1Weight;
    public ReadOnlySpan<float> Fc1Bias { get; } = fc1Bias;
    public ReadOnlySpan<float> Fc2Weight { get; } = fc2Weight;
    public ReadOnlySpan<float> Fc2Bias { get; } = fc2Bias;
    public ReadOnlySpan<float> Fc3Weight { get; } = fc3Weight;
    public ReadOnlySpan<float> Fc3Bias { get; } = fc3Bias;
}

/// <summary>
/// The reconstruction network (paper §4.1): masked capsules → fc1 ReLU → fc2 ReLU → fc3 sigmoid, three GEMMs with m = 1.
/// Every width is a span's length, so one method serves every model.
/// </summary>
public static class CapsuleDecoder
{
    /// <summary>
    /// Reconstructs an image from <paramref name="masked"/> (the decoder input) into <paramref name="reconstruction"/>;
    /// <paramref name="hidden1"/> and <paramref name="hidden2"/> are the two hidden layers' scratch, their lengths the widths.
    /// </summary>
    public static void Run(ReadOnlySpan<float> masked, DecoderWeights weights, Span<float> hidden1, Span<float> hidden2,
        Span<float> reconstruction, SimdTier tier)
    {
        PackedGemm.Multiply(masked, 1, masked.Length, weights.Fc1Weight, hidden1.Length, weights.Fc1Bias, Activation.Relu, hidden1, tier);
        PackedGemm.Multiply(hidden1, 1, hidden1.Length, weights.Fc2Weight, hidden2.Length, weights.Fc2Bias, Activation.Relu, hidden2, tier);
        PackedGemm.Multiply(hidden2, 1, hidden2.Length, weights.Fc3Weight, reconstruction.Length, weights.Fc3Bias, Activation.Sigmoid,
            reconstruction, tier);
    }
}
