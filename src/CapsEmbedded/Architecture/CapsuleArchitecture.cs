// This file is also compiled into the source generator (netstandard2.0): keep it free of
// APIs newer than netstandard2.0 (no Span, no ThrowIf helpers, no generic math).
using System.Collections.Generic;
using System.Linq;

namespace CapsEmbedded;

/// <summary>
/// What the architectures of every <see cref="CapsNetFamily"/> share: the input, the primary capsules' kernel and
/// dimensions, the digit capsules (one per class) and the reconstruction decoder, with the paper's MNIST sizes as
/// defaults; and what each family derives from its own sizes (tensors, costs, validation, metadata).
/// </summary>
public abstract record CapsuleArchitecture
{
    /// <summary>S, the side of a square input image.</summary>
    public int InputSize { get; init; } = 28;

    /// <summary>C_in, the input image's channels.</summary>
    public int InputChannels { get; init; } = 1;

    /// <summary>Side of the primary-capsule convolution's kernel.</summary>
    public int PrimaryKernel { get; init; } = 9;

    /// <summary>The dimensions of one primary capsule.</summary>
    public int PrimaryDims { get; init; } = 8;

    /// <summary>J, the number of digit capsules (one per class).</summary>
    public int Classes { get; init; } = 10;

    /// <summary>The dimensions of one digit capsule.</summary>
    public int ClassDims { get; init; } = 16;

    /// <summary>Width of the decoder's first hidden layer (ReLU).</summary>
    public int DecoderHidden1 { get; init; } = 512;

    /// <summary>Width of the decoder's second hidden layer (ReLU).</summary>
    public int DecoderHidden2 { get; init; } = 1024;

    /// <summary>The family these sizes belong to (what <c>capsnet.family</c> names in a weight file).</summary>
    public abstract CapsNetFamily Family { get; }

    /// <summary>Pixels of one input image: S² × C_in (784 for MNIST).</summary>
    public int InputLength => InputSize * InputSize * InputChannels;

    /// <summary>Decoder input: the masked digit capsules flattened class-major (160 for MNIST).</summary>
    public int DecoderInput => Classes * ClassDims;

    /// <summary>Decoder output: one value per input pixel.</summary>
    public int DecoderOutput => InputLength;

    /// <summary>The tensors of the model, in file order, with their shapes.</summary>
    public abstract IReadOnlyList<TensorSpec> Tensors { get; }

    /// <summary>Total number of stored values: every tensor's elements.</summary>
    public long ParameterCount => Tensors.Sum(t => t.ElementCount);

    /// <summary>Multiply-adds of one forward pass per layer (a FLOP count is twice this).</summary>
    public abstract IReadOnlyList<LayerCost> LayerCosts { get; }

    /// <summary>Multiply-adds of one forward pass (≈203 M for the paper network).</summary>
    public long MultiplyAdds => LayerCosts.Sum(c => c.MultiplyAdds);

    /// <summary>Returns null when the sizes describe a buildable network, else what is wrong.</summary>
    public abstract string? Validate();

    /// <summary>Writes the architecture as <c>capsnet.*</c> metadata entries.</summary>
    public abstract Dictionary<string, string> ToMetadata();
}
