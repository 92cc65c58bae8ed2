using CapsEmbedded.Model;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>The tiny test network (CapsNetArchitecture.Tiny, random weights seed 1), generated at build time.</summary>
[CapsNetModel("Weights/tiny.safetensors")]
internal static partial class TinyCapsNet;
