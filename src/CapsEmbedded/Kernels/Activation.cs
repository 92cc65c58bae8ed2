namespace CapsEmbedded.Kernels;

/// <summary>The element-wise function a <see cref="PackedGemm"/> applies after adding the bias.</summary>
public enum Activation
{
    /// <summary>Identity.</summary>
    None,

    /// <summary>max(0, x): conv1 and the decoder's hidden layers.</summary>
    Relu,

    /// <summary>1 / (1 + e^−x): the decoder's output layer.</summary>
    Sigmoid,
}
