using System.IO.MemoryMappedFiles;
using System.Reflection;
using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Runtime;

/// <summary>
/// The start-up packing (issue 35: F16 widened panel by panel straight into the packed layout, the image's pages let go
/// as it goes) against the way the weights were packed before: every tensor widened whole with <c>(float)Half</c>, then
/// packed whole by the kernels' packers. Same floats, bit for bit, for the three shipped models; and the same capsule
/// lengths on every tier from the embedded weights as from the widened F32 ones.
/// </summary>
public sealed class PackedWeightsTests
{
    public static TheoryData<string> Models => new() { "mnist", "fashion", "multimnist" };

    [Theory]
    [MemberData(nameof(Models))]
    public void Embedded_packing_equals_the_whole_tensor_packing_bit_for_bit(string model)
    {
        var (assembly, resource, architecture, file, layout, expected, begins, dtypes) = Shipped.Of(model);
        Assert.All(dtypes, dtype => Assert.Equal(SafeTensorsDType.F16, dtype)); // the shipped files

        using (var embedded = EmbeddedWeights.Pack(assembly, resource, file.Length, layout.DataStart, architecture, begins, dtypes))
            AssertSameBits(expected, embedded);
        // Packing read the image in place and let its pages go: the resource still reads as the file.
        Assert.Equal(file, ReadResource(assembly, resource));
        using (var fromBytes = PackedCapsNetWeights.Pack(architecture, file.AsSpan((int)layout.DataStart), begins, dtypes, resource))
            AssertSameBits(expected, fromBytes);
        using (var fromArrays = PackedCapsNetWeights.Pack(CapsNetWeightsFile.Read(file, resource)))
            AssertSameBits(expected, fromArrays);
    }

    /// <summary>
    /// The weights CapsEmbedded.Generator.targets packed at build time in F16 (its own copy of the layout, in the inline
    /// task) against the oracle: the same values at the same places, every region; the generated model reads its primary
    /// conv panels and W from them in place, with no float32 copy.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void Build_time_packing_equals_the_whole_tensor_packing_and_is_read_in_place(string model)
    {
        var (assembly, resource, architecture, file, layout, expected, begins, dtypes) = Shipped.Of(model);
        string packedResource = resource + ".packed";
        using (var inPlace = EmbeddedWeights.InPlace(assembly, packedResource, resource, file.Length, layout.DataStart, architecture, begins, dtypes))
        {
            Assert.False(inPlace.HalfPrimaryWeight.IsEmpty);
            Assert.False(inPlace.HalfDigitWeight.IsEmpty);
            Assert.True(inPlace.PrimaryWeight.IsEmpty && inPlace.DigitWeight.IsEmpty); // no float32 copy of them
            AssertSameBits(expected, inPlace);
        }

        // The whole resource is the layout in F16, and the generated model loads its embedded weights from it.
        Assert.Equal(2L * new PackedCapsNetLayout(architecture).TotalLength, ReadResource(assembly, packedResource).Length);
        string generated = model switch
        {
            "mnist" => MnistCapsNet.PackedWeightsResourceName,
            "fashion" => FashionCapsNet.PackedWeightsResourceName,
            _ => MultiMnistCapsNet.PackedWeightsResourceName,
        };
        Assert.Equal(packedResource, generated);
    }

    // Each compiled model through the registry: its embedded weights (read in place, F16) against the same file widened
    // to F32 arrays and packed; the same class and the same length bits on every image and every tier this machine runs.
    [Theory]
    [InlineData("mnist")]
    [InlineData("fashion")]
    [InlineData("multimnist")]
    public void Lengths_from_embedded_weights_equal_those_from_F32_weights_on_every_tier(string name)
    {
        var model = CompiledModel.Named(name);
        using var embedded = model.Open(weightsPath: null);
        using var loaded = model.Open(model.ReadEmbedded(), name);
        float[] a = new float[model.Architecture.Classes], b = new float[model.Architecture.Classes];
        foreach (var image in Images(model.Architecture.InputLength))
            foreach (var tier in SimdTiers.Supported)
            {
                embedded.Tier = loaded.Tier = tier;
                Assert.Equal(embedded.Predict(image, a), loaded.Predict(image, b));
                Assert.True(MemoryMarshal.AsBytes(a.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(b.AsSpan())), $"{tier}");
            }
    }

    [Fact]
    public unsafe void Pages_of_a_read_only_file_mapping_are_released_and_read_back_unchanged()
    {
        string path = Path.Combine(Path.GetTempPath(), $"capsnet-pages-{Guid.NewGuid():N}.bin");
        byte[] bytes = new byte[5 * Environment.SystemPageSize + 123];
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        try
        {
            using var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            using var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            try
            {
                byte* data = start + view.PointerOffset;
                Assert.Equal(OperatingSystem.IsLinux(), MappedPages.CanRelease(data));
                Assert.Equal(bytes, new ReadOnlySpan<byte>(data, bytes.Length).ToArray());
                MappedPages.Release(data + 17, bytes.Length - 17); // odd start: pages wholly inside only
                Assert.Equal(bytes, new ReadOnlySpan<byte>(data, bytes.Length).ToArray());
            }
            finally
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public unsafe void Anonymous_and_writable_memory_is_never_released()
    {
        using var buffer = new AlignedBuffer(4 * Environment.SystemPageSize);
        fixed (float* native = buffer.Span)
            Assert.False(MappedPages.CanRelease(native)); // heap or anonymous mmap: dropping its pages would zero them
        byte[] managed = new byte[1 << 20];
        fixed (byte* heap = managed)
            Assert.False(MappedPages.CanRelease(heap));
    }

    /// <summary>A striped image, then deterministic noise in [0, 1).</summary>
    private static IEnumerable<float[]> Images(int length)
    {
        var random = new DeterministicRandom(35);
        for (int n = 0; n < 3; n++)
        {
            var image = new float[length];
            for (int i = 0; i < length; i++) image[i] = n == 0 ? (i % 29 < 14 ? 0.9f : 0f) : random.NextUniform(0f, 1f);
            yield return image;
        }
    }

    /// <summary>
    /// A shipped model's embedded file, parsed, with its tensors packed whole (the oracle) and each tensor's data offset and
    /// dtype in <see cref="CapsNetArchitecture.Tensors"/> order (what the generated model passes to EmbeddedWeights).
    /// </summary>
    private sealed record Shipped(Assembly Assembly, string Resource, CapsNetArchitecture Architecture, byte[] File,
        SafeTensorsFile Layout, Dictionary<string, float[]> Expected, long[] Begins, string[] DTypes)
    {
        public static Shipped Of(string model)
        {
            var (assembly, resource, architecture) = Model(model);
            byte[] file = ReadResource(assembly, resource);
            var layout = SafeTensorsFile.Parse(file, resource);
            return new Shipped(assembly, resource, architecture, file, layout, OldPacking(file, layout, architecture),
                architecture.Tensors.Select(s => layout.Header.Find(s.Name)!.Begin).ToArray(),
                architecture.Tensors.Select(s => layout.Header.Find(s.Name)!.DType).ToArray());
        }
    }

    private static (Assembly Assembly, string Resource, CapsNetArchitecture Architecture) Model(string name)
    {
        var model = CompiledModel.Named(name);
        return (typeof(CompiledModel).Assembly, model.WeightsResourceName, model.Architecture);
    }

    private static byte[] ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name) ?? throw new InvalidOperationException($"no resource {name}");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>
    /// The packing before issue 35, as the oracle: each tensor widened whole with <c>(float)Half</c>, one element at a
    /// time, then placed whole: GEMM weights element by element at PackedGemm.PackedIndex (the layout's formula, not the
    /// packer under test; the primary conv permuted first), W_ij by CapsuleTransform.PackWeights, biases as they are.
    /// </summary>
    private static Dictionary<string, float[]> OldPacking(byte[] file, SafeTensorsFile layout, CapsNetArchitecture a)
    {
        var l = new PackedCapsNetLayout(a);
        var packed = new Dictionary<string, float[]>();
        foreach (var spec in a.Tensors)
        {
            var raw = layout.GetBytes(file, layout.Header.Find(spec.Name)!);
            var values = new float[spec.ElementCount];
            for (int i = 0; i < values.Length; i++)
                values[i] = (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(raw.Slice(2 * i, 2)));
            float[] target;
            switch (spec.Name)
            {
                case CapsNetArchitecture.Conv1Weight:
                    target = PlacePanels(values, a.Conv1Channels, l.Conv1K, l.Conv1Weight.Length);
                    break;
                case CapsNetArchitecture.PrimaryWeight:
                    var permuted = new float[values.Length];
                    Im2Col.PermuteWeightsToChannelsLast(values, a.PrimaryChannels, a.Conv1Channels, a.PrimaryKernel, permuted);
                    target = PlacePanels(permuted, a.PrimaryChannels, l.PrimaryK, l.PrimaryWeight.Length);
                    break;
                case CapsNetArchitecture.DigitWeight:
                    CapsuleTransform.PackWeights(values, a.PrimaryCapsules, a.Classes, a.ClassDims, a.PrimaryDims,
                        target = new float[l.DigitWeight.Length]);
                    break;
                case CapsNetArchitecture.Fc1Weight:
                    target = PlacePanels(values, a.DecoderHidden1, a.DecoderInput, l.Fc1Weight.Length);
                    break;
                case CapsNetArchitecture.Fc2Weight:
                    target = PlacePanels(values, a.DecoderHidden2, a.DecoderHidden1, l.Fc2Weight.Length);
                    break;
                case CapsNetArchitecture.Fc3Weight:
                    target = PlacePanels(values, a.DecoderOutput, a.DecoderHidden2, l.Fc3Weight.Length);
                    break;
                default:
                    target = values;
                    break;
            }
            packed[spec.Name] = target;
        }
        return packed;
    }

    /// <summary>B [n][k] at its places in PackedGemm's layout; the lanes past n stay zero.</summary>
    private static float[] PlacePanels(float[] b, int n, int k, int packedLength)
    {
        var packed = new float[packedLength];
        int panels = (n + PackedGemm.PanelWidth - 1) / PackedGemm.PanelWidth;
        for (int row = 0; row < n; row++)
            for (int kk = 0; kk < k; kk++)
                packed[PackedGemm.PackedIndex(row, kk, k, panels)] = b[row * k + kk];
        return packed;
    }

    private static float[] Widened(ReadOnlySpan<Half> values)
    {
        var widened = new float[values.Length];
        for (int i = 0; i < values.Length; i++) widened[i] = (float)values[i];
        return widened;
    }

    private static void AssertSameBits(Dictionary<string, float[]> expected, PackedCapsNetWeights actual)
    {
        void Same(string name, ReadOnlySpan<float> region)
        {
            Assert.Equal(expected[name].Length, region.Length);
            int at = MemoryMarshal.Cast<float, uint>(expected[name]).CommonPrefixLength(MemoryMarshal.Cast<float, uint>(region));
            Assert.True(at == region.Length, $"{name} differs first at {at}");
        }
        Same(CapsNetArchitecture.Conv1Weight, actual.Conv1Weight);
        Same(CapsNetArchitecture.Conv1Bias, actual.Conv1Bias);
        Same(CapsNetArchitecture.PrimaryWeight, actual.HalfPrimaryWeight.IsEmpty ? actual.PrimaryWeight : Widened(actual.HalfPrimaryWeight));
        Same(CapsNetArchitecture.PrimaryBias, actual.PrimaryBias);
        Same(CapsNetArchitecture.DigitWeight, actual.HalfDigitWeight.IsEmpty ? actual.DigitWeight : Widened(actual.HalfDigitWeight));
        var decoder = actual.Decoder;
        Same(CapsNetArchitecture.Fc1Weight, decoder.Fc1Weight);
        Same(CapsNetArchitecture.Fc1Bias, decoder.Fc1Bias);
        Same(CapsNetArchitecture.Fc2Weight, decoder.Fc2Weight);
        Same(CapsNetArchitecture.Fc2Bias, decoder.Fc2Bias);
        Same(CapsNetArchitecture.Fc3Weight, decoder.Fc3Weight);
        Same(CapsNetArchitecture.Fc3Bias, decoder.Fc3Bias);
    }
}
