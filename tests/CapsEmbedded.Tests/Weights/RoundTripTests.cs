using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Weights;

public class RoundTripTests
{
    // Creating 8.2 M random parameters is the slow part of the Paper-size tests: do it once.
    private static readonly Lazy<CapsNetWeights> PaperWeights = new(() => CapsNetWeights.CreateRandom(CapsNetArchitecture.Paper, seed: 2017));

    internal static void AssertBitExact(CapsNetWeights expected, CapsNetWeights actual)
    {
        Assert.Equal(expected.Architecture, actual.Architecture);
        foreach (var spec in expected.Architecture.Tensors)
            Assert.True(MemoryMarshal.AsBytes(expected[spec.Name].AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(actual[spec.Name].AsSpan())),
                $"{spec.Name} differs after a round trip");
    }

    private static int HeaderLength(byte[] file) => checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));

    [Fact]
    public void TinyRoundTripIsBitExactIncludingSpecialValues()
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, seed: 7);
        float[] specials =
        {
            BitConverter.Int32BitsToSingle(0x7fc1_2345), // quiet NaN with a payload
            BitConverter.Int32BitsToSingle(unchecked((int)0xffa0_0001)), // negative signalling NaN with a payload
            -0f, 0f, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue,
        };
        specials.CopyTo(weights.Fc2Bias, 0);
        specials.CopyTo(weights.Fc3Bias, 90);

        byte[] file = CapsNetWeightsFile.Write(weights);
        var read = CapsNetWeightsFile.Read(file, "tiny.safetensors", requireFinite: false);
        var e = Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Read(file, "tiny.safetensors"));
        Assert.Equal(CapsNetArchitecture.Fc2Bias, e.TensorName); // the default refuses NaN/Inf, naming the first tensor that has one

        AssertBitExact(weights, read);
        Assert.Equal(0x7fc1_2345, BitConverter.SingleToInt32Bits(read.Fc2Bias[0]));
        Assert.True(float.IsNegative(read.Fc2Bias[2]) && read.Fc2Bias[2] == 0);
        Assert.Equal(file, CapsNetWeightsFile.Write(read)); // writing is deterministic
    }

    [Fact]
    public void PaperRoundTripIsBitExact()
    {
        var weights = PaperWeights.Value;
        byte[] file = CapsNetWeightsFile.Write(weights);
        Assert.Equal(8 + HeaderLength(file) + 4 * CapsNetArchitecture.Paper.ParameterCount, file.Length);
        AssertBitExact(weights, CapsNetWeightsFile.Read(file, "paper.safetensors"));
    }

    [Fact]
    public void TensorsAreWrittenInArchitectureOrderBackToBackAfterAnAlignedHeader()
    {
        byte[] file = CapsNetWeightsFile.Write(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1));
        int n = HeaderLength(file);
        Assert.Equal(0, (8 + n) % 8);
        string header = Encoding.UTF8.GetString(file, 8, n);
        int json = header.TrimEnd(' ').Length;
        Assert.True(n - json < 8, "at most 7 bytes of padding");
        Assert.All(header[json..], c => Assert.Equal(' ', c));

        var layout = SafeTensorsFile.Parse(file, "tiny");
        Assert.Equal(CapsNetArchitecture.Tiny.Tensors.Select(t => t.Name), layout.Header.Entries.Select(e => e.Name));
        Assert.Equal(CapsNetArchitecture.Tiny.Tensors.Select(t => t.Name),
            layout.Header.Entries.OrderBy(e => header.IndexOf("\"" + e.Name + "\"", StringComparison.Ordinal)).Select(e => e.Name));
        Assert.All(layout.Header.Entries, e => Assert.Equal("F32", e.DType));
        Assert.StartsWith("{\"__metadata__\":{\"capsnet.", header);
    }

    [Fact]
    public void MetadataRoundTripsSortedAndCapsNetKeysFollowTheArchitecture()
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 3);
        weights.Metadata["zz.note"] = "quote \" backslash \\ newline \n tab \t nul \0 é 😀 \u2028";
        weights.Metadata["aa.empty"] = "";
        weights.Metadata["capsnet.classes"] = "7"; // stale: the architecture says 3

        byte[] file = CapsNetWeightsFile.Write(weights);
        var read = CapsNetWeightsFile.Read(file, "tiny");

        Assert.Equal(weights.Metadata["zz.note"], read.Metadata["zz.note"]);
        Assert.Equal("", read.Metadata["aa.empty"]);
        Assert.Equal("3", read.Metadata["capsnet.classes"]);
        Assert.Equal($"random seed=3", read.Metadata["capsnet.init"]);
        var header = SafeTensorsFile.Parse(file, "tiny").Header;
        Assert.Equal(weights.Metadata.Count, header.Metadata.Count);

        string text = Encoding.UTF8.GetString(file, 8, HeaderLength(file));
        var keys = header.Metadata.Keys.OrderBy(k => text.IndexOf("\"" + k + "\"", StringComparison.Ordinal)).ToList();
        Assert.Equal(keys.OrderBy(k => k, StringComparer.Ordinal), keys);
        Assert.Contains("\\u0000", text); // control characters escaped as serde_json does
    }

    [Fact]
    public void MetadataThatUtf8CannotEncodeIsRefusedOnWrite()
    {
        var weights = new CapsNetWeights(CapsNetArchitecture.Tiny);
        weights.Metadata["note"] = "half a pair: \ud83d";
        Assert.Contains("lone UTF-16 surrogate", Assert.Throws<ArgumentException>(() => CapsNetWeightsFile.Write(weights)).Message);
    }

    [Fact]
    public void AFileWithoutMetadataIsThePaperNetwork()
    {
        var weights = PaperWeights.Value;
        var tensors = CapsNetArchitecture.Paper.Tensors
            .Select(s => (s.Name, "F32", (IReadOnlyList<long>)s.Shape.Select(d => (long)d).ToArray(),
                MemoryMarshal.AsBytes(weights[s.Name].AsSpan()).ToArray()))
            .ToList();
        byte[] file = SafeTensorsWriter.Serialize(tensors, metadata: null);
        Assert.DoesNotContain("__metadata__", Encoding.UTF8.GetString(file, 8, HeaderLength(file)));

        var read = CapsNetWeightsFile.Read(file, "paper-no-metadata.safetensors");
        Assert.Equal(CapsNetArchitecture.Paper, read.Architecture);
        AssertBitExact(weights, read);
    }

    [Fact]
    public void SafeTensorsFileReadsOnlyTheHeaderFromAStream()
    {
        byte[] file = CapsNetWeightsFile.Write(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1));
        using var stream = new MemoryStream(file);
        var layout = SafeTensorsFile.ReadHeader(stream, "tiny");
        Assert.Equal(8 + HeaderLength(file), stream.Position);
        Assert.Equal(file.Length, layout.FileLength);
        Assert.Equal(11, layout.Header.Entries.Count);
        Assert.Equal("[18,3,4,4]", layout.Header.Find(CapsNetArchitecture.DigitWeight)!.ShapeText);
        Assert.Null(layout.Header.Find("nope"));

        using var truncated = new MemoryStream(file, 0, file.Length - 1);
        Assert.Contains("end past the data area", Assert.Throws<WeightFormatException>(() => SafeTensorsFile.ReadHeader(truncated, "t")).Message);
    }

    [Fact]
    public void HeaderBytesAndDataLengthAloneGiveTheArchitecture()
    {
        // What the source generator does: no data area in memory, only the header and the file's length.
        byte[] file = CapsNetWeightsFile.Write(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1));
        int n = HeaderLength(file);
        var header = SafeTensorsHeader.Parse(file[8..(8 + n)], file.Length - 8 - n, "tiny.safetensors");
        Assert.Equal(CapsNetArchitecture.Tiny, CapsNetHeaderValidator.Validate(header, "tiny.safetensors"));
        Assert.True(header.HasMetadata);
        Assert.Equal("10", header.Metadata["capsnet.input_size"]);

        var e = Assert.Throws<WeightFormatException>(() => SafeTensorsHeader.Parse(file[8..(8 + n)], file.Length - 8 - n - 1, "short"));
        Assert.Equal("decoder.fc3.bias", e.TensorName);
    }

    [Fact]
    public void SaveIsAtomicAndLoadReadsItBack()
    {
        using var temp = new TempDirectory("capsnet-weights-");
        string directory = temp.Path;
        string path = Path.Combine(directory, "model.safetensors");
        var first = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1);
        CapsNetWeightsFile.Save(first, path);
        AssertBitExact(first, CapsNetWeightsFile.Load(path));

        var second = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 2);
        CapsNetWeightsFile.Save(second, path); // replaces the old file
        AssertBitExact(second, CapsNetWeightsFile.Load(path));
        Assert.Equal(CapsNetWeightsFile.Write(second), File.ReadAllBytes(path));

        // A save that fails while preparing the bytes leaves the old file as it was.
        var broken = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 3);
        broken.Metadata["bad"] = null!;
        Assert.Throws<ArgumentException>(() => CapsNetWeightsFile.Save(broken, path));
        AssertBitExact(second, CapsNetWeightsFile.Load(path));

        Assert.Equal(new[] { path }, Directory.GetFiles(directory)); // no temporary files left behind

        Assert.Throws<DirectoryNotFoundException>(() => CapsNetWeightsFile.Save(first, Path.Combine(directory, "missing", "m.safetensors")));
        Assert.Equal(new[] { path }, Directory.GetFiles(directory));
    }

    [Fact]
    public void LoadReportsAMissingFileAsSuchAndAGarbageFileAsAFormatError()
    {
        using var temp = new TempDirectory("capsnet-missing-");
        string path = temp.Combine("model.safetensors");
        Assert.Throws<FileNotFoundException>(() => CapsNetWeightsFile.Load(path));
        File.WriteAllText(path, "this is not a weight file");
        var e = Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Load(path));
        Assert.Equal(path, e.FileName);
        Assert.StartsWith(path + ": header length ", e.Message);
    }
}
