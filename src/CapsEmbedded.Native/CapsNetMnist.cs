using CapsEmbedded.Runtime;

namespace CapsEmbedded.Native;

/// <summary>
/// The MNIST CapsNet (weights/mnist.safetensors, embedded) with C exports <c>capsnet_mnist_*</c>: the generator writes
/// the model and <see cref="NativeExports"/>; publishing this project (NativeLib=Shared) makes libcapsnet_mnist.so.
/// include/capsnet_mnist.h is <see cref="NativeExports.Header"/>, kept equal by NativeHeaderTests.
/// </summary>
[CapsNetModel("../../weights/mnist.safetensors", NativeExportPrefix = "capsnet_mnist")]
public static partial class CapsNetMnist;
