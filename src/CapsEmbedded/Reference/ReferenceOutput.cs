namespace CapsEmbedded.Reference;

/// <summary>Everything one reference forward pass produces, flattened row-major (last index fastest).</summary>
public sealed class ReferenceOutput
{
    /// <summary>|v_j| for each class j: the class probabilities (paper §3).</summary>
    public required float[] Lengths { get; init; }

    /// <summary>The digit capsules v_j before masking, [classes × classDims].</summary>
    public required float[] Capsules { get; init; }

    /// <summary>The decoder's sigmoid output, [inputChannels × inputSize × inputSize] like the image.</summary>
    public required float[] Reconstruction { get; init; }

    /// <summary>The longest capsule (ties go to the lowest index), judged in the pass's own precision.</summary>
    public required int PredictedClass { get; init; }

    /// <summary>The class the decoder saw: the requested mask class, or <see cref="PredictedClass"/>.</summary>
    public required int MaskedClass { get; init; }

    /// <summary>The primary capsules u_i after squash (eq. 1), [primaryCapsules × primaryDims], i = type·grid² + y·grid + x.</summary>
    public required float[] PrimaryCapsules { get; init; }

    /// <summary>The coupling coefficients c_ij of the last routing iteration (eq. 3), [primaryCapsules × classes].</summary>
    public required float[] CouplingCoefficients { get; init; }
}
