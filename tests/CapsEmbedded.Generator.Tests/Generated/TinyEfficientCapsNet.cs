using CapsEmbedded.Runtime;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// The tiny Efficient-CapsNet (EfficientCapsNetArchitecture.Tiny, random weights from Weights/make-efficient-random.py
/// seed 1, with non-trivial batch-norm statistics and PyTorch's I64 counters), generated at build time.
/// </summary>
[CapsNetModel("Weights/tiny-efficient.safetensors")]
internal static partial class TinyEfficientCapsNet;

/// <summary>A tiny Efficient-CapsNet whose depthwise output is 1×1, as MNIST's (no [position][channel] transpose).</summary>
[CapsNetModel("Weights/tiny-efficient-p1.safetensors")]
internal static partial class TinyEfficientP1CapsNet;
