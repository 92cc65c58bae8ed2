namespace CapsEmbedded.Runtime;

/// <summary>
/// Marks a <c>static partial class</c> for CapsEmbedded.Generator, which adds a fixed-shape forward pass generated from
/// the weight file's header: <c>[CapsNetModel("../../weights/mnist.safetensors")] public static partial class MnistCapsNet;</c>
/// </summary>
/// <remarks>
/// The path is relative to the project directory and must also be a <c>CapsNetWeights</c> item of the project
/// (CapsEmbedded.Generator.targets embeds the file and hands its header to the generator).
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class CapsNetModelAttribute : Attribute
{
    public CapsNetModelAttribute(string weightsPath) => WeightsPath = weightsPath;

    /// <summary>The safetensors weight file, relative to the project directory.</summary>
    public string WeightsPath { get; }

    /// <summary>
    /// When set (a C identifier such as <c>"capsnet_mnist"</c>), the generator also emits C exports
    /// (<c>[UnmanagedCallersOnly]</c> <c>&lt;prefix&gt;_predict</c>, ...) and their C header; publish the project with
    /// <c>NativeLib=Shared</c> to get a shared library (see src/CapsEmbedded.Native).
    /// </summary>
    public string? NativeExportPrefix { get; set; }
}
