using System.Buffers.Binary;
using CapsEmbedded.Tests.TestSupport;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Weights;

/// <summary>
/// The Efficient-CapsNet weight format (docs/WEIGHTS.md): the MNIST architecture's tensors and sizes as the
/// spec lists them, round trips, the family tag, and every way a file can be refused.
/// </summary>
public sealed class EfficientFormatTests() : TempDirectoryTest("capsnet-efficient-")
{
    private static readonly EfficientCapsNetArchitecture Tiny = EfficientCapsNetArchitecture.Tiny;
    private static readonly EfficientCapsNetWeights TinyWeights = EfficientCapsNetWeights.CreateRandom(Tiny, 32);

    // ---- The architecture ------------------------------------------------------------------------------

    [Fact]
    public void Mnist_has_the_spec_tensors_and_shapes_in_file_order()
    {
        var a = EfficientCapsNetArchitecture.Mnist;
        Assert.Null(a.Validate());
        Assert.Equal(new[] { 24, 22, 20, 9 }, Enumerable.Range(0, 4).Select(a.StemOutputSize));
        Assert.Equal(1, a.PrimaryGridSize);
        string[] expected =
        [
            "stem.0.conv.weight [32,1,5,5]", "stem.0.conv.bias [32]", "stem.0.bn.weight [32]", "stem.0.bn.bias [32]",
            "stem.0.bn.running_mean [32]", "stem.0.bn.running_var [32]",
            "stem.1.conv.weight [64,32,3,3]", "stem.1.conv.bias [64]", "stem.1.bn.weight [64]", "stem.1.bn.bias [64]",
            "stem.1.bn.running_mean [64]", "stem.1.bn.running_var [64]",
            "stem.2.conv.weight [64,64,3,3]", "stem.2.conv.bias [64]", "stem.2.bn.weight [64]", "stem.2.bn.bias [64]",
            "stem.2.bn.running_mean [64]", "stem.2.bn.running_var [64]",
            "stem.3.conv.weight [128,64,3,3]", "stem.3.conv.bias [128]", "stem.3.bn.weight [128]", "stem.3.bn.bias [128]",
            "stem.3.bn.running_mean [128]", "stem.3.bn.running_var [128]",
            "primary_caps.weight [128,1,9,9]", "primary_caps.bias [128]",
            "digit_caps.weight [10,16,8,16]", "digit_caps.bias [10,16]",
            "decoder.fc1.weight [512,160]", "decoder.fc1.bias [512]", "decoder.fc2.weight [1024,512]", "decoder.fc2.bias [1024]",
            "decoder.fc3.weight [784,1024]", "decoder.fc3.bias [784]",
        ];
        Assert.Equal(expected, a.Tensors.Select(t => t.ToString()));
        // The capsule part is the paper's ≈161 K: 161,824 trainable plus the 576 running statistics; the decoder adds 1.41 M.
        long capsules = a.Tensors.Where(t => !t.Name.StartsWith("decoder.", StringComparison.Ordinal)).Sum(t => t.ElementCount);
        Assert.Equal(161_824 + 576, capsules);
        Assert.Equal(1_411_344, a.ParameterCount - capsules);
    }

    [Fact]
    public void Mnist_metadata_is_the_spec_keys_and_reads_back_equal()
    {
        var metadata = EfficientCapsNetArchitecture.Mnist.ToMetadata();
        Assert.Equal("efficient", metadata["capsnet.family"]);
        Assert.Equal("32,64,64,128", metadata["capsnet.stem_channels"]);
        Assert.Equal("5,3,3,3", metadata["capsnet.stem_kernels"]);
        Assert.Equal("1,1,1,2", metadata["capsnet.stem_strides"]);
        Assert.Equal("0.001", metadata["capsnet.batchnorm_eps"]);
        Assert.Equal("16", metadata["capsnet.primary_capsules"]);
        Assert.Equal(14, metadata.Count);
        Assert.Equal(EfficientCapsNetArchitecture.Mnist, EfficientCapsNetArchitecture.FromMetadata(metadata, out string? error));
        Assert.Null(error);
        Assert.Equal(EfficientCapsNetArchitecture.Mnist, new EfficientCapsNetArchitecture());
        Assert.NotEqual(EfficientCapsNetArchitecture.Mnist, EfficientCapsNetArchitecture.Mnist with { BatchNormEps = 1e-5f });
        Assert.NotEqual(EfficientCapsNetArchitecture.Mnist, EfficientCapsNetArchitecture.Mnist with
        {
            Stem = [new(32, 5, 1), new(64, 3, 1), new(64, 3, 1), new(128, 3, 1)],
        });
    }

    [Theory]
    [InlineData("stem_channels", "32,64,64", "the stem lists disagree")]
    [InlineData("stem_channels", "32,64,x,128", "comma-separated list of non-negative integers")]
    [InlineData("stem_strides", "1,1,1,0", "stem_strides[3] = 0: every size must be at least 1")]
    [InlineData("stem_kernels", "5,3,3,21", "stem.3 kernel 21 is larger than its 20x20 input")]
    [InlineData("primary_capsules", "15", "cannot be 15 primary capsules x 8 dims")]
    [InlineData("primary_kernel", "10", "primary kernel 10 is larger than the stem's 9x9 output")]
    [InlineData("classes", "-1", "is not a non-negative integer")]
    [InlineData("batchnorm_eps", "abc", "is not a number")]
    [InlineData("batchnorm_eps", "0", "must be a finite number above 0")]
    [InlineData("batchnorm_eps", "NaN", "must be a finite number above 0")]
    [InlineData("input_size", null, "capsnet.input_size is missing")]
    [InlineData("batchnorm_eps", null, "capsnet.batchnorm_eps is missing")]
    public void Bad_or_inconsistent_metadata_is_refused_naming_the_key(string key, string? value, string message)
    {
        var metadata = EfficientCapsNetArchitecture.Mnist.ToMetadata();
        if (value is null) metadata.Remove("capsnet." + key);
        else metadata["capsnet." + key] = value;
        Assert.Null(EfficientCapsNetArchitecture.FromMetadata(metadata, out string? error));
        Assert.Contains(message, error);

        // The same metadata in a file: the reader names the file and the problem.
        var file = new TinyFile { Metadata = metadata };
        var e = Assert.Throws<WeightFormatException>(() => EfficientCapsNetWeightsFile.Read(file.Bytes(), "bad.safetensors"));
        Assert.Contains(message, e.Message);
        Assert.StartsWith("bad.safetensors: invalid Efficient-CapsNet architecture", e.Message);
    }

    // ---- Family --------------------------------------------------------------------------------------

    [Fact]
    public void The_family_comes_from_capsnet_family_and_absent_is_the_paper_network()
    {
        Assert.Equal(CapsNetFamily.Paper, CapsNetFamily.Of(null));
        Assert.Equal(CapsNetFamily.Paper, CapsNetFamily.Of(new Dictionary<string, string>()));
        Assert.Equal(CapsNetFamily.Paper, CapsNetFamily.Of(CapsNetArchitecture.Paper.ToMetadata()));
        Assert.Equal(CapsNetFamily.Paper, CapsNetFamily.Of(new Dictionary<string, string> { ["capsnet.family"] = "paper" }));
        Assert.Equal(CapsNetFamily.Efficient, CapsNetFamily.Of(EfficientCapsNetArchitecture.Mnist.ToMetadata()));
        var e = Assert.Throws<WeightFormatException>(() =>
            CapsNetFamily.Of(new Dictionary<string, string> { ["capsnet.family"] = "Efficient" }, "x.safetensors"));
        Assert.Equal("x.safetensors: metadata capsnet.family = \"Efficient\" names no CapsNet family (known: \"paper\", or absent, "
            + "and \"efficient\")", e.Message);
    }

    [Fact]
    public void The_paper_loader_refuses_an_efficient_file_naming_the_family_and_the_other_way_round()
    {
        string path = P("efficient.safetensors");
        EfficientCapsNetWeightsFile.Save(TinyWeights, path);
        var e = Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Load(path));
        Assert.Contains("an Efficient-CapsNet weight file (capsnet.family = \"efficient\")", e.Message);
        Assert.Contains("EfficientCapsNetWeightsFile", e.Message);
        Assert.StartsWith(path, e.Message);
        e = Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Read(File.ReadAllBytes(path), "e.safetensors"));
        Assert.Contains("Efficient-CapsNet", e.Message);

        byte[] paper = CapsNetWeightsFile.Write(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1));
        e = Assert.Throws<WeightFormatException>(() => EfficientCapsNetWeightsFile.Read(paper, "paper.safetensors"));
        Assert.Contains("not an Efficient-CapsNet weight file", e.Message);
        Assert.Contains("CapsNetWeightsFile", e.Message);
    }

    // ---- Round trips -------------------------------------------------------------------------------------

    [Fact]
    public void F32_round_trip_keeps_every_bit_and_the_metadata()
    {
        var weights = EfficientCapsNetWeights.CreateRandom(Tiny, 5);
        weights.Metadata["capsnet.class_names"] = "[\"a\",\"b\",\"c\"]";
        weights.StemConv(0).Weight[3] = -0f;
        string path = P("tiny.safetensors");
        EfficientCapsNetWeightsFile.Save(weights, path);
        var loaded = EfficientCapsNetWeightsFile.Load(path);
        Assert.Equal(Tiny, loaded.Architecture);
        foreach (var spec in Tiny.Tensors)
            Assert.Equal(Bits(weights[spec.Name]), Bits(loaded[spec.Name]));
        Assert.Equal(["a", "b", "c"], loaded.ClassNames);
        Assert.Equal(weights.Metadata, loaded.Metadata);
        Assert.Equal(File.ReadAllBytes(path), EfficientCapsNetWeightsFile.Write(loaded)); // deterministic bytes
    }

    [Theory]
    [InlineData(SafeTensorsDType.F16)]
    [InlineData(SafeTensorsDType.BF16)]
    public void Narrow_round_trip_rounds_each_value_once(string dtype)
    {
        byte[] narrow = EfficientCapsNetWeightsFile.Write(TinyWeights, dtype);
        var loaded = EfficientCapsNetWeightsFile.Read(narrow, "narrow.safetensors");
        foreach (var spec in Tiny.Tensors)
        {
            float[] source = TinyWeights[spec.Name], read = loaded[spec.Name];
            for (int k = 0; k < source.Length; k++)
            {
                float expected = dtype == SafeTensorsDType.F16 ? (float)(Half)source[k]
                    : WeightPrecision.BFloat16ToSingle(WeightPrecision.SingleToBFloat16(source[k]));
                Assert.Equal(expected, read[k]);
            }
        }
        Assert.Equal(narrow, EfficientCapsNetWeightsFile.Write(loaded, dtype)); // narrowing again changes nothing
        Assert.All(SafeTensorsFile.Parse(narrow, "narrow").Header.Entries, e => Assert.Equal(dtype, e.DType));
    }

    [Fact]
    public void The_mnist_network_round_trips_in_F16()
    {
        var weights = EfficientCapsNetWeights.CreateRandom(EfficientCapsNetArchitecture.Mnist, 9);
        var loaded = EfficientCapsNetWeightsFile.Read(EfficientCapsNetWeightsFile.Write(weights, SafeTensorsDType.F16), "mnist");
        Assert.Equal(EfficientCapsNetArchitecture.Mnist, loaded.Architecture);
        Assert.Equal(weights.Digit.Weight.Select(x => (float)(Half)x), loaded.Digit.Weight);
    }

    // ---- Refusals ----------------------------------------------------------------------------------------

    [Fact]
    public void A_missing_tensor_is_named()
    {
        var file = new TinyFile();
        file.Tensors.RemoveAll(t => t.Name == "stem.1.bn.running_var");
        AssertRefused(file, "stem.1.bn.running_var", "missing; the architecture needs it as F32 [8]");
    }

    [Fact]
    public void A_wrong_shape_is_named_even_when_the_byte_count_fits()
    {
        var file = new TinyFile();
        file.Reshape("digit_caps.bias", 4, 3);
        AssertRefused(file, "digit_caps.bias", "shape [4,3] does not match the architecture's [3,4]");
        file = new TinyFile();
        file.Reshape("primary_caps.weight", 8, 9); // [C,1,K,K] flattened
        AssertRefused(file, "primary_caps.weight", "shape [8,9] does not match the architecture's [8,1,3,3]");
    }

    [Fact]
    public void An_unknown_tensor_is_refused()
    {
        var file = new TinyFile();
        file.Tensors.Add(("stem.0.bn.momentum", SafeTensorsDType.F32, [], new byte[4]));
        AssertRefused(file, "stem.0.bn.momentum", "unknown tensor; a CapsNet has exactly stem.0.conv.weight");
    }

    [Fact]
    public void Num_batches_tracked_is_accepted_and_ignored_as_an_I64_scalar_only()
    {
        var file = new TinyFile();
        for (int layer = 0; layer < Tiny.Stem.Count; layer++)
            file.Tensors.Add(($"stem.{layer}.bn.num_batches_tracked", "I64", [], Int64(37_500)));
        var loaded = EfficientCapsNetWeightsFile.Read(file.Bytes(), "torch.safetensors");
        foreach (var spec in Tiny.Tensors) Assert.Equal(TinyWeights[spec.Name], loaded[spec.Name]);
        Assert.Throws<KeyNotFoundException>(() => loaded["stem.0.bn.num_batches_tracked"]);

        file = new TinyFile();
        file.Tensors.Add(("stem.1.bn.num_batches_tracked", SafeTensorsDType.F32, [], new byte[4]));
        AssertRefused(file, "stem.1.bn.num_batches_tracked", "is F32 []; PyTorch's batch-norm counter is accepted (and ignored) "
            + "only as an I64 scalar of shape []");
        file = new TinyFile();
        file.Tensors.Add(("stem.0.bn.num_batches_tracked", "I64", [1], Int64(1)));
        AssertRefused(file, "stem.0.bn.num_batches_tracked", "is I64 [1]");
        file = new TinyFile(); // a layer the stem does not have
        file.Tensors.Add(("stem.2.bn.num_batches_tracked", "I64", [], Int64(1)));
        AssertRefused(file, "stem.2.bn.num_batches_tracked", "unknown tensor");
    }

    [Fact]
    public void Another_dtype_is_refused()
    {
        var file = new TinyFile();
        int k = file.Tensors.FindIndex(t => t.Name == "digit_caps.bias");
        file.Tensors[k] = ("digit_caps.bias", "I32", [3, 4], file.Tensors[k].Data);
        AssertRefused(file, "digit_caps.bias", "dtype I32 is not supported");
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "Infinity")]
    public void A_non_finite_weight_is_refused_naming_file_tensor_and_index(float value, string shown)
    {
        var weights = EfficientCapsNetWeights.CreateRandom(Tiny, 3);
        weights.StemConv(1).Weight[5] = value;
        byte[] file = EfficientCapsNetWeightsFile.Write(weights);
        var e = Assert.Throws<WeightFormatException>(() => EfficientCapsNetWeightsFile.Read(file, "nan.safetensors"));
        Assert.Equal($"nan.safetensors: tensor 'stem.1.conv.weight': value 5 is {shown}; weights must be finite numbers", e.Message);
        Assert.Equal(value, EfficientCapsNetWeightsFile.Read(file, "inspect", requireFinite: false).StemConv(1).Weight[5]);
    }

    [Fact]
    public void A_negative_running_variance_is_refused_naming_file_tensor_and_index()
    {
        var weights = EfficientCapsNetWeights.CreateRandom(Tiny, 3);
        weights.StemBatchNorm(1).Variance[2] = -0.25f;
        var e = Assert.Throws<WeightFormatException>(() =>
            EfficientCapsNetWeightsFile.Read(EfficientCapsNetWeightsFile.Write(weights), "var.safetensors"));
        Assert.Equal("var.safetensors: tensor 'stem.1.bn.running_var': value 2 is -0.25; a running variance cannot be negative",
            e.Message);
        weights.StemBatchNorm(1).Variance[2] = 0f; // zero is fine: ε keeps √(σ² + ε) above 0
        EfficientCapsNetWeightsFile.Read(EfficientCapsNetWeightsFile.Write(weights), "zero.safetensors");
    }

    [Fact]
    public void Every_truncation_is_a_WeightFormatException()
    {
        byte[] file = EfficientCapsNetWeightsFile.Write(TinyWeights);
        for (int length = 0; length < file.Length; length += length < 2048 ? 1 : 97)
            Assert.Throws<WeightFormatException>(() => EfficientCapsNetWeightsFile.Read(file.AsSpan(0, length), "cut"));
    }

    [Fact]
    public void Load_checks_the_header_before_reading_the_data()
    {
        // A file whose header is valid JSON but not an efficient network fails on the header alone.
        string path = P("paper.safetensors");
        CapsNetWeightsFile.Save(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 2), path);
        Assert.Contains("not an Efficient-CapsNet", Assert.Throws<WeightFormatException>(() => EfficientCapsNetWeightsFile.Load(path)).Message);
        Assert.Throws<FileNotFoundException>(() => EfficientCapsNetWeightsFile.Load(P("none.safetensors")));
    }

    // ---- Helpers -----------------------------------------------------------------------------------------

    private static void AssertRefused(TinyFile file, string tensor, string problem)
    {
        var e = Assert.Throws<WeightFormatException>(() => EfficientCapsNetWeightsFile.Read(file.Bytes(), "evil.safetensors"));
        Assert.Equal(tensor, e.TensorName);
        Assert.Equal("evil.safetensors", e.FileName);
        Assert.Contains(problem, e.Problem);
    }

    private static uint[] Bits(float[] values) => values.Select(BitConverter.SingleToUInt32Bits).ToArray();

    private static byte[] Int64(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>The Tiny random network as a list of tensors and metadata that a test edits before serialising.</summary>
    private sealed class TinyFile
    {
        public List<(string Name, string DType, IReadOnlyList<long> Shape, byte[] Data)> Tensors { get; } = Tiny.Tensors
            .Select(s => (s.Name, SafeTensorsDType.F32, (IReadOnlyList<long>)s.Shape.Select(d => (long)d).ToArray(),
                TinyWeights[s.Name].SelectMany(BitConverter.GetBytes).ToArray()))
            .ToList();

        public Dictionary<string, string> Metadata { get; init; } = Tiny.ToMetadata();

        public void Reshape(string name, params long[] shape)
        {
            int k = Tensors.FindIndex(t => t.Name == name);
            Tensors[k] = (name, Tensors[k].DType, shape, Tensors[k].Data);
        }

        public byte[] Bytes() => SafeTensorsWriter.Serialize(Tensors, Metadata);
    }
}
