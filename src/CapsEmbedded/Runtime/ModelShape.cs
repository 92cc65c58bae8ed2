namespace CapsEmbedded.Runtime;

/// <summary>
/// What a caller of any model needs to know, whichever family it is (<see cref="ICapsNetSession.Shape"/>): the image it
/// takes, the capsules it gives, the decoder's output, and its cost for reports. The family's own record
/// (<see cref="CapsNetArchitecture"/>, <see cref="EfficientCapsNetArchitecture"/>) holds everything else; <see cref="Of"/>
/// describes one.
/// </summary>
public sealed record ModelShape
{
    public required CapsNetFamily Family { get; init; }

    /// <summary>Side of the square input image.</summary>
    public required int InputSize { get; init; }

    public required int InputChannels { get; init; }

    /// <summary>Digit capsules, one per class.</summary>
    public required int Classes { get; init; }

    /// <summary>Dimensions of one digit capsule.</summary>
    public required int ClassDims { get; init; }

    /// <summary>Multiply-adds of one forward pass with the decoder (a FLOP count is twice this).</summary>
    public required long MultiplyAdds { get; init; }

    /// <summary>The family's architecture as text, e.g. "28x28x1 -> conv1 256@9x9/1 …".</summary>
    public required string Description { get; init; }

    /// <summary>Floats of one image, [channels][side][side].</summary>
    public int InputLength => InputSize * InputSize * InputChannels;

    /// <summary>Floats of the digit capsules, [classes][classDims] (the decoder's input).</summary>
    public int DecoderInput => Classes * ClassDims;

    /// <summary>Pixels of a reconstruction: one per input value.</summary>
    public int DecoderOutput => InputLength;

    /// <summary>The shape of a network of any family.</summary>
    public static ModelShape Of(CapsuleArchitecture architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        return new()
        {
            Family = architecture.Family, InputSize = architecture.InputSize, InputChannels = architecture.InputChannels,
            Classes = architecture.Classes, ClassDims = architecture.ClassDims, MultiplyAdds = architecture.MultiplyAdds,
            Description = architecture.ToString(),
        };
    }

    public override string ToString() => Description;
}
