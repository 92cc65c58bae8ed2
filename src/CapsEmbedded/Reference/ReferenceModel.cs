using System.Numerics;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Reference;

/// <summary>
/// The scalar reference CapsNet ("Dynamic Routing Between Capsules", Sabour, Frosst, Hinton 2017): the executable
/// specification every fast path is judged against. Plain loops in the order the paper writes the maths, every size
/// taken from <see cref="CapsNetWeights.Architecture"/>, one generic code path for both precisions
/// (<c>T</c> = float computes like the runtime, T = double is the high-precision oracle).
/// </summary>
/// <remarks>
/// Layouts are PyTorch's, row-major: images and feature maps [channels][height][width], conv weights
/// [out][in][kh][kw], linear weights [out][in], W_ij = digit_caps.weight[i, j] of shape [classDims][primaryDims].
/// The stage methods are public so tests and the trainer can check one piece at a time. They validate their spans;
/// the composite ones (<see cref="PrimaryCapsules{T}"/>, <see cref="Decoder{T}"/>, <see cref="Forward"/>) allocate
/// their intermediates, which is fine for a specification and is what the generated runtime avoids.
/// </remarks>
public static partial class ReferenceModel
{
    /// <summary>
    /// One forward pass: conv1 → primary capsules → û → routing → lengths → mask → decoder.
    /// </summary>
    /// <param name="weights">The network; its architecture fixes every size.</param>
    /// <param name="image">Pixels in [0, 1], [inputChannels][inputSize][inputSize].</param>
    /// <param name="precision">Single computes in float; Double widens everything to double.</param>
    /// <param name="maskClass">The capsule the decoder sees (the true label in training); −1 picks the longest.</param>
    public static ReferenceOutput Forward(CapsNetWeights weights, ReadOnlySpan<float> image,
        ReferencePrecision precision = ReferencePrecision.Single, int maskClass = -1)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var arch = weights.Architecture;
        if (image.Length != arch.InputLength)
            throw new ArgumentException(
                $"image has {image.Length} pixels but the network expects {arch.InputLength} " +
                $"({arch.InputChannels}×{arch.InputSize}×{arch.InputSize})", nameof(image));
        if (maskClass < -1 || maskClass >= arch.Classes)
            throw new ArgumentOutOfRangeException(nameof(maskClass), maskClass,
                $"mask class must be −1 (longest capsule) or a class in [0, {arch.Classes})");
        return precision switch
        {
            ReferencePrecision.Single => Forward<float>(weights, image, maskClass),
            ReferencePrecision.Double => Forward<double>(weights, image, maskClass),
            _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "unknown precision"),
        };
    }

    private static ReferenceOutput Forward<T>(CapsNetWeights weights, ReadOnlySpan<float> image, int maskClass)
        where T : IFloatingPointIeee754<T>
    {
        var a = weights.Architecture;
        int n = a.PrimaryCapsules, classes = a.Classes, classDims = a.ClassDims;

        var input = Widen<T>(image);

        // conv1 + ReLU (§4): [C1][S1][S1].
        var conv1 = new T[a.Conv1Channels * a.Conv1OutSize * a.Conv1OutSize];
        Conv2d<T>(input, a.InputChannels, a.InputSize, a.InputSize, weights.Conv1Weight, weights.Conv1Bias,
            a.Conv1Channels, a.Conv1Kernel, a.Conv1Stride, conv1);
        Relu<T>(conv1);

        // Primary capsules u_i, squashed (eq. 1).
        var primary = new T[n * a.PrimaryDims];
        PrimaryCapsules<T>(conv1, weights, primary);

        // û_{j|i} = W_ij u_i (eq. 2).
        var predictions = new T[n * classes * classDims];
        Predictions<T>(primary, weights.DigitWeight, n, classes, classDims, a.PrimaryDims, predictions);

        // Routing by agreement (Procedure 1) → digit capsules v_j.
        var logits = new T[n * classes];
        var coupling = new T[n * classes];
        var capsules = new T[classes * classDims];
        Routing<T>(predictions, n, classes, classDims, a.RoutingIterations, logits, coupling, capsules);

        // Class probability = |v_j|; the decoder sees one capsule (§4.1).
        var lengths = new T[classes];
        Lengths<T>(capsules, classes, classDims, lengths);
        int predicted = ArgMax<T>(lengths);
        int masked = maskClass >= 0 ? maskClass : predicted;
        var decoderInput = new T[classes * classDims];
        Mask<T>(capsules, classes, classDims, masked, decoderInput);
        var reconstruction = new T[a.DecoderOutput];
        Decoder<T>(decoderInput, weights, reconstruction);

        return new ReferenceOutput
        {
            Lengths = Narrow<T>(lengths),
            Capsules = Narrow<T>(capsules),
            Reconstruction = Narrow<T>(reconstruction),
            PredictedClass = predicted,
            MaskedClass = masked,
            PrimaryCapsules = Narrow<T>(primary),
            CouplingCoefficients = Narrow<T>(coupling),
        };
    }

    // For IEEE types CreateTruncating is a plain conversion: exact float → double, round-to-nearest double → float.
    private static T Widen<T>(float value) where T : IFloatingPointIeee754<T> => T.CreateTruncating(value);

    private static T[] Widen<T>(ReadOnlySpan<float> values) where T : IFloatingPointIeee754<T>
    {
        var result = new T[values.Length];
        for (int k = 0; k < values.Length; k++) result[k] = Widen<T>(values[k]);
        return result;
    }

    private static float[] Narrow<T>(ReadOnlySpan<T> values) where T : IFloatingPointIeee754<T>
    {
        var result = new float[values.Length];
        for (int k = 0; k < values.Length; k++) result[k] = float.CreateTruncating(values[k]);
        return result;
    }

    private static void RequireLength(int actual, long expected, string what, string parameter)
    {
        if (actual != expected)
            throw new ArgumentException($"{what} has {actual} elements but must have {expected}", parameter);
    }
}
