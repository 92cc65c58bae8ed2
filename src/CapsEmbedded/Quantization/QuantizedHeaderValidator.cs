// This file is also compiled into the source generator (netstandard2.0): keep it free of
// APIs newer than netstandard2.0.
using System;
using System.Collections.Generic;
using System.Globalization;
using CapsEmbedded.IO;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Quantization;

/// <summary>
/// Checks that a safetensors header holds exactly a quantised CapsNet (scheme <see cref="Scheme"/>): the
/// <c>capsnet.quantization*</c> metadata, every float tensor as F32, primary_caps.weight as <see cref="I8"/>, the two F32
/// scale tensors, each with its exact shape, and nothing else. Shared by <see cref="QuantizedWeightsFile"/> and the
/// generator, so both name a bad file's problem in the same words. Values are checked when the data is read.
/// </summary>
public static class QuantizedHeaderValidator
{
    /// <summary>The safetensors dtype of the int8 tensors.</summary>
    public const string I8 = "I8";

    /// <summary>The <c>capsnet.quantization</c> value: symmetric int8 weights per output channel, unsigned 7-bit activations.</summary>
    public const string Scheme = "int8-sym-per-channel-u7";

    public const string PrimaryWeightScaleName = "primary_caps.weight_scale";
    public const string PrimaryInputScaleName = "primary_caps.input_scale";

    public const string SchemeKey = CapsNetArchitecture.MetadataPrefix + "quantization";
    public const string WeightsKey = SchemeKey + ".weights";
    public const string WeightScalesKey = SchemeKey + ".weight_scales";
    public const string InputScalesKey = SchemeKey + ".input_scales";

    /// <summary>Whether a parsed header says it is a quantised file (has <c>capsnet.quantization</c>).</summary>
    public static bool IsQuantized(SafeTensorsHeader header)
    {
        if (header is null) throw new ArgumentNullException(nameof(header));
        return header.Metadata.ContainsKey(SchemeKey);
    }

    /// <summary>The architecture of a quantised file's header, after checking its metadata, tensor names, dtypes and shapes.</summary>
    /// <exception cref="WeightFormatException">Anything does not fit; the message names the tensor or key.</exception>
    public static CapsNetArchitecture Validate(SafeTensorsHeader header, string fileName)
    {
        if (header is null) throw new ArgumentNullException(nameof(header));
        var metadata = header.Metadata;
        if (!metadata.TryGetValue(SchemeKey, out string? scheme))
            throw new WeightFormatException(fileName, null, "no " + SchemeKey + " in " + SafeTensorsHeader.MetadataKey
                + ": this is a float32 weight file, not a quantised one (make one with capsnet quantize)");
        if (scheme != Scheme)
            throw new WeightFormatException(fileName, null, SchemeKey + " = \"" + UntrustedText.Quote(scheme)
                + "\" is not supported; the only scheme is \"" + Scheme + "\"");
        RequireMetadata(metadata, WeightsKey, CapsNetArchitecture.PrimaryWeight, fileName);
        RequireMetadata(metadata, WeightScalesKey, PrimaryWeightScaleName, fileName);
        RequireMetadata(metadata, InputScalesKey, PrimaryInputScaleName, fileName);

        var architecture = CapsNetArchitecture.FromMetadata(metadata, out string? error)
            ?? throw new WeightFormatException(fileName, null, "invalid CapsNet architecture in " + SafeTensorsHeader.MetadataKey + ": " + error);
        var expected = ExpectedTensors(architecture);
        foreach (var entry in header.Entries)
            if (!Contains(expected, entry.Name))
                throw new WeightFormatException(fileName, entry.Name, "unknown tensor; a quantised CapsNet has exactly "
                    + string.Join(", ", Names(expected)));
        foreach (var (name, dtype, shape) in expected)
        {
            var entry = header.Find(name)
                ?? throw new WeightFormatException(fileName, name, "missing; the quantised architecture needs it as " + dtype + " " + ShapeText(shape));
            if (entry.DType != dtype)
                throw new WeightFormatException(fileName, name, "dtype " + entry.DType + " is not supported here; this tensor must be " + dtype);
            if (!SameShape(entry.Shape, shape))
                throw new WeightFormatException(fileName, name, "shape " + entry.ShapeText + " does not match the architecture's " + ShapeText(shape));
        }
        CapsNetClassNames.Read(metadata, architecture.Classes, fileName); // optional; refused when malformed
        return architecture;
    }

    /// <summary>Every tensor of a quantised file, in file order: the architecture's tensors, then the two scales.</summary>
    private static List<(string Name, string DType, long[] Shape)> ExpectedTensors(CapsNetArchitecture a)
    {
        var expected = new List<(string, string, long[])>();
        foreach (var spec in a.Tensors)
        {
            var shape = new long[spec.Shape.Count];
            for (int k = 0; k < shape.Length; k++) shape[k] = spec.Shape[k];
            expected.Add((spec.Name, spec.Name == CapsNetArchitecture.PrimaryWeight ? I8 : SafeTensorsDType.F32, shape));
        }
        expected.Add((PrimaryWeightScaleName, SafeTensorsDType.F32, new long[] { a.PrimaryChannels }));
        expected.Add((PrimaryInputScaleName, SafeTensorsDType.F32, new long[] { 1 }));
        return expected;
    }

    private static bool Contains(List<(string Name, string DType, long[] Shape)> expected, string name)
    {
        foreach (var e in expected)
            if (e.Name == name) return true;
        return false;
    }

    private static IEnumerable<string> Names(List<(string Name, string DType, long[] Shape)> expected)
    {
        foreach (var e in expected) yield return e.Name;
    }

    private static bool SameShape(IReadOnlyList<long> actual, long[] expected)
    {
        if (actual.Count != expected.Length) return false;
        for (int k = 0; k < expected.Length; k++)
            if (actual[k] != expected[k]) return false;
        return true;
    }

    private static void RequireMetadata(IReadOnlyDictionary<string, string> metadata, string key, string value, string fileName)
    {
        if (!metadata.TryGetValue(key, out string? actual))
            throw new WeightFormatException(fileName, null, key + " is missing from " + SafeTensorsHeader.MetadataKey + "; the scheme needs it = \"" + value + "\"");
        if (actual != value)
            throw new WeightFormatException(fileName, null, key + " = \"" + UntrustedText.Quote(actual) + "\" does not match this scheme's tensor \"" + value + "\"");
    }

    private static string ShapeText(long[] shape)
    {
        var parts = new string[shape.Length];
        for (int k = 0; k < shape.Length; k++) parts[k] = shape[k].ToString(CultureInfo.InvariantCulture);
        return "[" + string.Join(",", parts) + "]";
    }
}
