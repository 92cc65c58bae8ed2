using System.Numerics;

namespace CapsEmbedded.Reference;

/// <summary>
/// Every intermediate tensor of one reference forward pass, in the pass's own precision <typeparamref name="T"/>:
/// what a per-stage comparison or a finite-difference gradient check needs. Flattened row-major.
/// </summary>
public sealed class ReferenceTrace<T> where T : IFloatingPointIeee754<T>
{
    /// <summary>The image, [inputChannels][inputSize][inputSize].</summary>
    public required T[] Input { get; init; }

    /// <summary>conv1 after ReLU, [conv1Channels][conv1OutSize][conv1OutSize].</summary>
    public required T[] Conv1 { get; init; }

    /// <summary>The primary conv regrouped into capsules before squash: s_i, [primaryCapsules][primaryDims].</summary>
    public required T[] PrimaryPreSquash { get; init; }

    /// <summary>u_i = squash(s_i) (eq. 1), [primaryCapsules][primaryDims].</summary>
    public required T[] PrimaryCapsules { get; init; }

    /// <summary>û_{j|i} = W_ij u_i (eq. 2), [primaryCapsules][classes][classDims].</summary>
    public required T[] UHat { get; init; }

    /// <summary>The routing logits b_ij after the last agreement update, [primaryCapsules][classes].</summary>
    public required T[] Logits { get; init; }

    /// <summary>The last iteration's coupling coefficients c_ij (eq. 3), [primaryCapsules][classes].</summary>
    public required T[] Coupling { get; init; }

    /// <summary>The digit capsules v_j, [classes][classDims].</summary>
    public required T[] Capsules { get; init; }

    /// <summary>|v_j|, [classes].</summary>
    public required T[] Lengths { get; init; }

    /// <summary>The decoder input: v with every capsule but <see cref="MaskedClass"/> zeroed, [classes·classDims].</summary>
    public required T[] MaskedCapsules { get; init; }

    /// <summary>Decoder fc1 after ReLU, [decoderHidden1].</summary>
    public required T[] Hidden1 { get; init; }

    /// <summary>Decoder fc2 after ReLU, [decoderHidden2].</summary>
    public required T[] Hidden2 { get; init; }

    /// <summary>Decoder fc3 after sigmoid, like the image.</summary>
    public required T[] Reconstruction { get; init; }

    /// <summary>The longest capsule; ties go to the lowest index.</summary>
    public required int PredictedClass { get; init; }

    /// <summary>The class the decoder saw.</summary>
    public required int MaskedClass { get; init; }
}
