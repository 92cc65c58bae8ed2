using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using CapsEmbedded.Generator.Tests.Generated;
using CapsEmbedded.Interop;
using CapsEmbedded.Models;
using CapsEmbedded.Native;

namespace CapsEmbedded.Generator.Tests.Native;

/// <summary>
/// The library that libcapsnet_mnist.so is published from (src/CapsEmbedded.Native), called in-process: its committed
/// header equals the generated one, its exports give the managed MnistCapsNet's results, and a PyTorch-style export of
/// the weights loads through capsnet_mnist_weights_load.
/// </summary>
public unsafe class MnistLibraryTests
{
    [Fact]
    public void The_committed_header_is_the_generated_one()
        => LibraryCalls.AssertCommittedHeader("CapsEmbedded.Native", CapsNetMnist.NativeExports.HeaderFileName, CapsNetMnist.NativeExports.Header);

    [Fact]
    public void The_header_declares_every_export_and_status_code()
    {
        string header = CapsNetMnist.NativeExports.Header;
        var exports = LibraryCalls.EntryPoints(typeof(CapsNetMnist.NativeExports));
        Assert.Equal(15, exports.Count);
        foreach (var entry in exports) Assert.Contains(" " + entry + "(", header.Replace("*", " "));
        foreach (var status in NativeStatus.All)
            Assert.Contains($"CAPSNET_MNIST_STATUS_{status.Name} = {status.Code.ToString(CultureInfo.InvariantCulture)},", header);
        Assert.Contains("#define CAPSNET_MNIST_INPUT_LENGTH 784 ", header);
        Assert.Contains("#define CAPSNET_MNIST_CLASSES 10 ", header);
        Assert.Contains("#define CAPSNET_MNIST_CAPSULES_LENGTH 160 ", header);
        Assert.Contains("#define CAPSNET_MNIST_RECONSTRUCTION_LENGTH 784 ", header);
    }

    private static int Predict(nint weights, nint workspace, float[] image, float[] lengths)
        => LibraryCalls.Predict(&CapsNetMnist.NativeExports.Predict, weights, workspace, image, lengths);

    private static nint Handle(delegate* unmanaged<nint, int> create) => LibraryCalls.Handle(create);

    private static string LastError() => LibraryCalls.LastError(&CapsNetMnist.NativeExports.LastError);

    private static string ClassName(nint weights, int index)
    {
        var buffer = new byte[64];
        int length = ((delegate* unmanaged<nint, int, nint, nuint, int>)&CapsNetMnist.NativeExports.ClassName)(
            weights, index, (nint)Unsafe.AsPointer(ref buffer[0]), (nuint)buffer.Length);
        Assert.True(length >= 0, LastError());
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    [Fact]
    public void Exported_predict_equals_the_managed_MnistCapsNet_on_test_digits()
    {
        nint weights = Handle(&CapsNetMnist.NativeExports.WeightsEmbedded);
        nint workspace = Handle(&CapsNetMnist.NativeExports.WorkspaceCreate);
        using var managedWorkspace = new MnistCapsNet.Workspace();
        try
        {
            for (int k = 0; k < 8; k++)
            {
                var image = TestData.Digits[k];
                var expected = new float[MnistCapsNet.Classes];
                var actual = new float[CapsNetMnist.Classes];
                int expectedClass = MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, managedWorkspace, image, expected);
                Assert.Equal(expectedClass, Predict(weights, workspace, image, actual));
                Assert.Equal(expected, actual);
            }
        }
        finally
        {
            ((delegate* unmanaged<nint, int>)&CapsNetMnist.NativeExports.WorkspaceFree)(workspace);
            ((delegate* unmanaged<nint, int>)&CapsNetMnist.NativeExports.WeightsFree)(weights);
        }
    }

    private static int PredictTop(nint weights, nint workspace, float[] image, float[] lengths, int[] classes, int k)
    {
        fixed (float* i = image) fixed (float* l = lengths) fixed (int* c = classes)
            return ((delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, nint, nuint, int>)&CapsNetMnist.NativeExports.PredictTop)(
                weights, workspace, (nint)i, (nuint)image.Length, (nint)l, (nuint)lengths.Length, (nint)c, (nuint)k);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(10)]
    public void Exported_predict_top_gives_TopK_Longest_of_the_lengths_and_predicts_class_first(int k)
    {
        nint weights = Handle(&CapsNetMnist.NativeExports.WeightsEmbedded);
        nint workspace = Handle(&CapsNetMnist.NativeExports.WorkspaceCreate);
        try
        {
            for (int n = 0; n < 8; n++)
            {
                var image = TestData.Digits[n];
                var predictLengths = new float[CapsNetMnist.Classes];
                int predicted = Predict(weights, workspace, image, predictLengths);
                Assert.True(predicted >= 0, LastError());
                var expected = new int[k];
                CapsEmbedded.Runtime.TopK.Longest(predictLengths, expected);

                var lengths = new float[CapsNetMnist.Classes];
                var classes = new int[k];
                Assert.Equal(predicted, PredictTop(weights, workspace, image, lengths, classes, k));
                Assert.Equal(predictLengths, lengths);
                Assert.Equal(expected, classes);
                Assert.Equal(predicted, classes[0]);
                if (k == CapsNetMnist.Classes) Assert.Equal(Enumerable.Range(0, k), classes.Order()); // a permutation
            }
            var none = new int[11];
            Assert.Equal(NativeStatus.InvalidArgument, PredictTop(weights, workspace, TestData.Digits[0], new float[10], none, 11));
            Assert.Equal("capsnet_mnist_predict_top: k is 11; it must be 1 .. 10 (the number of classes), the classes written longest first",
                LastError());
        }
        finally
        {
            ((delegate* unmanaged<nint, int>)&CapsNetMnist.NativeExports.WorkspaceFree)(workspace);
            ((delegate* unmanaged<nint, int>)&CapsNetMnist.NativeExports.WeightsFree)(weights);
        }
    }

    [Fact]
    public void A_PyTorch_style_export_of_the_weights_loads_and_predicts_like_the_embedded_ones()
    {
        // What safetensors.torch.save_file writes for a state_dict: no __metadata__ (absent keys = the paper's network),
        // tensors in its own order (here reversed), header padded with spaces to a multiple of 8.
        var source = CapsEmbedded.Weights.CapsNetWeightsFile.Load(TestData.PathOf("Weights", "mnist.safetensors"));
        var specs = source.Architecture.Tensors.Reverse().ToList();
        var json = new StringBuilder("{");
        long offset = 0;
        foreach (var spec in specs)
        {
            long bytes = spec.ElementCount * sizeof(float);
            if (json.Length > 1) json.Append(',');
            json.Append($"\"{spec.Name}\":{{\"dtype\":\"F32\",\"shape\":[{string.Join(",", spec.Shape)}],\"data_offsets\":[{offset},{offset + bytes}]}}");
            offset += bytes;
        }
        json.Append('}');
        while ((json.Length + 8) % 8 != 0) json.Append(' ');
        string path = Path.Combine(Path.GetTempPath(), "capsnet-torch-" + Guid.NewGuid() + ".safetensors");
        using (var file = File.Create(path))
        {
            var prefix = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(prefix, json.Length);
            file.Write(prefix);
            file.Write(Encoding.ASCII.GetBytes(json.ToString()));
            Span<byte> b = stackalloc byte[4];
            foreach (var spec in specs)
                foreach (float v in source[spec.Name])
                {
                    BinaryPrimitives.WriteSingleLittleEndian(b, v);
                    file.Write(b);
                }
        }
        nint embedded = Handle(&CapsNetMnist.NativeExports.WeightsEmbedded);
        nint workspace = Handle(&CapsNetMnist.NativeExports.WorkspaceCreate);
        nint loaded = 0;
        try
        {
            int status = LibraryCalls.Load(&CapsNetMnist.NativeExports.WeightsLoad, path, out loaded);
            Assert.True(status == NativeStatus.Ok, LastError());
            for (int k = 0; k < 3; k++)
            {
                var a = new float[10];
                var b = new float[10];
                Assert.Equal(Predict(embedded, workspace, TestData.Digits[k], a), Predict(loaded, workspace, TestData.Digits[k], b));
                Assert.Equal(a, b);
            }
        }
        finally
        {
            ((delegate* unmanaged<nint, int>)&CapsNetMnist.NativeExports.WeightsFree)(loaded);
            ((delegate* unmanaged<nint, int>)&CapsNetMnist.NativeExports.WorkspaceFree)(workspace);
            ((delegate* unmanaged<nint, int>)&CapsNetMnist.NativeExports.WeightsFree)(embedded);
            File.Delete(path);
        }
    }

    [Fact]
    public void The_Fashion_MNIST_file_loads_through_the_C_API_and_predicts_like_the_managed_FashionCapsNet()
    {
        // The C library is generated for the paper architecture, so any file of it loads: weights/fashion-mnist.safetensors
        // (F16, widened when packed) through capsnet_mnist_weights_load gives FashionCapsNet's bits.
        nint workspace = Handle(&CapsNetMnist.NativeExports.WorkspaceCreate);
        nint loaded = 0;
        using var managedWorkspace = new FashionCapsNet.Workspace();
        try
        {
            int status = LibraryCalls.Load(&CapsNetMnist.NativeExports.WeightsLoad, TestData.PathOf("Weights", "fashion-mnist.safetensors"), out loaded);
            Assert.True(status == NativeStatus.Ok, LastError());
            int right = 0;
            for (int k = 0; k < 20; k++)
            {
                var image = TestData.FashionImages[k];
                var expected = new float[FashionCapsNet.Classes];
                var actual = new float[CapsNetMnist.Classes];
                int expectedClass = FashionCapsNet.Predict(FashionCapsNet.Weights.Embedded, managedWorkspace, image, expected);
                int actualClass = Predict(loaded, workspace, image, actual);
                Assert.Equal(expectedClass, actualClass);
                Assert.Equal(expected, actual);
                if (actualClass == TestData.FashionLabels[k]) right++;
            }
            Assert.InRange(right, 16, 20); // clothing classified as clothing, not the MNIST model's digits

            // The loaded file names its classes; the embedded MNIST weights have none, so theirs are the digits.
            nint embedded = Handle(&CapsNetMnist.NativeExports.WeightsEmbedded);
            var loadedNames = new List<string>();
            var embeddedNames = new List<string>();
            for (int j = 0; j < 10; j++)
            {
                loadedNames.Add(ClassName(loaded, j));
                embeddedNames.Add(ClassName(embedded, j));
            }
            ((delegate* unmanaged<nint, int>)&CapsNetMnist.NativeExports.WeightsFree)(embedded);
            Assert.Equal(CapsEmbedded.Weights.CapsNetClassNames.FashionMnist, loadedNames);
            Assert.Equal(CapsEmbedded.Weights.CapsNetClassNames.Default(10), embeddedNames);
        }
        finally
        {
            ((delegate* unmanaged<nint, int>)&CapsNetMnist.NativeExports.WeightsFree)(loaded);
            ((delegate* unmanaged<nint, int>)&CapsNetMnist.NativeExports.WorkspaceFree)(workspace);
        }
    }
}
