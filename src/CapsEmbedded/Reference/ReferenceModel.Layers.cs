using System.Numerics;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Reference;

// The ordinary layers: convolution, fully connected, activations, and the reconstruction decoder (§4.1).
public static partial class ReferenceModel
{
    /// <summary>
    /// Valid (unpadded) 2-D convolution with bias:
    /// out[o, y, x] = bias[o] + Σ_c Σ_ky Σ_kx weight[o, c, ky, kx] · in[c, y·stride + ky, x·stride + kx].
    /// </summary>
    /// <param name="input">[channels][height][width].</param>
    /// <param name="channels">Input channels.</param>
    /// <param name="height">Input rows.</param>
    /// <param name="width">Input columns.</param>
    /// <param name="weight">[outChannels][channels][kernel][kernel] (PyTorch layout).</param>
    /// <param name="bias">[outChannels].</param>
    /// <param name="outChannels">Output channels (kernels).</param>
    /// <param name="kernel">Kernel side.</param>
    /// <param name="stride">Step between kernel positions, the same in both directions.</param>
    /// <param name="output">[outChannels][(height − kernel)/stride + 1][(width − kernel)/stride + 1].</param>
    public static void Conv2d<T>(ReadOnlySpan<T> input, int channels, int height, int width,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outChannels, int kernel, int stride, Span<T> output)
        where T : IFloatingPointIeee754<T>
    {
        if (channels < 1 || height < 1 || width < 1 || outChannels < 1 || kernel < 1 || stride < 1)
            throw new ArgumentException(
                $"conv sizes must be positive: channels {channels}, {height}×{width}, out {outChannels}, kernel {kernel}, stride {stride}");
        if (kernel > height || kernel > width)
            throw new ArgumentException($"kernel {kernel} is larger than the {height}×{width} input", nameof(kernel));
        int outHeight = (height - kernel) / stride + 1, outWidth = (width - kernel) / stride + 1;
        RequireLength(input.Length, (long)channels * height * width, "conv input", nameof(input));
        RequireLength(weight.Length, (long)outChannels * channels * kernel * kernel, "conv weight", nameof(weight));
        RequireLength(bias.Length, outChannels, "conv bias", nameof(bias));
        RequireLength(output.Length, (long)outChannels * outHeight * outWidth, "conv output", nameof(output));

        for (int o = 0; o < outChannels; o++)
        for (int y = 0; y < outHeight; y++)
        for (int x = 0; x < outWidth; x++)
        {
            T sum = Widen<T>(bias[o]);
            for (int c = 0; c < channels; c++)
            for (int ky = 0; ky < kernel; ky++)
            {
                int inRow = (c * height + y * stride + ky) * width + x * stride;
                int weightRow = ((o * channels + c) * kernel + ky) * kernel;
                for (int kx = 0; kx < kernel; kx++)
                    sum += Widen<T>(weight[weightRow + kx]) * input[inRow + kx];
            }
            output[(o * outHeight + y) * outWidth + x] = sum;
        }
    }

    /// <summary>Fully connected layer: out[o] = bias[o] + Σ_k weight[o, k] · in[k], weight [outputs][inputs].</summary>
    public static void Linear<T>(ReadOnlySpan<T> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<T> output)
        where T : IFloatingPointIeee754<T>
    {
        RequireLength(weight.Length, (long)output.Length * input.Length, "linear weight", nameof(weight));
        RequireLength(bias.Length, output.Length, "linear bias", nameof(bias));
        for (int o = 0; o < output.Length; o++)
        {
            T sum = Widen<T>(bias[o]);
            var row = weight.Slice(o * input.Length, input.Length);
            for (int k = 0; k < input.Length; k++) sum += Widen<T>(row[k]) * input[k];
            output[o] = sum;
        }
    }

    /// <summary>ReLU in place: max(0, x). NaN stays NaN.</summary>
    public static void Relu<T>(Span<T> values) where T : IFloatingPointIeee754<T>
    {
        for (int k = 0; k < values.Length; k++)
            if (values[k] < T.Zero) values[k] = T.Zero;
    }

    /// <summary>Logistic sigmoid in place: 1 / (1 + e^(−x)); saturates to exactly 0 or 1, never NaN for finite x.</summary>
    public static void Sigmoid<T>(Span<T> values) where T : IFloatingPointIeee754<T>
    {
        for (int k = 0; k < values.Length; k++) values[k] = T.One / (T.One + T.Exp(-values[k]));
    }

    /// <summary>
    /// The reconstruction decoder (§4.1, Fig. 2): masked capsules [classes·classDims] → FC hidden1 ReLU → FC hidden2 ReLU
    /// → FC inputLength sigmoid.
    /// </summary>
    public static void Decoder<T>(ReadOnlySpan<T> maskedCapsules, CapsNetWeights weights, Span<T> reconstruction)
        where T : IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(weights);
        var a = weights.Architecture;
        Decoder(maskedCapsules, weights, new T[a.DecoderHidden1], new T[a.DecoderHidden2], reconstruction);
    }

    /// <summary>The reconstruction decoder (§4.1), also returning both hidden layers (after ReLU).</summary>
    public static void Decoder<T>(ReadOnlySpan<T> maskedCapsules, CapsNetWeights weights, Span<T> hidden1, Span<T> hidden2,
        Span<T> reconstruction) where T : IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(weights);
        var a = weights.Architecture;
        RequireLength(maskedCapsules.Length, a.DecoderInput, "decoder input", nameof(maskedCapsules));
        RequireLength(hidden1.Length, a.DecoderHidden1, "decoder hidden layer 1", nameof(hidden1));
        RequireLength(hidden2.Length, a.DecoderHidden2, "decoder hidden layer 2", nameof(hidden2));
        RequireLength(reconstruction.Length, a.DecoderOutput, "reconstruction", nameof(reconstruction));
        Decoder(maskedCapsules, (NamedTensors)weights, hidden1, hidden2, reconstruction);
    }

    /// <summary>
    /// The reconstruction decoder on any family's weights: its tensors have the same names in every family
    /// (<see cref="CapsNetArchitecture.Fc1Weight"/> ...); each <see cref="Linear{T}"/> checks its sizes.
    /// </summary>
    public static void Decoder<T>(ReadOnlySpan<T> maskedCapsules, NamedTensors weights, Span<T> hidden1, Span<T> hidden2,
        Span<T> reconstruction) where T : IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(weights);
        Linear(maskedCapsules, weights[CapsNetArchitecture.Fc1Weight], weights[CapsNetArchitecture.Fc1Bias], hidden1);
        Relu(hidden1);
        Linear<T>(hidden1, weights[CapsNetArchitecture.Fc2Weight], weights[CapsNetArchitecture.Fc2Bias], hidden2);
        Relu(hidden2);
        Linear<T>(hidden2, weights[CapsNetArchitecture.Fc3Weight], weights[CapsNetArchitecture.Fc3Bias], reconstruction);
        Sigmoid(reconstruction);
    }
}
