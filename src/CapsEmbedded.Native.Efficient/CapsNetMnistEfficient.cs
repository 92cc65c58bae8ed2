using CapsEmbedded.Runtime;

namespace CapsEmbedded.Native.Efficient;

/// <summary>
/// The Efficient-CapsNet MNIST model (weights/mnist-efficient.safetensors, embedded) with C exports
/// <c>capsnet_mnist_efficient_*</c>, the same functions as libcapsnet_mnist's: the generator writes the model and
/// <see cref="NativeExports"/>; publishing this project (NativeLib=Shared) makes libcapsnet_mnist_efficient.so.
/// include/capsnet_mnist_efficient.h is <see cref="NativeExports.Header"/>, kept equal by EfficientLibraryTests.
/// </summary>
[CapsNetModel("../../weights/mnist-efficient.safetensors", NativeExportPrefix = "capsnet_mnist_efficient")]
public static partial class CapsNetMnistEfficient;
