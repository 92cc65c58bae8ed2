using CapsEmbedded.IO;

namespace CapsEmbedded.Weights;

/// <summary>
/// Reads and writes <see cref="CapsNetWeights"/> as safetensors files: F32, F16 or BF16 tensors (widened to float32
/// when read; see <see cref="WeightPrecision"/>) in PyTorch layouts, the
/// architecture as <c>capsnet.*</c> metadata. Reading checks everything before handing out a number: for any
/// byte sequence, <see cref="Read"/> either returns weights or throws <see cref="WeightFormatException"/>.
/// </summary>
public static class CapsNetWeightsFile
{
    /// <summary>Reads the weight file at <paramref name="path"/>.</summary>
    /// <exception cref="WeightFormatException">The file is not a valid CapsNet weight file.</exception>
    /// <exception cref="IOException">The file cannot be read: <see cref="FileNotFoundException"/>,
    /// <see cref="DirectoryNotFoundException"/>, ... pass through unchanged, since they are not format problems.</exception>
    public static CapsNetWeights Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        // stat first (no FIFO, device or directory), then the header and architecture alone: a 2 GB file whose header
        // is wrong fails after a few kilobytes. Only then is the whole file read.
        using var stream = InputFile.OpenRead(path, Array.MaxLength, "weight file");
        CapsNetHeaderValidator.Validate(SafeTensorsFile.ReadHeader(stream, path).Header, path);
        var file = new byte[stream.Length];
        stream.Position = 0;
        stream.ReadExactly(file);
        return Read(file, path);
    }

    /// <summary>
    /// Validates a whole weight file held in memory and copies its tensors out. Policy: a NaN or ±Inf anywhere is
    /// refused (naming the tensor and the index), since it makes every output NaN and so every answer "class 0";
    /// <paramref name="requireFinite"/> = false keeps the bits as they are, for tools that inspect or convert files.
    /// </summary>
    /// <param name="file">The file's bytes.</param>
    /// <param name="fileName">Named in error messages.</param>
    /// <param name="requireFinite">Refuse non-finite values (the default).</param>
    /// <exception cref="WeightFormatException">Anything about the bytes is invalid; the message names file and tensor.</exception>
    public static CapsNetWeights Read(ReadOnlySpan<byte> file, string fileName, bool requireFinite = true)
    {
        var layout = SafeTensorsFile.Parse(file, fileName);
        var architecture = CapsNetHeaderValidator.Validate(layout.Header, fileName);
        var weights = new CapsNetWeights(architecture, layout.Header.Metadata);
        foreach (var spec in architecture.Tensors)
        {
            float[] tensor = weights[spec.Name];
            var entry = layout.Header.Find(spec.Name)!;
            WeightPrecision.Widen(layout.GetBytes(file, entry), entry.DType, tensor); // F16/BF16 widen exactly to float32
            if (requireFinite && CapsNetWeights.IndexOfNonFinite(tensor) is var bad and >= 0)
                throw new WeightFormatException(fileName, spec.Name,
                    $"value {bad} is {tensor[bad].ToString(System.Globalization.CultureInfo.InvariantCulture)}; weights must be finite numbers");
        }
        return weights;
    }

    /// <summary>
    /// Writes the file to <paramref name="path"/> with <see cref="AtomicFile"/>: a crash leaves either the old file or
    /// the new one, and a device or FIFO is written through, never replaced.
    /// </summary>
    public static void Save(CapsNetWeights weights, string path)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(path);
        AtomicFile.Write(path, Write(weights));
    }

    /// <summary>
    /// The file's bytes: tensors in <see cref="CapsNetArchitecture.Tensors"/> order, back to back, as raw
    /// little-endian float bits (NaN payloads and −0 survive); metadata sorted by key, with the
    /// <c>capsnet.*</c> keys taken from the architecture so the file always describes itself.
    /// </summary>
    public static byte[] Write(CapsNetWeights weights) => Write(weights, SafeTensorsDType.F32);

    /// <summary>
    /// The file's bytes with every tensor stored as <paramref name="dtype"/> (F32, F16 or BF16; narrowing rounds to
    /// nearest, ties to even). Class names in the metadata are checked against the architecture first.
    /// </summary>
    /// <exception cref="WeightFormatException">A value overflows <paramref name="dtype"/> (named with its tensor), or the
    /// class names are malformed.</exception>
    /// <param name="weights">The weights to write.</param>
    /// <param name="dtype">F32, F16 or BF16.</param>
    /// <param name="source">Names the weights in error messages (e.g. the file they were read from).</param>
    public static byte[] Write(CapsNetWeights weights, string dtype, string source = "weights")
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(dtype);
        int elementBytes = WeightPrecision.BytesPerElement(dtype);
        if (elementBytes == 0) throw new ArgumentException($"dtype {dtype} is not a weight precision (F32, F16, BF16)", nameof(dtype));
        var architecture = weights.Architecture;
        CapsNetClassNames.Read(weights.Metadata, architecture.Classes, source); // never write a file the reader refuses
        var specs = architecture.Tensors;
        var entries = SafeTensorsWriter.LayOut(specs.Select(s =>
            (s.Name, dtype, (IReadOnlyList<long>)s.Shape.Select(d => (long)d).ToArray())));
        var metadata = new Dictionary<string, string>(weights.Metadata, StringComparer.Ordinal);
        foreach (var (key, value) in architecture.ToMetadata()) metadata[key] = value;
        byte[] header = SafeTensorsWriter.EncodeHeader(entries, metadata);

        long dataLength = entries[^1].End;
        long total = SafeTensorsFile.LengthFieldSize + header.Length + dataLength;
        if (total > Array.MaxLength) throw new InvalidOperationException($"the weights need {total} bytes, more than one file buffer can hold");
        var file = new byte[total];
        SafeTensorsWriter.WritePrefix(file, header);
        var data = file.AsSpan(SafeTensorsFile.LengthFieldSize + header.Length);
        for (int k = 0; k < specs.Count; k++)
        {
            float[] tensor = weights[specs[k].Name];
            if (tensor.Length != entries[k].ElementCount)
                throw new InvalidOperationException($"tensor '{specs[k].Name}' has {tensor.Length} values; its shape {specs[k].ShapeText} needs {entries[k].ElementCount}");
            WeightPrecision.Narrow(tensor, dtype, data.Slice((int)entries[k].Begin, (int)entries[k].ByteLength), source, specs[k].Name);
        }
        return file;
    }
}
