using System.Globalization;
using CapsEmbedded.Generator.Tests.Generated;
using CapsEmbedded.Interop;
using CapsEmbedded.Models;
using CapsEmbedded.Native;
using Exports = CapsEmbedded.Native.Efficient.CapsNetMnistEfficient.NativeExports;

namespace CapsEmbedded.Generator.Tests.Native;

/// <summary>
/// The library that libcapsnet_mnist_efficient.so is published from (src/CapsEmbedded.Native.Efficient), called
/// in-process: its committed header equals the generated one, every export gives the managed MnistEfficientCapsNet's
/// bits (the same generated code over the same file), and weights_load takes a file of the family and refuses the paper
/// family and another Efficient-CapsNet architecture with their own statuses.
/// </summary>
public unsafe class EfficientLibraryTests
{
    [Fact]
    public void The_committed_header_is_the_generated_one()
        => LibraryCalls.AssertCommittedHeader("CapsEmbedded.Native.Efficient", Exports.HeaderFileName, Exports.Header);

    [Fact]
    public void The_header_declares_the_same_exports_as_the_paper_library_and_the_familys_sizes()
    {
        string header = Exports.Header;
        var exports = LibraryCalls.EntryPoints(typeof(Exports));
        Assert.Equal(LibraryCalls.EntryPoints(typeof(CapsNetMnist.NativeExports)).Select(e => e.Replace("capsnet_mnist_", "capsnet_mnist_efficient_")),
            exports);
        foreach (var entry in exports) Assert.Contains(" " + entry + "(", header.Replace("*", " "));
        foreach (var status in NativeStatus.All)
            Assert.Contains($"CAPSNET_MNIST_EFFICIENT_STATUS_{status.Name} = {status.Code.ToString(CultureInfo.InvariantCulture)},", header);
        Assert.Matches(@"#define CAPSNET_MNIST_EFFICIENT_INPUT_LENGTH 784\s", header);
        Assert.Matches(@"#define CAPSNET_MNIST_EFFICIENT_CLASSES 10\s", header);
        Assert.Matches(@"#define CAPSNET_MNIST_EFFICIENT_CAPSULES_LENGTH 160\s", header);
        Assert.Matches(@"#define CAPSNET_MNIST_EFFICIENT_RECONSTRUCTION_LENGTH 784\s", header);
        Assert.Contains("An Efficient-CapsNet (Mazzia, Salvetti, Chiaberge 2021): 28x28x1 image -> 4-conv stem -> 16 primary", header);
        Assert.Contains($"#define CAPSNET_MNIST_EFFICIENT_WEIGHTS_SHA256 \"{MnistEfficientCapsNet.WeightsSha256}\"", header);
        var size = (delegate* unmanaged<int, long>)&Exports.Size;
        Assert.Equal((long)MnistEfficientCapsNet.ScratchLength * sizeof(float), size(8)); // CAPSNET_MNIST_EFFICIENT_SIZE_WORKSPACE_BYTES
        Assert.Equal(784, size(3));
    }

    private static nint Handle(delegate* unmanaged<nint, int> create) => LibraryCalls.Handle(create);

    private static string LastError() => LibraryCalls.LastError(&Exports.LastError);

    private static int Predict(nint weights, nint workspace, float[] image, float[] lengths)
        => LibraryCalls.Predict(&Exports.Predict, weights, workspace, image, lengths);

    private static int Load(string path, out nint weights) => LibraryCalls.Load(&Exports.WeightsLoad, path, out weights);

    private static void Free(nint weights, nint workspace)
    {
        ((delegate* unmanaged<nint, int>)&Exports.WorkspaceFree)(workspace);
        ((delegate* unmanaged<nint, int>)&Exports.WeightsFree)(weights);
    }

    [Fact]
    public void Every_inference_export_equals_the_managed_MnistEfficientCapsNet_on_test_digits()
    {
        nint weights = Handle(&Exports.WeightsEmbedded);
        nint workspace = Handle(&Exports.WorkspaceCreate);
        using var managedWorkspace = new MnistEfficientCapsNet.Workspace();
        var labels = CapsEmbedded.Data.IdxReader.ReadLabels(TestData.PathOf("Fixtures", "mnist", "t10k-200-labels-idx1-ubyte"));
        try
        {
            const int Count = 12;
            int right = 0;
            var batch = new float[Count * 784];
            var expectedLengths = new float[Count * 10];
            var expectedClasses = new int[Count];
            for (int k = 0; k < Count; k++)
            {
                var image = TestData.Digits[k];
                image.CopyTo(batch, k * 784);
                var lengths = new float[10];
                var capsules = new float[160];
                var reconstruction = new float[784];
                int expected = MnistEfficientCapsNet.Predict(MnistEfficientCapsNet.Weights.Embedded, managedWorkspace, image,
                    expectedLengths.AsSpan(k * 10, 10), capsules, reconstruction);
                expectedClasses[k] = expected;
                if (expected == labels[k]) right++;

                Assert.Equal(expected, Predict(weights, workspace, image, lengths));
                Assert.Equal(expectedLengths.AsSpan(k * 10, 10).ToArray(), lengths);

                var actualCapsules = new float[160];
                var actualReconstruction = new float[784];
                fixed (float* i = image) fixed (float* c = actualCapsules) fixed (float* r = actualReconstruction)
                {
                    Assert.Equal(expected, ((delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, int>)&Exports.Capsules)(
                        weights, workspace, (nint)i, 784, (nint)c, 160));
                    Assert.Equal(expected, ((delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, int>)&Exports.Reconstruct)(
                        weights, workspace, (nint)i, 784, (nint)r, 784));
                }
                Assert.Equal(capsules, actualCapsules);
                Assert.Equal(reconstruction, actualReconstruction);

                var top = new int[2];
                var topLengths = new float[10];
                fixed (float* i = image) fixed (float* l = topLengths) fixed (int* t = top)
                    Assert.Equal(expected, ((delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, nint, nuint, int>)&Exports.PredictTop)(
                        weights, workspace, (nint)i, 784, (nint)l, 10, (nint)t, 2));
                Assert.Equal(expected, top[0]);
                Assert.NotEqual(top[0], top[1]);
            }
            Assert.True(right >= Count - 1, $"{right}/{Count} right: the shipped weights err on 0.42% of MNIST");

            var batchLengths = new float[Count * 10];
            var batchClasses = new int[Count];
            fixed (float* i = batch) fixed (float* l = batchLengths) fixed (int* c = batchClasses)
                Assert.Equal(Count, ((delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, nint, nuint, int>)&Exports.PredictBatch)(
                    weights, workspace, (nint)i, Count, (nint)l, (nuint)batchLengths.Length, (nint)c, Count));
            Assert.Equal(expectedLengths, batchLengths);
            Assert.Equal(expectedClasses, batchClasses);

            // The paper model's argument checks hold here too: a short image is refused naming the function.
            Assert.Equal(NativeStatus.InvalidArgument, Predict(weights, workspace, new float[783], new float[10]));
            Assert.StartsWith("capsnet_mnist_efficient_predict: ", LastError());
        }
        finally
        {
            Free(weights, workspace);
        }
    }

    [Fact]
    public void Weights_load_takes_a_file_of_the_family_and_refuses_the_paper_family_and_another_architecture()
    {
        nint workspace = Handle(&Exports.WorkspaceCreate);
        nint embedded = Handle(&Exports.WeightsEmbedded);
        nint loaded = 0;
        try
        {
            // The shipped file itself (F16, folded and packed at load) gives the embedded weights' bits.
            Assert.True(Load(TestData.PathOf("Weights", "mnist-efficient.safetensors"), out loaded) == NativeStatus.Ok, LastError());
            for (int k = 0; k < 3; k++)
            {
                var a = new float[10];
                var b = new float[10];
                Assert.Equal(Predict(embedded, workspace, TestData.Digits[k], a), Predict(loaded, workspace, TestData.Digits[k], b));
                Assert.Equal(a, b);
            }

            Assert.Equal(NativeStatus.FormatError, Load(TestData.PathOf("Weights", "mnist.safetensors"), out _));
            Assert.Contains("mnist.safetensors", LastError());
            Assert.Contains("efficient", LastError());

            Assert.Equal(NativeStatus.WrongArchitecture, Load(TestData.PathOf("Weights", "tiny-efficient.safetensors"), out _));
            Assert.Contains("this library was generated for 28x28x1", LastError());

            Assert.Equal(NativeStatus.FileError, Load(TestData.PathOf("Weights", "no-such.safetensors"), out _));
        }
        finally
        {
            ((delegate* unmanaged<nint, int>)&Exports.WeightsFree)(loaded);
            Free(embedded, workspace);
        }
    }
}
