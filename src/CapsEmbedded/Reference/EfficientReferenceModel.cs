using CapsEmbedded.Weights;

namespace CapsEmbedded.Reference;

/// <summary>
/// The scalar reference Efficient-CapsNet ("Efficient-CapsNet: capsule network with self-attention routing", Mazzia,
/// Salvetti, Chiaberge, Scientific Reports 2021), in float32: the executable specification the generated model is judged
/// against. Plain loops in the order of the authors' code (EscVM/Efficient-CapsNet), every size from
/// <see cref="EfficientCapsNetWeights.Architecture"/>; batch norm as written (unfolded) by default, or on
/// <see cref="EfficientFoldedWeights"/> from <see cref="FoldBatchNorm"/>.
/// </summary>
/// <remarks>
/// Layouts are PyTorch's, row-major: feature maps [channels][height][width], conv weights [out][in][kh][kw], the
/// depthwise weight [C][1][K][K], W [j][i][d_in][d_out] and b [j][i] (the authors' layouts), linear weights [out][in].
/// Composite methods allocate their intermediates, which is fine for a specification.
/// </remarks>
public static class EfficientReferenceModel
{
    /// <summary>ε of the Efficient squash, the authors' 10e-21: it only keeps s/‖s‖ finite at s = 0.</summary>
    public const float SquashEpsilon = 1e-20f;

    /// <summary>
    /// One forward pass with batch norm as trained: stem (Conv → ReLU → BN per layer) → depthwise primary capsules →
    /// squash → self-attention routing → lengths → mask → decoder.
    /// </summary>
    /// <param name="weights">The network; its architecture fixes every size.</param>
    /// <param name="image">Pixels, [inputChannels][inputSize][inputSize].</param>
    /// <param name="maskClass">The capsule the decoder sees (the true label in training); −1 picks the longest.</param>
    public static ReferenceOutput Forward(EfficientCapsNetWeights weights, ReadOnlySpan<float> image, int maskClass = -1)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return Run(weights, folded: null, image, maskClass);
    }

    /// <summary>
    /// The same forward pass on folded weights (<see cref="FoldBatchNorm"/>): each stem layer is Conv → ReLU, the batch
    /// norms being inside the next convolution. Equal to the unfolded pass up to rounding.
    /// </summary>
    public static ReferenceOutput Forward(EfficientFoldedWeights folded, ReadOnlySpan<float> image, int maskClass = -1)
    {
        ArgumentNullException.ThrowIfNull(folded);
        return Run(folded.Source, folded, image, maskClass);
    }

    private static ReferenceOutput Run(EfficientCapsNetWeights weights, EfficientFoldedWeights? folded, ReadOnlySpan<float> image,
        int maskClass)
    {
        var a = weights.Architecture;
        if (image.Length != a.InputLength)
            throw new ArgumentException($"image has {image.Length} pixels but the network expects {a.InputLength} " +
                $"({a.InputChannels}×{a.InputSize}×{a.InputSize})", nameof(image));
        if (maskClass < -1 || maskClass >= a.Classes)
            throw new ArgumentOutOfRangeException(nameof(maskClass), maskClass,
                $"mask class must be −1 (longest capsule) or a class in [0, {a.Classes})");

        // Stem: Conv (valid) → ReLU → BatchNorm, BN after the ReLU as in the authors' Keras code.
        float[] features = image.ToArray();
        for (int layer = 0; layer < a.Stem.Count; layer++)
        {
            var (channels, kernel, stride) = a.Stem[layer];
            int inSide = a.StemInputSize(layer), outSide = a.StemOutputSize(layer);
            var output = new float[channels * outSide * outSide];
            var (weight, bias) = folded is null ? weights.StemConv(layer) : folded.StemConv(layer);
            ReferenceModel.Conv2d<float>(features, a.StemInputChannels(layer), inSide, inSide, weight, bias, channels, kernel,
                stride, output);
            ReferenceModel.Relu<float>(output);
            if (folded is null) BatchNorm(output, channels, weights.StemBatchNorm(layer), a.BatchNormEps);
            features = output;
        }

        // Primary capsules: depthwise K×K conv → [C][P][P], read flat as N capsules × D dims, Efficient squash.
        var primary = new float[a.PrimaryCapsules * a.PrimaryDims];
        var (primaryWeight, primaryBias) = folded?.Primary ?? weights.Primary;
        DepthwiseConv2d(features, a.PrimaryChannels, a.StemOutputSize(a.Stem.Count - 1), primaryWeight, primaryBias,
            a.PrimaryKernel, primary);
        for (int i = 0; i < a.PrimaryCapsules; i++) Squash(primary.AsSpan(i * a.PrimaryDims, a.PrimaryDims));

        // FC-caps self-attention routing → digit capsules v_j.
        var coupling = new float[a.PrimaryCapsules * a.Classes];
        var capsules = new float[a.Classes * a.ClassDims];
        SelfAttentionRouting(primary, weights.Digit.Weight, weights.Digit.Bias, a.PrimaryCapsules, a.PrimaryDims, a.Classes,
            a.ClassDims, coupling, capsules);

        // Class = longest capsule; ‖v_j‖ without the authors' 1e-7 under the root (our paper network's convention).
        var lengths = new float[a.Classes];
        ReferenceModel.Lengths<float>(capsules, a.Classes, a.ClassDims, lengths);
        int predicted = Runtime.TopK.ArgMax<float>(lengths);
        int masked = maskClass >= 0 ? maskClass : predicted;
        var decoderInput = new float[a.DecoderInput];
        ReferenceModel.Mask<float>(capsules, a.Classes, a.ClassDims, masked, decoderInput);
        var reconstruction = new float[a.DecoderOutput];
        ReferenceModel.Decoder<float>(decoderInput, weights, new float[a.DecoderHidden1], new float[a.DecoderHidden2], reconstruction);

        return new ReferenceOutput
        {
            Lengths = lengths, Capsules = capsules, Reconstruction = reconstruction, PredictedClass = predicted,
            MaskedClass = masked, PrimaryCapsules = primary, CouplingCoefficients = coupling,
        };
    }

    /// <summary>
    /// Batch norm in eval mode, in place, per channel c of [channels][plane]: y = γ_c (x − μ_c)/√(σ²_c + ε) + β_c.
    /// </summary>
    public static void BatchNorm(Span<float> values, int channels,
        (float[] Gamma, float[] Beta, float[] Mean, float[] Variance) statistics, float epsilon)
    {
        var (gamma, beta, mean, variance) = statistics;
        if (channels < 1 || values.Length % channels != 0 || gamma.Length != channels || beta.Length != channels
            || mean.Length != channels || variance.Length != channels)
            throw new ArgumentException($"{values.Length} values and the batch-norm tensors do not fit {channels} channels");
        int plane = values.Length / channels;
        for (int c = 0; c < channels; c++)
        {
            float deviation = MathF.Sqrt(variance[c] + epsilon);
            var channel = values.Slice(c * plane, plane);
            for (int k = 0; k < plane; k++) channel[k] = gamma[c] * (channel[k] - mean[c]) / deviation + beta[c];
        }
    }

    /// <summary>
    /// Depthwise K×K convolution, stride 1, valid, one filter per channel (PyTorch groups = channels):
    /// out[c, y, x] = bias[c] + Σ_ky Σ_kx weight[c, 0, ky, kx] · in[c, y + ky, x + kx].
    /// </summary>
    /// <param name="input">[channels][side][side].</param>
    /// <param name="channels">C.</param>
    /// <param name="side">The input's side.</param>
    /// <param name="weight">[C][1][K][K].</param>
    /// <param name="bias">[C].</param>
    /// <param name="kernel">K.</param>
    /// <param name="output">[C][side − K + 1][side − K + 1].</param>
    public static void DepthwiseConv2d(ReadOnlySpan<float> input, int channels, int side, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, int kernel, Span<float> output)
    {
        if (channels < 1 || kernel < 1 || kernel > side)
            throw new ArgumentException($"depthwise conv sizes do not fit: {channels} channels, {side}×{side}, kernel {kernel}");
        int outSide = side - kernel + 1;
        if (input.Length != channels * side * side || weight.Length != channels * kernel * kernel || bias.Length != channels
            || output.Length != channels * outSide * outSide)
            throw new ArgumentException("depthwise conv spans do not match the sizes");
        for (int c = 0; c < channels; c++)
        for (int y = 0; y < outSide; y++)
        for (int x = 0; x < outSide; x++)
        {
            float sum = bias[c];
            for (int ky = 0; ky < kernel; ky++)
            for (int kx = 0; kx < kernel; kx++)
                sum += weight[(c * kernel + ky) * kernel + kx] * input[(c * side + y + ky) * side + x + kx];
            output[(c * outSide + y) * outSide + x] = sum;
        }
    }

    /// <summary>
    /// The Efficient squash, in place: v = (1 − 1/(e^‖s‖ + ε)) · s/(‖s‖ + ε), ε = <see cref="SquashEpsilon"/>.
    /// ‖v‖ = 1 − e^−‖s‖ (to rounding): steeper near 0 than the paper network's ‖s‖²/(1 + ‖s‖²), and always below 1.
    /// </summary>
    public static void Squash(Span<float> vector)
    {
        float squaredNorm = 0f;
        for (int k = 0; k < vector.Length; k++) squaredNorm += vector[k] * vector[k];
        float norm = MathF.Sqrt(squaredNorm);
        float scale = (1f - 1f / (MathF.Exp(norm) + SquashEpsilon)) / (norm + SquashEpsilon);
        for (int k = 0; k < vector.Length; k++) vector[k] *= scale;
    }

    /// <summary>
    /// FC-caps self-attention routing (the paper's routing section; the authors' FCCaps layer), one pass:
    /// predictions u_{j|i} = Σ_d x_{i,d} W[j, i, d, :]; agreement a_{j,i} = u_{j|i} · Σ_k u_{j|k} / √D_out;
    /// c_{·,i} = softmax over the classes j of a_{·,i}; s_j = Σ_i (c_{j,i} + b_{j,i}) u_{j|i}; v_j = squash(s_j).
    /// </summary>
    /// <param name="primary">x, the squashed primary capsules [N][D_in].</param>
    /// <param name="weight">W, [J][N][D_in][D_out].</param>
    /// <param name="bias">b, [J][N], added to the coupling coefficients after the softmax.</param>
    /// <param name="capsules">N, the primary capsules.</param>
    /// <param name="dims">D_in.</param>
    /// <param name="classes">J, the digit capsules.</param>
    /// <param name="classDims">D_out.</param>
    /// <param name="coupling">Out: c_{j,i} before the bias, [N][J] (each row sums to 1).</param>
    /// <param name="outputs">Out: the digit capsules v_j, [J][D_out].</param>
    public static void SelfAttentionRouting(ReadOnlySpan<float> primary, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int capsules, int dims, int classes, int classDims, Span<float> coupling, Span<float> outputs)
    {
        if (primary.Length != capsules * dims || weight.Length != classes * capsules * dims * classDims
            || bias.Length != classes * capsules || coupling.Length != capsules * classes || outputs.Length != classes * classDims)
            throw new ArgumentException("self-attention routing spans do not match the sizes");

        // u_{j|i} = x_i W_{j,i}: [J][N][D_out], the order of W.
        var predictions = new float[classes * capsules * classDims];
        for (int j = 0; j < classes; j++)
        for (int i = 0; i < capsules; i++)
        for (int o = 0; o < classDims; o++)
        {
            float sum = 0f;
            for (int d = 0; d < dims; d++) sum += primary[i * dims + d] * weight[((j * capsules + i) * dims + d) * classDims + o];
            predictions[(j * capsules + i) * classDims + o] = sum;
        }

        // a_{j,i} = u_{j|i} · Σ_k u_{j|k} / √D_out, stored [N][J] for the softmax over j.
        var agreement = new float[capsules * classes];
        var total = new float[classDims];
        float scale = 1f / MathF.Sqrt(classDims);
        for (int j = 0; j < classes; j++)
        {
            Array.Clear(total);
            for (int k = 0; k < capsules; k++)
            for (int o = 0; o < classDims; o++) total[o] += predictions[(j * capsules + k) * classDims + o];
            for (int i = 0; i < capsules; i++)
            {
                float dot = 0f;
                for (int o = 0; o < classDims; o++) dot += predictions[(j * capsules + i) * classDims + o] * total[o];
                agreement[i * classes + j] = dot * scale;
            }
        }
        for (int i = 0; i < capsules; i++)
            ReferenceModel.Softmax<float>(agreement.AsSpan(i * classes, classes), coupling.Slice(i * classes, classes));

        // s_j = Σ_i (c_{j,i} + b_{j,i}) u_{j|i}; v_j = squash(s_j).
        outputs.Clear();
        for (int j = 0; j < classes; j++)
        {
            var s = outputs.Slice(j * classDims, classDims);
            for (int i = 0; i < capsules; i++)
            {
                float c = coupling[i * classes + j] + bias[j * capsules + i];
                for (int o = 0; o < classDims; o++) s[o] += c * predictions[(j * capsules + i) * classDims + o];
            }
            Squash(s);
        }
    }

    /// <summary>
    /// Folds every batch norm into the convolution after it. BN k is the per-channel affine map x ↦ a_c x + b_c with
    /// a = γ/√(σ² + ε), b = β − a μ, applied to the next layer's input; the next conv absorbs it exactly (valid padding:
    /// no zero enters) as W'[o, c, ·, ·] = W[o, c, ·, ·] a_c and bias'[o] = bias[o] + Σ_{c,kh,kw} W[o, c, kh, kw] b_c.
    /// The last BN folds into the depthwise primary conv per channel. Computed in double, rounded once to float.
    /// </summary>
    public static EfficientFoldedWeights FoldBatchNorm(EfficientCapsNetWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var a = weights.Architecture;
        var stem = new (float[] Weight, float[] Bias)[a.Stem.Count];
        var first = weights.StemConv(0);
        stem[0] = ((float[])first.Weight.Clone(), (float[])first.Bias.Clone());
        for (int layer = 1; layer < a.Stem.Count; layer++)
            stem[layer] = FoldInto(weights.StemConv(layer), a.StemInputChannels(layer), a.Stem[layer].Kernel,
                weights.StemBatchNorm(layer - 1), a.BatchNormEps);
        // Depthwise: output channel c reads input channel c only, so it is the same fold with one input channel per filter.
        var primary = FoldInto(weights.Primary, 1, a.PrimaryKernel, weights.StemBatchNorm(a.Stem.Count - 1), a.BatchNormEps,
            depthwise: true);
        return new EfficientFoldedWeights(weights, stem, primary);
    }

    // W'[o,c] = W[o,c]·a_c, bias'[o] = bias[o] + Σ W[o,c]·b_c, where c is the input channel (o itself when depthwise).
    private static (float[] Weight, float[] Bias) FoldInto((float[] Weight, float[] Bias) conv, int inChannels, int kernel,
        (float[] Gamma, float[] Beta, float[] Mean, float[] Variance) bn, float epsilon, bool depthwise = false)
    {
        var (weight, bias) = conv;
        var folded = new float[weight.Length];
        var foldedBias = new float[bias.Length];
        int taps = kernel * kernel;
        for (int o = 0; o < bias.Length; o++)
        {
            double sum = bias[o];
            for (int c = 0; c < inChannels; c++)
            {
                int channel = depthwise ? o : c;
                double scale = bn.Gamma[channel] / Math.Sqrt((double)bn.Variance[channel] + epsilon);
                double shift = bn.Beta[channel] - scale * bn.Mean[channel];
                for (int t = 0; t < taps; t++)
                {
                    int at = (o * inChannels + c) * taps + t;
                    folded[at] = (float)(weight[at] * scale);
                    sum += weight[at] * shift;
                }
            }
            foldedBias[o] = (float)sum;
        }
        return (folded, foldedBias);
    }
}

/// <summary>
/// An Efficient-CapsNet with its batch norms folded into the convolutions (<see cref="EfficientReferenceModel.FoldBatchNorm"/>):
/// per stem layer a conv weight and bias to run as Conv → ReLU, and the depthwise primary conv; the routing and decoder
/// tensors are <see cref="Source"/>'s. What the generator packs.
/// </summary>
public sealed class EfficientFoldedWeights
{
    private readonly (float[] Weight, float[] Bias)[] _stem;

    internal EfficientFoldedWeights(EfficientCapsNetWeights source, (float[] Weight, float[] Bias)[] stem,
        (float[] Weight, float[] Bias) primary)
    {
        Source = source;
        _stem = stem;
        Primary = primary;
    }

    /// <summary>The unfolded weights (W, b and the decoder are used as they are).</summary>
    public EfficientCapsNetWeights Source { get; }

    public EfficientCapsNetArchitecture Architecture => Source.Architecture;

    /// <summary>Stem layer <paramref name="layer"/> with the previous layer's batch norm folded in (layer 0 unchanged).</summary>
    public (float[] Weight, float[] Bias) StemConv(int layer) => _stem[layer];

    /// <summary>The depthwise primary conv, [C, 1, K, K] and [C], with the last stem batch norm folded in.</summary>
    public (float[] Weight, float[] Bias) Primary { get; }
}
