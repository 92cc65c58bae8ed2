using CapsEmbedded.Runtime;

namespace CapsEmbedded.Models;

/// <summary>
/// The paper's MultiMNIST CapsNet (§6: 36×36 → 256 conv1 28×28 → 3,200 × 8D primary capsules on a 10×10 grid → 10 × 16D
/// digit capsules, r = 3, decoder 512-1024-1296): two overlapping digits, read as the two longest capsules,
/// each reconstructed from its own capsule. Generated from weights/multimnist.safetensors (see
/// weights/README.md for its training run).
/// </summary>
[CapsNetModel("../../weights/multimnist.safetensors")]
public static partial class MultiMnistCapsNet;
