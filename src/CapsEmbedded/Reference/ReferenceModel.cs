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
/// the composite ones (primary capsules, decoder, <see cref="Forward"/>, <see cref="Trace{T}"/>) allocate their
/// intermediates, which is fine for a specification and is what the generated runtime avoids.
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
        return precision switch
        {
            ReferencePrecision.Single => Summarize(Trace<float>(weights, image, maskClass)),
            ReferencePrecision.Double => Summarize(Trace<double>(weights, image, maskClass)),
            _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "unknown precision"),
        };
    }

    /// <summary>
    /// The same forward pass as <see cref="Forward"/>, keeping every intermediate tensor in precision
    /// <typeparamref name="T"/> (float: as the runtime computes; double: for gradient checks and error budgets).
    /// </summary>
    /// <param name="weights">The network; its architecture fixes every size.</param>
    /// <param name="image">Pixels in [0, 1], [inputChannels][inputSize][inputSize].</param>
    /// <param name="maskClass">The capsule the decoder sees (the true label in training); −1 picks the longest.</param>
    public static ReferenceTrace<T> Trace<T>(CapsNetWeights weights, ReadOnlySpan<float> image, int maskClass = -1)
        where T : IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(weights);
        var a = weights.Architecture;
        if (image.Length != a.InputLength)
            throw new ArgumentException(
                $"image has {image.Length} pixels but the network expects {a.InputLength} " +
                $"({a.InputChannels}×{a.InputSize}×{a.InputSize})", nameof(image));
        if (maskClass < -1 || maskClass >= a.Classes)
            throw new ArgumentOutOfRangeException(nameof(maskClass), maskClass,
                $"mask class must be −1 (longest capsule) or a class in [0, {a.Classes})");

        int n = a.PrimaryCapsules, classes = a.Classes, classDims = a.ClassDims;
        var input = Widen<T>(image);

        // conv1 + ReLU (§4): [C1][S1][S1].
        var conv1 = new T[a.Conv1Channels * a.Conv1OutSize * a.Conv1OutSize];
        Conv2d<T>(input, a.InputChannels, a.InputSize, a.InputSize, weights.Conv1Weight, weights.Conv1Bias,
            a.Conv1Channels, a.Conv1Kernel, a.Conv1Stride, conv1);
        Relu<T>(conv1);

        // Primary capsules: conv, regroup into s_i, squash (eq. 1) into u_i.
        var preSquash = new T[n * a.PrimaryDims];
        var primary = new T[n * a.PrimaryDims];
        PrimaryCapsules<T>(conv1, weights, preSquash, primary);

        // û_{j|i} = W_ij u_i (eq. 2).
        var uHat = new T[n * classes * classDims];
        CapsuleTransform<T>(primary, weights.DigitWeight, n, classes, classDims, a.PrimaryDims, uHat);

        // Routing by agreement (Procedure 1) → digit capsules v_j.
        var logits = new T[n * classes];
        var coupling = new T[n * classes];
        var capsules = new T[classes * classDims];
        Routing<T>(uHat, n, classes, classDims, a.RoutingIterations, logits, coupling, capsules);

        // Class probability = |v_j|; the decoder sees one capsule (§4.1).
        var lengths = new T[classes];
        Lengths<T>(capsules, classes, classDims, lengths);
        int predicted = Runtime.TopK.ArgMax<T>(lengths);
        int masked = maskClass >= 0 ? maskClass : predicted;
        var decoderInput = new T[classes * classDims];
        Mask<T>(capsules, classes, classDims, masked, decoderInput);
        var hidden1 = new T[a.DecoderHidden1];
        var hidden2 = new T[a.DecoderHidden2];
        var reconstruction = new T[a.DecoderOutput];
        Decoder<T>(decoderInput, weights, hidden1, hidden2, reconstruction);

        return new ReferenceTrace<T>
        {
            Input = input, Conv1 = conv1, PrimaryPreSquash = preSquash, PrimaryCapsules = primary,
            UHat = uHat, Logits = logits, Coupling = coupling, Capsules = capsules, Lengths = lengths,
            MaskedCapsules = decoderInput, Hidden1 = hidden1, Hidden2 = hidden2, Reconstruction = reconstruction,
            PredictedClass = predicted, MaskedClass = masked,
        };
    }

    private static ReferenceOutput Summarize<T>(ReferenceTrace<T> trace) where T : IFloatingPointIeee754<T> => new()
    {
        Lengths = Narrow<T>(trace.Lengths),
        Capsules = Narrow<T>(trace.Capsules),
        Reconstruction = Narrow<T>(trace.Reconstruction),
        PredictedClass = trace.PredictedClass,
        MaskedClass = trace.MaskedClass,
        PrimaryCapsules = Narrow<T>(trace.PrimaryCapsules),
        CouplingCoefficients = Narrow<T>(trace.Coupling),
    };

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
