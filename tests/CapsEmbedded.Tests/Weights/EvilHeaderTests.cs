using System.Text;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Weights;
using static CapsEmbedded.Tests.Weights.HandMadeFile;

namespace CapsEmbedded.Tests.Weights;

/// <summary>
/// Hand-made malicious or broken files: each must be refused with a <see cref="WeightFormatException"/> whose
/// message names the problem and, where one is to blame, the tensor.
/// </summary>
public class EvilHeaderTests
{
    // Tiny's layout: conv1.weight [4,1,3,3] = bytes [0,144), conv1.bias [144,160), ..., decoder.fc3.bias [12192,12592).
    private const string Conv1W = CapsNetArchitecture.Conv1Weight, Conv1B = CapsNetArchitecture.Conv1Bias;

    /// <summary>Tiny with conv1.bias's header entry replaced by <paramref name="entryJson"/> is refused with these fragments.</summary>
    private static WeightFormatException AssertConv1BiasEntryRejected(string entryJson, params string[] fragments)
    {
        var file = Tiny();
        file.Replace(Conv1B, entryJson);
        return AssertRejected(file.Bytes(), fragments);
    }

    /// <summary>Tiny with <paramref name="metadataJson"/> as its <c>__metadata__</c> value (null: none) is refused with these fragments.</summary>
    private static WeightFormatException AssertMetadataRejected(string? metadataJson, params string[] fragments)
    {
        var file = Tiny();
        file.MetadataJson = metadataJson;
        return AssertRejected(file.Bytes(), fragments);
    }

    [Fact]
    public void TheUntouchedHandMadeTinyFileIsValid()
    {
        var weights = CapsNetWeightsFile.Read(Tiny().Bytes(), Name);
        Assert.Equal(CapsNetArchitecture.Tiny, weights.Architecture);
        Assert.Equal(12592, Tiny().DataLength);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void FileShorterThanTheLengthField(int length) =>
        AssertRejected(new byte[length], $"file is {length} bytes, too short for the 8-byte header length");

    [Theory]
    [InlineData(100_000_001UL, "header length 100000001 exceeds the limit of 100000000 bytes")]
    [InlineData(ulong.MaxValue, "header length 18446744073709551615 exceeds the limit")]
    [InlineData(0x8000_0000_0000_0001UL, "header length 9223372036854775809 exceeds the limit")] // negative as a long
    public void HugeHeaderLength(ulong n, string fragment)
    {
        var e = AssertRejected(Assemble("{}", 0, lengthField: n), fragment);
        Assert.DoesNotContain("-", e.Problem);
    }

    [Fact]
    public void HeaderLengthPastTheEndOfTheFile() =>
        AssertRejected(Assemble("{}      ", 0, lengthField: 1000), "header length 1000 is past the end of the file (only 8 bytes follow");

    [Fact]
    public void HeaderLengthZero() => AssertRejected(Assemble("{}", 0, lengthField: 0), "header length is 0");

    [Fact]
    public void HeaderThatIsNotJson() => AssertRejected(Assemble("{hello world}   ", 0), "header is not valid JSON at character 1", "expected a string key");

    [Fact]
    public void HeaderThatIsNotJsonAtAll() => AssertRejected(Assemble("PK\u0003\u0004 zip, not safetensors", 0),
        "header does not start with '{'", "'P'");

    [Fact]
    public void HeaderOfOnlyWhitespace() => AssertRejected(Assemble("        ", 0), "header is not valid JSON at character 8: expected a value, found end of text");

    [Fact]
    public void ByteOrderMarkBeforeTheHeader() =>
        AssertRejected(Assemble(new byte[] { 0xef, 0xbb, 0xbf, (byte)'{', (byte)'}', 32, 32, 32 }, 0), "header does not start with '{' but with (0xef)");

    [Fact]
    public void JsonArrayInsteadOfObject() => AssertRejected(Assemble("[1,2,3]", 0), "header does not start with '{'", "'['", "JSON object");

    [Fact]
    public void TruncatedJson()
    {
        string json = Tiny().HeaderJson();
        AssertRejected(Assemble(json[..(json.Length / 2)], 0), "header is not valid JSON");
    }

    [Fact]
    public void HeaderNotUtf8()
    {
        byte[] header = Encoding.UTF8.GetBytes("{\"__metadata__\":{\"a\":\"xx\"}}");
        header[20] = 0xff;
        AssertRejected(Assemble(header, 0), "header is not valid UTF-8 (at byte 28 of the file)");
    }

    [Fact]
    public void TrailingGarbageAfterJson() =>
        AssertRejected(Assemble("{}  x   ", 0), "header is not valid JSON at character 4", "unexpected 'x' after the JSON value");

    [Fact]
    public void HeaderSurroundedByJsonWhitespaceIsAccepted()
    {
        var file = Tiny();
        var bytes = Assemble(Encoding.UTF8.GetBytes("\n " + file.HeaderJson() + " \t\r\n        "), file.DataLength);
        Assert.Equal(CapsNetArchitecture.Tiny, CapsNetWeightsFile.Read(bytes, Name).Architecture);
    }

    [Fact]
    public void DuplicateTensorName()
    {
        var file = Tiny();
        file.Entries.Add(new Entry(Conv1B, TensorJson("F32", "[4]", 144, 160)));
        var e = AssertRejected(file.Bytes(), "duplicate key \"conv1.bias\"");
        Assert.Null(e.TensorName);
    }

    [Fact]
    public void UnknownDtype()
    {
        var e = AssertConv1BiasEntryRejected(TensorJson("F33", "[4]", 144, 160), "tensor 'conv1.bias': unknown dtype \"F33\"", "F32", "BF16");
        Assert.Equal(Conv1B, e.TensorName);
    }

    [Fact]
    public void KnownButUnsupportedDtype()
    {
        // A consistent file in which conv1.bias is I16 (8 bytes instead of 16).
        var file = new HandMadeFile { MetadataJson = MetadataObject(CapsNetArchitecture.Tiny.ToMetadata()) };
        long offset = 0;
        foreach (var spec in CapsNetArchitecture.Tiny.Tensors)
        {
            string dtype = spec.Name == Conv1B ? "I16" : "F32";
            long end = offset + (dtype == "I16" ? 2 : 4) * spec.ElementCount;
            file.Entries.Add(new Entry(spec.Name, TensorJson(dtype, spec.ShapeText, offset, end)));
            offset = end;
        }
        file.DataLength = offset;
        AssertRejected(file.Bytes(), "tensor 'conv1.bias': dtype I16 is not supported; CapsNet tensors must be F32, F16 or BF16");
    }

    [Fact]
    public void WrongShape()
    {
        var file = Tiny();
        // Same byte count as [18,3,4,4], so only the layout check can object.
        file.Replace(CapsNetArchitecture.DigitWeight, TensorJson("F32", "[18,3,8,2]", 1344, 4800));
        AssertRejected(file.Bytes(), "tensor 'digit_caps.weight': shape [18,3,8,2] does not match the architecture's [18,3,4,4]");
    }

    [Fact]
    public void PaperShapesWithoutMetadataNameThePaperNetwork()
    {
        AssertMetadataRejected(null, "tensor 'conv1.weight': shape [4,1,3,3] does not match the architecture's [256,1,9,9]",
            "no __metadata__, so the paper's network");
    }

    [Fact]
    public void MissingTensor()
    {
        var file = Tiny();
        file.Remove(CapsNetArchitecture.Fc3Bias);
        file.DataLength -= 400;
        AssertRejected(file.Bytes(), "tensor 'decoder.fc3.bias': missing", "F32 [100]");
    }

    [Fact]
    public void ExtraTensor()
    {
        var file = Tiny();
        file.Entries.Add(new Entry("decoder.fc4.weight", TensorJson("F32", "[2]", 12592, 12600)));
        file.DataLength += 8;
        AssertRejected(file.Bytes(), "tensor 'decoder.fc4.weight': unknown tensor", "a CapsNet has exactly conv1.weight, conv1.bias");
    }

    [Theory]
    [InlineData("[0,9223372036854775808]", "data_offsets[1] = 9223372036854775808 is not a non-negative integer that fits in 64 bits")]
    [InlineData("[0,99999999999999999999999]", "data_offsets[1] = 99999999999999999999999 is not a non-negative integer")]
    [InlineData("[-16,0]", "data_offsets[0] = -16 is not a non-negative integer")]
    [InlineData("[0,16.0]", "data_offsets[1] = 16.0 is not a non-negative integer")]
    [InlineData("[0,1.6e1]", "data_offsets[1] = 1.6e1 is not a non-negative integer")]
    [InlineData("[0,\"16\"]", "data_offsets[1] = a JSON string is not a non-negative integer")]
    [InlineData("[0]", "data_offsets has 1 elements; it must be [begin, end]")]
    [InlineData("[0,16,32]", "data_offsets has 3 elements")]
    [InlineData("{}", "data_offsets is a JSON object, not an array")]
    public void BadOffsets(string offsets, string fragment)
    {
        var e = AssertConv1BiasEntryRejected("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":" + offsets + "}", "tensor 'conv1.bias': " + fragment);
        Assert.Equal(Conv1B, e.TensorName);
    }

    [Theory]
    [InlineData("[4294967296,4294967296,4]", "shape [4294967296,4294967296,4] has more elements than fit in 64 bits")]
    [InlineData("[2305843009213693952]", "shape [2305843009213693952] of dtype F32 has more bits than fit in 64 bits")]
    [InlineData("[-4]", "shape[0] = -4 is not a non-negative integer")]
    [InlineData("[4.5]", "shape[0] = 4.5 is not a non-negative integer")]
    [InlineData("[null]", "shape[0] = a JSON null is not a non-negative integer")]
    [InlineData("4", "shape is a JSON number, not an array")]
    public void BadShapes(string shape, string fragment) =>
        AssertConv1BiasEntryRejected("{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[144,160]}", "tensor 'conv1.bias': " + fragment);

    [Theory]
    [InlineData("[5]", 144, 160, "tensor 'conv1.bias': shape [5] of dtype F32 needs 20 bytes but data_offsets [144,160] hold 16")]
    [InlineData("[4]", 160, 144, "tensor 'conv1.bias': data_offsets [160,144] begin after end")]
    [InlineData("[4]", 140, 156, "tensor 'conv1.bias': data_offsets [140,156] overlap tensor 'conv1.weight', which ends at 144")]
    [InlineData("[4]", 0, 16, "overlap tensor")] // aliases the start of conv1.weight
    public void Conv1BiasEntryThatDoesNotFitItsBytes(string shape, int begin, int end, string fragment) =>
        AssertConv1BiasEntryRejected(TensorJson("F32", shape, begin, end), fragment);

    [Fact]
    public void OffsetsPastTheDataArea()
    {
        var file = Tiny();
        file.DataLength -= 4; // the last tensor claims 4 bytes the file does not have
        AssertRejected(file.Bytes(), "tensor 'decoder.fc3.bias': data_offsets [12192,12592] end past the data area, which is 12588 bytes");
    }

    [Fact]
    public void GapBetweenTensors()
    {
        var file = Tiny();
        file.Replace(Conv1W, TensorJson("F32", "[4,1,3,2]", 0, 96));
        AssertRejected(file.Bytes(), "tensor 'conv1.bias': data_offsets [144,160] leave a gap: bytes [96,144) of the data area belong to no tensor");
    }

    [Fact]
    public void GapAtTheStart()
    {
        var file = Tiny();
        file.Remove(Conv1W);
        AssertRejected(file.Bytes(), "tensor 'conv1.bias'", "bytes [0,144) of the data area belong to no tensor");
    }

    [Fact]
    public void TrailingBytesAfterTheLastTensor()
    {
        var file = Tiny();
        file.DataLength += 3;
        var e = AssertRejected(file.Bytes(), "the data area has 3 trailing bytes after the last tensor (tensors end at 12592, data area is 12595 bytes)");
        Assert.Null(e.TensorName);
    }

    [Theory]
    [InlineData("{\"capsnet.classes\":3}", "__metadata__ value of \"capsnet.classes\" is a JSON number, not a string")]
    [InlineData("{\"note\":[\"a\"]}", "__metadata__ value of \"note\" is a JSON array, not a string")]
    [InlineData("[\"a\"]", "__metadata__ is a JSON array, not an object of strings")]
    [InlineData("\"capsnet\"", "__metadata__ is a JSON string, not an object of strings")]
    public void MetadataThatIsNotStrings(string metadata, string fragment) => AssertMetadataRejected(metadata, fragment);

    [Theory]
    [InlineData("capsnet.classes", "ten", "metadata capsnet.classes = \"ten\" is not a non-negative integer")]
    [InlineData("capsnet.classes", "-3", "capsnet.classes = \"-3\" is not a non-negative integer")]
    [InlineData("capsnet.classes", "99999999999", "capsnet.classes = \"99999999999\" is not a non-negative integer")]
    [InlineData("capsnet.classes", "0", "every size must be at least 1")]
    [InlineData("capsnet.class_dims", "0", "every size must be at least 1")]
    [InlineData("capsnet.conv1_kernel", "11", "conv1 kernel 11 is larger than the input 10")]
    [InlineData("capsnet.primary_types", "99999", "larger than the supported")]
    public void BadCapsNetMetadataValue(string key, string value, string fragment)
    {
        var metadata = CapsNetArchitecture.Tiny.ToMetadata();
        metadata[key] = value;
        Assert.Null(CapsNetArchitecture.FromMetadata(metadata, out var error));
        Assert.Contains(fragment, error);

        // The same metadata in a file: the reader gives the architecture's own words, after the file and the key.
        var e = AssertMetadataRejected(MetadataObject(metadata), "invalid CapsNet architecture in __metadata__: " + error);
        Assert.Null(e.TensorName);
    }

    [Fact]
    public void MetadataThatOverflowsADerivedSize()
    {
        // 16384 types on a 16384² grid is 2^42 primary capsules: int arithmetic would wrap to 0, so the
        // architecture check refuses it before any shape is computed.
        var architecture = new CapsNetArchitecture
        {
            InputSize = 16384, Conv1Kernel = 1, PrimaryKernel = 1, PrimaryStride = 1, PrimaryTypes = 16384, PrimaryDims = 1,
            Conv1Channels = 1, DecoderHidden1 = 1, DecoderHidden2 = 1, ClassDims = 1, Classes = 1,
        };
        var file = new HandMadeFile { MetadataJson = MetadataObject(architecture.ToMetadata()) };
        AssertRejected(file.Bytes(), "the derived sizes (primary capsules, decoder input or output) are too large");
    }

    [Theory]
    [InlineData(62, true)]
    [InlineData(63, false)]
    [InlineData(100_000, false)]
    public void DeepNesting(int depth, bool accepted)
    {
        // The header object is level 1, __metadata__'s object level 2, then `depth` arrays: 62 reach level 64.
        string metadata = "{\"deep\":" + new string('[', depth) + new string(']', depth) + "}";
        if (accepted) AssertMetadataRejected(metadata, "__metadata__ value of \"deep\" is a JSON array"); // parsed, then refused as metadata
        else AssertMetadataRejected(metadata, "header is not valid JSON", "nesting deeper than 64 levels");
    }

    [Theory]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[4]}", "missing field \"data_offsets\"")]
    [InlineData("{\"shape\":[4],\"data_offsets\":[144,160]}", "missing field \"dtype\"")]
    [InlineData("{\"dtype\":\"F32\",\"data_offsets\":[144,160]}", "missing field \"shape\"")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[144,160],\"offsets\":[0,1]}", "unknown field \"offsets\"")]
    [InlineData("{\"dtype\":32,\"shape\":[4],\"data_offsets\":[144,160]}", "dtype is a JSON number, not a string")]
    [InlineData("[144,160]", "entry is a JSON array, not an object")]
    [InlineData("null", "entry is a JSON null, not an object")]
    public void MalformedEntry(string json, string fragment) => AssertConv1BiasEntryRejected(json, "tensor 'conv1.bias': " + fragment);

    [Theory]
    [MemberData(nameof(MalformedJson.Strings), MemberType = typeof(MalformedJson))]
    public void BadStringsInTheHeader(string value, string fragment) =>
        AssertMetadataRejected("{\"note\":" + value + "}", "header is not valid JSON", fragment);
}
