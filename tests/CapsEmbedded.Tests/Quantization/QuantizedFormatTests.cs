using System.Runtime.InteropServices;
using CapsEmbedded.Quantization;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Quantization;

/// <summary>The quantiser and the I8 weight format: round trips, and every bad file refused with file + tensor + problem.</summary>
public sealed class QuantizedFormatTests
{
    private const string FileName = "tiny.int8.safetensors";

    internal static QuantizedCapsNetWeights TinyQuantized(ulong seed = 3) => Quantized(CapsNetArchitecture.Tiny, seed);

    /// <summary>Random weights of <paramref name="a"/>, quantised with a clip of 1.5.</summary>
    internal static QuantizedCapsNetWeights Quantized(CapsNetArchitecture a, ulong seed)
        => Quantizer.Quantize(CapsNetWeights.CreateRandom(a, seed), clip: 1.5f, calibration: "test");

    [Fact]
    public void PerChannelQuantisation_UsesTheFullRangeAndRoundsToHalfAStep()
    {
        var random = new Random(7);
        const int outputs = 5, perChannel = 37;
        var w = new float[outputs * perChannel];
        for (int k = 0; k < w.Length; k++) w[k] = (float)(random.NextDouble() - 0.5) * (1 + k / perChannel); // channels of different ranges
        w.AsSpan(2 * perChannel, perChannel).Clear(); // an all-zero channel
        var q = new sbyte[w.Length];
        var scales = new float[outputs];
        Quantizer.QuantizePerChannel(w, outputs, q, scales);
        for (int o = 0; o < outputs; o++)
        {
            var channel = q.AsSpan(o * perChannel, perChannel);
            Assert.True(scales[o] > 0, $"scale {o} = {scales[o]}");
            if (o == 2)
            {
                Assert.Equal(1f, scales[o]);
                Assert.True(channel.IndexOfAnyExcept((sbyte)0) < 0);
                continue;
            }
            int maxQ = 0;
            foreach (sbyte v in channel) maxQ = Math.Max(maxQ, Math.Abs((int)v));
            Assert.Equal(127, maxQ); // s_w = max|w| / 127: the largest weight maps to ±127
            for (int k = 0; k < perChannel; k++)
                Assert.InRange(Math.Abs(q[o * perChannel + k] * scales[o] - w[o * perChannel + k]), 0, scales[o] / 2 * 1.0001);
        }
    }

    [Fact]
    public void QuantisedFile_RoundTripsBitForBit()
    {
        var original = TinyQuantized();
        byte[] bytes = QuantizedWeightsFile.Write(original);
        var read = QuantizedWeightsFile.Read(bytes, FileName);
        Assert.Equal(original.PrimaryWeight, read.PrimaryWeight);
        Assert.Equal(original.PrimaryWeightScale, read.PrimaryWeightScale);
        Assert.Equal(original.PrimaryInputScale, read.PrimaryInputScale);
        foreach (var spec in original.Architecture.Tensors) Assert.Equal(original.Weights[spec.Name], read.Weights[spec.Name]);
        Assert.Equal(QuantizedCapsNetWeights.Scheme, read.Metadata[QuantizedCapsNetWeights.SchemeKey]);
        Assert.Equal("test", read.Metadata[QuantizedCapsNetWeights.CalibrationKey]);
        Assert.Equal(bytes, QuantizedWeightsFile.Write(read)); // deterministic bytes
        var header = SafeTensorsFile.Parse(bytes, FileName).Header;
        Assert.Equal("I8", header.Find(CapsNetArchitecture.PrimaryWeight)!.DType);
        Assert.Equal(original.Architecture.Tensors.Count + 2, header.Entries.Count);
    }

    [Fact]
    public void FloatLoader_NamesAQuantisedFile()
    {
        byte[] bytes = QuantizedWeightsFile.Write(TinyQuantized());
        var e = Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Read(bytes, FileName));
        Assert.Contains("int8-quantised", e.Message);
        Assert.Contains(QuantizedCapsNetWeights.Scheme, e.Message);
        Assert.StartsWith(FileName, e.Message);
    }

    [Fact]
    public void CApiWeightLoad_RefusesAQuantisedFileAsAFormatError()
    {
        // The generated exports' weights_load goes through NativeApi.LoadWeightsFile: int8 is not wired there.
        string path = Path.Combine(Path.GetTempPath(), $"caps-int8-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, QuantizedWeightsFile.Write(TinyQuantized()));
        try
        {
            var e = Assert.Throws<WeightFormatException>(() => CapsEmbedded.Interop.NativeApi.LoadWeightsFile(path, CapsNetArchitecture.Tiny));
            Assert.Contains("int8-quantised weight file", e.Message);
            Assert.Equal(CapsEmbedded.Interop.NativeStatus.FormatError, CapsEmbedded.Interop.NativeApi.Fail("tiny_weights_load", e));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void QuantisedLoader_NamesAFloatFile()
    {
        byte[] bytes = CapsNetWeightsFile.Write(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1));
        var e = Assert.Throws<WeightFormatException>(() => QuantizedWeightsFile.Read(bytes, FileName));
        Assert.Contains("float32 weight file, not a quantised one", e.Message);
    }

    public static TheoryData<string, string?, string> BadFiles => new()
    {
        { "minus128", CapsNetArchitecture.PrimaryWeight, "is -128" },
        { "scale0", QuantizedCapsNetWeights.PrimaryWeightScaleName, "a scale must be greater than 0" },
        { "scaleNegative", QuantizedCapsNetWeights.PrimaryWeightScaleName, "a scale must be greater than 0" },
        { "scaleNaN", QuantizedCapsNetWeights.PrimaryWeightScaleName, "scales must be finite" },
        { "inputScaleInf", QuantizedCapsNetWeights.PrimaryInputScaleName, "scales must be finite" },
        { "inputScale0", QuantizedCapsNetWeights.PrimaryInputScaleName, "a scale must be greater than 0" },
        { "missingScale", QuantizedCapsNetWeights.PrimaryWeightScaleName, "missing" },
        { "missingInputScale", QuantizedCapsNetWeights.PrimaryInputScaleName, "missing" },
        { "scaleShape", QuantizedCapsNetWeights.PrimaryWeightScaleName, "does not match the architecture's" },
        { "weightShape", CapsNetArchitecture.PrimaryWeight, "does not match the architecture's" },
        { "weightF32", CapsNetArchitecture.PrimaryWeight, "must be I8" },
        { "conv1I8", CapsNetArchitecture.Conv1Weight, "must be F32" },
        { "extraTensor", "extra", "unknown tensor" },
        { "unknownScheme", null, "is not supported" },
        { "scaleKeyWrong", null, "does not match this scheme's tensor" },
        { "scaleKeyMissing", null, "is missing from __metadata__" },
        { "floatNaN", CapsNetArchitecture.DigitWeight, "weights must be finite" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void BadQuantisedFile_IsRefusedNamingFileTensorAndProblem(string defect, string? tensor, string problem)
    {
        var tensors = Tensors(TinyQuantized(), out var metadata);
        int Index(string name) => tensors.FindIndex(t => t.Name == name);
        void SetFloat(string name, int at, float value) =>
            BitConverter.TryWriteBytes(tensors[Index(name)].Data.AsSpan(4 * at), value);
        var a = CapsNetArchitecture.Tiny;
        switch (defect)
        {
            case "minus128": tensors[Index(CapsNetArchitecture.PrimaryWeight)].Data[5] = 0x80; break;
            case "scale0": SetFloat(QuantizedCapsNetWeights.PrimaryWeightScaleName, 3, 0f); break;
            case "scaleNegative": SetFloat(QuantizedCapsNetWeights.PrimaryWeightScaleName, 0, -0.01f); break;
            case "scaleNaN": SetFloat(QuantizedCapsNetWeights.PrimaryWeightScaleName, 1, float.NaN); break;
            case "inputScaleInf": SetFloat(QuantizedCapsNetWeights.PrimaryInputScaleName, 0, float.PositiveInfinity); break;
            case "inputScale0": SetFloat(QuantizedCapsNetWeights.PrimaryInputScaleName, 0, -0f); break;
            case "missingScale": tensors.RemoveAt(Index(QuantizedCapsNetWeights.PrimaryWeightScaleName)); break;
            case "missingInputScale": tensors.RemoveAt(Index(QuantizedCapsNetWeights.PrimaryInputScaleName)); break;
            case "scaleShape":
                tensors[Index(QuantizedCapsNetWeights.PrimaryWeightScaleName)] = (QuantizedCapsNetWeights.PrimaryWeightScaleName, "F32",
                    new long[] { a.PrimaryChannels - 1 }, Enumerable.Repeat(BitConverter.GetBytes(0.01f), a.PrimaryChannels - 1).SelectMany(b => b).ToArray());
                break;
            case "weightShape":
            {
                var t = tensors[Index(CapsNetArchitecture.PrimaryWeight)];
                tensors[Index(CapsNetArchitecture.PrimaryWeight)] = (t.Name, t.DType, new long[] { t.Data.Length }, t.Data);
                break;
            }
            case "weightF32":
            {
                var t = tensors[Index(CapsNetArchitecture.PrimaryWeight)];
                tensors[Index(CapsNetArchitecture.PrimaryWeight)] = (t.Name, "F32", t.Shape, new byte[t.Data.Length * 4]);
                break;
            }
            case "conv1I8":
            {
                var t = tensors[Index(CapsNetArchitecture.Conv1Weight)];
                tensors[Index(CapsNetArchitecture.Conv1Weight)] = (t.Name, "I8", t.Shape, new byte[t.Data.Length / 4]);
                break;
            }
            case "extraTensor": tensors.Add(("extra", "F32", new long[] { 1 }, new byte[4])); break;
            case "unknownScheme": metadata[QuantizedCapsNetWeights.SchemeKey] = "int4-magic"; break;
            case "scaleKeyWrong": metadata[QuantizedCapsNetWeights.WeightScalesKey] = CapsNetArchitecture.PrimaryBias; break;
            case "scaleKeyMissing": metadata.Remove(QuantizedCapsNetWeights.InputScalesKey); break;
            case "floatNaN": SetFloat(CapsNetArchitecture.DigitWeight, 7, float.NaN); break;
            default: throw new ArgumentException(defect);
        }
        byte[] bytes = SafeTensorsWriter.Serialize(tensors, metadata);
        var e = Assert.Throws<WeightFormatException>(() => QuantizedWeightsFile.Read(bytes, FileName));
        Assert.Equal(FileName, e.FileName);
        Assert.Equal(tensor, e.TensorName);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void BadQuantisedFile_FromDisk_IsRefusedBeforeTheDataIsUsed()
    {
        var tensors = Tensors(TinyQuantized(), out var metadata);
        tensors.RemoveAt(tensors.FindIndex(t => t.Name == QuantizedCapsNetWeights.PrimaryInputScaleName));
        string path = Path.Combine(Path.GetTempPath(), $"caps-int8-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, SafeTensorsWriter.Serialize(tensors, metadata));
        try
        {
            var e = Assert.Throws<WeightFormatException>(() => QuantizedWeightsFile.Load(path));
            Assert.Equal(QuantizedCapsNetWeights.PrimaryInputScaleName, e.TensorName);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The tensors of a valid file as an editable list (bytes copied out of the written file).</summary>
    private static List<(string Name, string DType, IReadOnlyList<long> Shape, byte[] Data)> Tensors(QuantizedCapsNetWeights weights,
        out Dictionary<string, string> metadata)
    {
        byte[] bytes = QuantizedWeightsFile.Write(weights);
        var file = SafeTensorsFile.Parse(bytes, FileName);
        metadata = new Dictionary<string, string>(file.Header.Metadata);
        var list = new List<(string, string, IReadOnlyList<long>, byte[])>();
        foreach (var e in file.Header.Entries) list.Add((e.Name, e.DType, e.Shape, file.GetBytes(bytes, e).ToArray()));
        return list;
    }
}
