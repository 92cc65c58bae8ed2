using CapsEmbedded.Runtime;

namespace CapsEmbedded.Models;

/// <summary>
/// Efficient-CapsNet on MNIST (Mazzia, Salvetti, Chiaberge 2021: 28×28 → a four-conv stem with batch norm → depthwise
/// 9×9 → 16 × 8D primary capsules → self-attention routing → 10 × 16D digit capsules, decoder 512-1024-784), generated
/// from weights/mnist-efficient.safetensors (see weights/README.md for what that file holds).
/// </summary>
[CapsNetModel("../../weights/mnist-efficient.safetensors")]
public static partial class MnistEfficientCapsNet;
