using CapsEmbedded.Runtime;

namespace CapsEmbedded.Models;

/// <summary>
/// The same paper network trained on Fashion-MNIST (10 classes of 28×28 gray clothing images, named T-shirt/top …
/// Ankle boot in the file's <c>capsnet.class_names</c>), generated from weights/fashion-mnist.safetensors (F16, widened
/// to float32 when packed; see weights/README.md for its training run).
/// </summary>
[CapsNetModel("../../weights/fashion-mnist.safetensors")]
public static partial class FashionCapsNet;
