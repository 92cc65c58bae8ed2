using System.Globalization;
using CapsEmbedded.IO;

namespace CapsEmbedded.Weights;

/// <summary>
/// What every float weight file shares, whatever its family (<see cref="CapsNetWeightsFile"/>,
/// <see cref="EfficientCapsNetWeightsFile"/>): reading a file whose header is checked before the rest is read, widening
/// its F32/F16/BF16 tensors to float32 with the finiteness check, and writing tensors in one precision.
/// </summary>
internal static class FloatTensorFile
{
    /// <summary>
    /// The bytes of the file at <paramref name="path"/>: stat first (no FIFO, device or directory), then the header alone
    /// through <paramref name="validateHeader"/>, so a 2 GB file whose header is wrong fails after a few kilobytes; only
    /// then is the whole file read.
    /// </summary>
    public static byte[] ReadAll(string path, Action<SafeTensorsHeader> validateHeader)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = InputFile.OpenRead(path, Array.MaxLength, "weight file");
        validateHeader(SafeTensorsFile.ReadHeader(stream, path).Header);
        var file = new byte[stream.Length];
        stream.Position = 0;
        stream.ReadExactly(file);
        return file;
    }

    /// <summary>
    /// Widens each tensor of <paramref name="specs"/> (validated in <paramref name="layout"/>'s header) into
    /// <paramref name="target"/>(name); F16/BF16 widen exactly. With <paramref name="requireFinite"/> a NaN or ±Inf is
    /// refused, naming the tensor and the index.
    /// </summary>
    public static void Widen(ReadOnlySpan<byte> file, SafeTensorsFile layout, IReadOnlyList<TensorSpec> specs,
        Func<string, float[]> target, bool requireFinite)
    {
        foreach (var spec in specs)
        {
            float[] tensor = target(spec.Name);
            var entry = layout.Header.Find(spec.Name)!;
            WeightPrecision.Widen(layout.GetBytes(file, entry), entry.DType, tensor);
            if (requireFinite && CapsNetWeights.IndexOfNonFinite(tensor) is var bad and >= 0)
                throw new WeightFormatException(layout.FileName, spec.Name,
                    $"value {bad} is {tensor[bad].ToString(CultureInfo.InvariantCulture)}; weights must be finite numbers");
        }
    }

    /// <summary>
    /// A whole file: the tensors of <paramref name="specs"/> in that order, back to back, each narrowed to
    /// <paramref name="dtype"/> (round to nearest, ties to even; raw bits for F32, so NaN payloads and −0 survive);
    /// <paramref name="metadata"/> with <paramref name="architectureMetadata"/> over it, so the file always describes
    /// itself, sorted by key. Class names are checked first: never write a file the reader refuses.
    /// </summary>
    /// <exception cref="WeightFormatException">A value overflows <paramref name="dtype"/> (named with its tensor), or the
    /// class names are malformed.</exception>
    public static byte[] Write(IReadOnlyList<TensorSpec> specs, Func<string, float[]> tensorOf,
        IReadOnlyDictionary<string, string> metadata, IReadOnlyDictionary<string, string> architectureMetadata, int classes,
        string dtype, string source)
    {
        ArgumentNullException.ThrowIfNull(dtype);
        if (WeightPrecision.BytesPerElement(dtype) == 0)
            throw new ArgumentException($"dtype {dtype} is not a weight precision (F32, F16, BF16)", nameof(dtype));
        CapsNetClassNames.Read(metadata, classes, source);
        var merged = new Dictionary<string, string>(metadata, StringComparer.Ordinal);
        foreach (var (key, value) in architectureMetadata) merged[key] = value;
        var entries = SafeTensorsWriter.LayOut(specs.Select(s =>
            (s.Name, dtype, (IReadOnlyList<long>)s.Shape.Select(d => (long)d).ToArray())));
        byte[] header = SafeTensorsWriter.EncodeHeader(entries, merged);

        long dataLength = entries[^1].End;
        long total = SafeTensorsFile.LengthFieldSize + header.Length + dataLength;
        if (total > Array.MaxLength) throw new InvalidOperationException($"the weights need {total} bytes, more than one file buffer can hold");
        var file = new byte[total];
        SafeTensorsWriter.WritePrefix(file, header);
        var data = file.AsSpan(SafeTensorsFile.LengthFieldSize + header.Length);
        for (int k = 0; k < specs.Count; k++)
        {
            float[] tensor = tensorOf(specs[k].Name);
            if (tensor.Length != entries[k].ElementCount)
                throw new InvalidOperationException($"tensor '{specs[k].Name}' has {tensor.Length} values; its shape {specs[k].ShapeText} needs {entries[k].ElementCount}");
            WeightPrecision.Narrow(tensor, dtype, data.Slice((int)entries[k].Begin, (int)entries[k].ByteLength), source, specs[k].Name);
        }
        return file;
    }
}
