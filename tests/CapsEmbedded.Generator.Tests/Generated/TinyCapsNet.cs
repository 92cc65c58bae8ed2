using CapsEmbedded.Runtime;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// The tiny test network (CapsNetArchitecture.Tiny, random weights seed 1), generated at build time, with C exports
/// <c>tiny_caps_*</c> that the Native tests call through function pointers.
/// </summary>
[CapsNetModel("Weights/tiny.safetensors", NativeExportPrefix = "tiny_caps")]
internal static partial class TinyCapsNet;
