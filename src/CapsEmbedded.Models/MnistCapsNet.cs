using CapsEmbedded.Runtime;

namespace CapsEmbedded.Models;

/// <summary>
/// The paper's MNIST CapsNet (28×28 → 256 conv1 → 1152 × 8D primary capsules → 10 × 16D digit capsules, r = 3,
/// decoder 512-1024-784), generated from weights/mnist.safetensors (see weights/README.md for what that file holds).
/// </summary>
[CapsNetModel("../../weights/mnist.safetensors")]
public static partial class MnistCapsNet;
