using System.IO.MemoryMappedFiles;
using System.Reflection;
using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Runtime;

/// <summary>
/// The start-up packing (F16 widened panel by panel straight into the packed layout) and the build-time packed
/// form read in place, against the way the weights were packed before: every tensor widened whole with <c>(float)Half</c>,
/// then packed whole by the kernels' packers. Same floats, bit for bit, for the three shipped models; the packed form
/// unpacks to the weight file exactly (it is the file's only embedded copy); and the same capsule lengths on every tier
/// from the embedded weights as from the widened F32 ones.
/// </summary>
public sealed class PackedWeightsTests
{
    private static readonly string[] ModelNames = ["mnist", "fashion", "multimnist"];

    public static TheoryData<string> Models => new(ModelNames);

    [Theory]
    [MemberData(nameof(Models))]
    public void Start_up_packing_equals_the_whole_tensor_packing_bit_for_bit(string model)
    {
        var (_, _, architecture, file) = Model(model);
        var (layout, expected, begins, dtypes) = Parse(model, file, architecture);
        Assert.All(dtypes, dtype => Assert.Equal(SafeTensorsDType.F16, dtype)); // the shipped files

        using (var fromBytes = PackedCapsNetWeights.Pack(architecture, file.AsSpan((int)layout.DataStart), begins, dtypes, model))
            AssertSameBits(expected, fromBytes);
        using (var fromArrays = PackedCapsNetWeights.Pack(CapsNetWeightsFile.Read(file, model)))
            AssertSameBits(expected, fromArrays);
    }

    /// <summary>
    /// The weights CapsEmbedded.Generator.targets packed at build time in F16 (its own copy of the layout, in the inline
    /// task) against the oracle, read by each <see cref="WeightResidency"/>: the same values at the same places, every
    /// region. In place, the generated model reads its primary conv panels and W in F16 with no float32 copy; widened, the
    /// resource is widened whole to float32 at load (the kernels take their float32 paths); widened primary, only the
    /// primary conv's panels are (the float32 GEMM, and the F16 û).
    /// </summary>
    [Theory]
    [MemberData(nameof(ModelsAndResidencies))]
    public void Build_time_packing_equals_the_whole_tensor_packing_in_each_residency(string model, WeightResidency residency)
    {
        var (assembly, resource, architecture, file) = Model(model);
        var (layout, expected, begins, dtypes) = Parse(model, file, architecture);
        using var packed = EmbeddedWeights.InPlace(assembly, resource, file.Length, layout.DataStart, architecture, begins, dtypes, residency);
        bool primaryWidened = residency != WeightResidency.InPlace, digitWidened = residency == WeightResidency.Widened;
        Assert.Equal(primaryWidened, !packed.PrimaryWeight.IsEmpty);
        Assert.Equal(primaryWidened, packed.HalfPrimaryWeight.IsEmpty);
        Assert.Equal(digitWidened, !packed.DigitWeight.IsEmpty);
        Assert.Equal(digitWidened, packed.HalfDigitWeight.IsEmpty);
        AssertSameBits(expected, packed);
    }

    public static TheoryData<string, WeightResidency> ModelsAndResidencies()
    {
        var data = new TheoryData<string, WeightResidency>();
        foreach (string model in ModelNames)
            foreach (var residency in Enum.GetValues<WeightResidency>())
                data.Add(model, residency);
        return data;
    }

    /// <summary>The one resource is the packed form: preamble and header, then the layout in F16 to its end; embedded once.</summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void The_packed_resource_is_the_only_embedded_copy(string model)
    {
        var (assembly, resource, architecture, file) = Model(model);
        var layout = SafeTensorsFile.Parse(file, model);
        Assert.EndsWith(".packed", resource);
        Assert.Equal(PackedWeightFile.LayoutOffset(layout.HeaderLength) + 2L * new PackedCapsNetLayout(architecture).TotalLength,
            ReadResource(assembly, resource).Length);
        string prefix = "CapsNetWeights/" + CompiledModel.Named(model).WeightsFileName;
        Assert.Equal([resource], assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)));
    }

    /// <summary>
    /// The weight file is embedded once, packed; every reader of the file gets it back from the packed form exactly:
    /// the bytes (SHA-256 = the generated WeightsSha256), and so the tensors bit for bit and the metadata.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void The_packed_resource_unpacks_to_the_weight_file_bit_for_bit(string model)
    {
        var (assembly, resource, _, file) = Model(model);
        byte[] unpacked = EmbeddedWeights.ReadFile(assembly, resource);
        Assert.Equal(file.Length, unpacked.Length);
        Assert.True(file.AsSpan().SequenceEqual(unpacked), $"differs first at byte {file.AsSpan().CommonPrefixLength(unpacked)}");
        var compiled = CompiledModel.Named(model);
        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(unpacked));
        Assert.Equal(model switch { "mnist" => MnistCapsNet.WeightsSha256, "fashion" => FashionCapsNet.WeightsSha256, _ => MultiMnistCapsNet.WeightsSha256 }, sha);

        var fromFile = CapsNetWeightsFile.Load(ModelFile(model));
        var embedded = compiled.ReadEmbedded();
        Assert.Equal(fromFile.Architecture, embedded.Architecture);
        Assert.Equal(fromFile.Metadata.OrderBy(kv => kv.Key), embedded.Metadata.OrderBy(kv => kv.Key));
        Assert.Equal(fromFile.ClassNames, embedded.ClassNames);
        foreach (var spec in fromFile.Architecture.Tensors)
            Assert.True(MemoryMarshal.AsBytes(fromFile[spec.Name].AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(embedded[spec.Name].AsSpan())), spec.Name);
    }

    [Fact]
    public void A_damaged_packed_file_is_refused_naming_what_is_wrong()
    {
        var (assembly, resource, _, file) = Model("mnist");
        byte[] packed = ReadResource(assembly, resource);
        Assert.Contains("CNPACK01", Assert.Throws<WeightFormatException>(() => PackedWeightFile.Unpack(file, "raw")).Message);
        Assert.Contains("packed layout has", Assert.Throws<WeightFormatException>(() => PackedWeightFile.Unpack(packed.AsSpan(0, packed.Length - 2), "cut")).Message);
        byte[] longer = packed.ToArray();
        longer[8]++; // the file length no longer fits the header's tensors
        Assert.Throws<WeightFormatException>(() => PackedWeightFile.Unpack(longer, "length"));
        Assert.False(PackedWeightFile.IsPacked(file));
        Assert.True(PackedWeightFile.IsPacked(packed));
    }

    // Each compiled model through the registry: its embedded weights (read in place, F16) against the same file on disk
    // widened to F32 arrays and packed; the same class and the same length bits on every image and every tier this machine runs.
    [Theory]
    [InlineData("mnist")]
    [InlineData("fashion")]
    [InlineData("multimnist")]
    public void Lengths_from_embedded_weights_equal_those_from_F32_weights_on_every_tier(string name)
    {
        var model = CompiledModel.Named(name);
        using var embedded = model.Open(weightsPath: null);
        using var widened = model.Open(weightsPath: null, WeightResidency.Widened);
        using var mixed = model.Open(weightsPath: null, WeightResidency.WidenedPrimary);
        using var loaded = model.Open(CapsNetWeightsFile.Load(ModelFile(name)), name);
        float[] a = new float[model.Shape.Classes], b = new float[model.Shape.Classes], c = new float[model.Shape.Classes];
        float[] d = new float[model.Shape.Classes];
        foreach (var image in Images(model.Shape.InputLength))
            foreach (var tier in SimdTiers.Supported)
            {
                embedded.Tier = widened.Tier = mixed.Tier = loaded.Tier = tier;
                int expected = loaded.Predict(image, b);
                Assert.Equal(expected, embedded.Predict(image, a));
                Assert.True(MemoryMarshal.AsBytes(a.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(b.AsSpan())), $"{tier}");
                Assert.Equal(expected, widened.Predict(image, c));
                Assert.True(MemoryMarshal.AsBytes(c.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(b.AsSpan())), $"{tier}, widened at load");
                Assert.Equal(expected, mixed.Predict(image, d));
                Assert.True(MemoryMarshal.AsBytes(d.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(b.AsSpan())), $"{tier}, primary widened at load");
            }
    }

    /// <summary>
    /// The residencies are cached instances of the generated Weights (each built once, none freed by a session), and a
    /// call on the widened ones allocates nothing: the widening is load-time only.
    /// </summary>
    [Fact]
    public void Widened_embedded_weights_are_built_once_and_predict_without_allocating()
    {
        Assert.Same(MnistCapsNet.Weights.EmbeddedWidened, MnistCapsNet.Weights.EmbeddedWidened);
        Assert.NotSame(MnistCapsNet.Weights.Embedded, MnistCapsNet.Weights.EmbeddedWidened);
        Assert.True(MnistCapsNet.Weights.EmbeddedWidened.Packed.HalfPrimaryWeight.IsEmpty);
        Assert.False(MnistCapsNet.Weights.Embedded.Packed.HalfPrimaryWeight.IsEmpty);
        using (CompiledModel.Mnist.Open(weightsPath: null, WeightResidency.Widened)) { } // disposing a session leaves them alone
        Assert.False(MnistCapsNet.Weights.EmbeddedWidened.Packed.PrimaryWeight.IsEmpty);

        using var session = CompiledModel.Mnist.Open(weightsPath: null, WeightResidency.Widened);
        var image = Images(session.Shape.InputLength).First();
        float[] lengths = new float[session.Shape.Classes];
        Allocations.AssertNone(() => session.Predict(image, lengths));

        Assert.Same(MnistCapsNet.Weights.EmbeddedWidenedPrimary, MnistCapsNet.Weights.EmbeddedWidenedPrimary);
        Assert.NotSame(MnistCapsNet.Weights.EmbeddedWidened, MnistCapsNet.Weights.EmbeddedWidenedPrimary);
        using var mixed = CompiledModel.Mnist.Open(weightsPath: null, WeightResidency.WidenedPrimary);
        Assert.True(MnistCapsNet.Weights.EmbeddedWidenedPrimary.Packed.HalfPrimaryWeight.IsEmpty);
        Assert.False(MnistCapsNet.Weights.EmbeddedWidenedPrimary.Packed.HalfDigitWeight.IsEmpty);
        Allocations.AssertNone(() => mixed.Predict(image, lengths));
        Assert.Throws<ArgumentOutOfRangeException>(() => CompiledModel.Mnist.Open(weightsPath: null, (WeightResidency)7));
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

    /// <summary>The model's assembly, its one weight resource, its architecture, and its weight file as committed.</summary>
    private static (Assembly Assembly, string Resource, CapsNetArchitecture Architecture, byte[] File) Model(string name)
    {
        var (assembly, resource, architecture) = name switch
        {
            "mnist" => (typeof(MnistCapsNet).Assembly, MnistCapsNet.WeightsResourceName, MnistCapsNet.Architecture),
            "fashion" => (typeof(FashionCapsNet).Assembly, FashionCapsNet.WeightsResourceName, FashionCapsNet.Architecture),
            _ => (typeof(MultiMnistCapsNet).Assembly, MultiMnistCapsNet.WeightsResourceName, MultiMnistCapsNet.Architecture),
        };
        return (assembly, resource, architecture, File.ReadAllBytes(ModelFile(name)));
    }

    /// <summary>
    /// The weight file's layout, the oracle's packing of it, and each tensor's data offset and dtype in the architecture's
    /// order (what the packers and <see cref="EmbeddedWeights.InPlace"/> take).
    /// </summary>
    private static (SafeTensorsFile Layout, Dictionary<string, float[]> Expected, long[] Begins, string[] DTypes) Parse(
        string model, byte[] file, CapsNetArchitecture architecture)
    {
        var layout = SafeTensorsFile.Parse(file, model);
        long[] begins = architecture.Tensors.Select(s => layout.Header.Find(s.Name)!.Begin).ToArray();
        string[] dtypes = architecture.Tensors.Select(s => layout.Header.Find(s.Name)!.DType).ToArray();
        return (layout, OldPacking(file, layout, architecture), begins, dtypes);
    }

    private static string ModelFile(string name) => Onnx.OnnxExportTests.FindRepositoryFile("weights", CompiledModel.Named(name).WeightsFileName);

    private static byte[] ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name) ?? throw new InvalidOperationException($"no resource {name}");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>
    /// The earlier whole-tensor packing, as the oracle: each tensor widened whole with <c>(float)Half</c>, one element at a
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
        Same(CapsNetArchitecture.Fc1Weight, actual.Decoder.Fc1Weight);
        Same(CapsNetArchitecture.Fc1Bias, actual.Decoder.Fc1Bias);
        Same(CapsNetArchitecture.Fc2Weight, actual.Decoder.Fc2Weight);
        Same(CapsNetArchitecture.Fc2Bias, actual.Decoder.Fc2Bias);
        Same(CapsNetArchitecture.Fc3Weight, actual.Decoder.Fc3Weight);
        Same(CapsNetArchitecture.Fc3Bias, actual.Decoder.Fc3Bias);
    }
}
