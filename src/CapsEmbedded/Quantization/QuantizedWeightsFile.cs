using System.Buffers.Binary;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using CapsEmbedded.IO;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Quantization;

/// <summary>
/// Reads and writes <see cref="QuantizedCapsNetWeights"/> as safetensors: the float file's tensors with
/// primary_caps.weight stored as <c>I8</c> [out][in][kh][kw], plus F32 <c>primary_caps.weight_scale</c> [out] and
/// <c>primary_caps.input_scale</c> [1]; <c>__metadata__</c> holds the architecture and <c>capsnet.quantization*</c>
/// (scheme and the names of the int8 and scale tensors). Reading checks everything before handing out a number: for any
/// bytes it returns weights or throws <see cref="WeightFormatException"/> naming file, tensor and problem.
/// </summary>
public static class QuantizedWeightsFile
{
    /// <summary>The safetensors dtype of the int8 tensors (the header reader knows every dtype of the format).</summary>
    public const string I8 = QuantizedHeaderValidator.I8;

    /// <summary>Whether a parsed header says it is a quantised file (has <c>capsnet.quantization</c>).</summary>
    public static bool IsQuantized(SafeTensorsHeader header) => QuantizedHeaderValidator.IsQuantized(header);

    /// <summary>Reads the quantised weight file at <paramref name="path"/> (header checked before the data is read).</summary>
    /// <exception cref="WeightFormatException">The file is not a valid quantised CapsNet file.</exception>
    public static QuantizedCapsNetWeights Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = InputFile.OpenRead(path, Array.MaxLength, "weight file");
        Validate(SafeTensorsFile.ReadHeader(stream, path).Header, path);
        var file = new byte[stream.Length];
        stream.Position = 0;
        stream.ReadExactly(file);
        return Read(file, path);
    }

    /// <summary>
    /// The architecture of a quantised file's header, after checking its metadata, tensor names, dtypes and shapes
    /// (values are checked by <see cref="Read"/>).
    /// </summary>
    /// <exception cref="WeightFormatException">Anything does not fit; the message names the tensor or key.</exception>
    public static CapsNetArchitecture Validate(SafeTensorsHeader header, string fileName) => QuantizedHeaderValidator.Validate(header, fileName);

    /// <summary>Validates a whole quantised file held in memory and copies its tensors out.</summary>
    /// <exception cref="WeightFormatException">Anything about the bytes is invalid; the message names file and tensor.</exception>
    public static QuantizedCapsNetWeights Read(ReadOnlySpan<byte> file, string fileName)
    {
        var layout = SafeTensorsFile.Parse(file, fileName);
        var architecture = Validate(layout.Header, fileName);
        var weights = new CapsNetWeights(architecture, layout.Header.Metadata);
        foreach (var spec in architecture.Tensors)
        {
            if (spec.Name == CapsNetArchitecture.PrimaryWeight) continue;
            ReadFloats(layout.GetBytes(file, layout.Header.Find(spec.Name)!), weights[spec.Name], spec.Name, fileName, scale: false);
        }
        var q = MemoryMarshal.Cast<byte, sbyte>(layout.GetBytes(file, layout.Header.Find(CapsNetArchitecture.PrimaryWeight)!)).ToArray();
        int bad = q.AsSpan().IndexOf((sbyte)-128);
        if (bad >= 0)
            throw new WeightFormatException(fileName, CapsNetArchitecture.PrimaryWeight,
                $"value {bad} is -128; the scheme is symmetric, int8 weights lie in [-127, 127]");
        var weightScale = new float[architecture.PrimaryChannels];
        ReadFloats(layout.GetBytes(file, layout.Header.Find(QuantizedCapsNetWeights.PrimaryWeightScaleName)!), weightScale, QuantizedCapsNetWeights.PrimaryWeightScaleName, fileName, scale: true);
        var inputScale = new float[1];
        ReadFloats(layout.GetBytes(file, layout.Header.Find(QuantizedCapsNetWeights.PrimaryInputScaleName)!), inputScale, QuantizedCapsNetWeights.PrimaryInputScaleName, fileName, scale: true);
        return new QuantizedCapsNetWeights(weights, q, weightScale, inputScale[0]);
    }

    /// <summary>
    /// Reads the quantised file embedded as <paramref name="resourceName"/> in <paramref name="assembly"/> (by
    /// CapsEmbedded.Generator.targets for a generated int8 model), checking it is the file the model was generated from.
    /// </summary>
    /// <exception cref="WeightFormatException">The resource has another length or is not a valid quantised file.</exception>
    public static unsafe QuantizedCapsNetWeights ReadEmbedded(Assembly assembly, string resourceName, long expectedFileLength)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        using var stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"the weight file resource '{resourceName}' is missing from assembly {assembly.GetName().Name}");
        if (stream.Length != expectedFileLength)
            throw new WeightFormatException(resourceName, null, $"the embedded file has {stream.Length} bytes; the model was generated from one of {expectedFileLength}");
        if (expectedFileLength > Array.MaxLength)
            throw new WeightFormatException(resourceName, null, $"{expectedFileLength} bytes is more than the supported 2 GB");
        if (stream is UnmanagedMemoryStream unmanaged) return Read(new ReadOnlySpan<byte>(unmanaged.PositionPointer, (int)expectedFileLength), resourceName);
        var copy = new byte[expectedFileLength];
        stream.ReadExactly(copy);
        return Read(copy, resourceName);
    }

    /// <summary>Writes the file atomically (<see cref="AtomicFile"/>).</summary>
    public static void Save(QuantizedCapsNetWeights weights, string path)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(path);
        AtomicFile.Write(path, Write(weights));
    }

    /// <summary>The file's bytes: the tensors in <see cref="CapsNetArchitecture.Tensors"/> order, then the two scale tensors.</summary>
    public static byte[] Write(QuantizedCapsNetWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var a = weights.Architecture;
        var tensors = new List<(string Name, string DType, IReadOnlyList<long> Shape, byte[] Data)>();
        foreach (var spec in a.Tensors)
        {
            long[] shape = spec.Shape.Select(d => (long)d).ToArray();
            tensors.Add(spec.Name == CapsNetArchitecture.PrimaryWeight
                ? (spec.Name, I8, shape, MemoryMarshal.AsBytes(weights.PrimaryWeight.AsSpan()).ToArray())
                : (spec.Name, SafeTensorsDType.F32, shape, FloatBytes(weights.Weights[spec.Name])));
        }
        tensors.Add((QuantizedCapsNetWeights.PrimaryWeightScaleName, SafeTensorsDType.F32, new long[] { a.PrimaryChannels }, FloatBytes(weights.PrimaryWeightScale)));
        tensors.Add((QuantizedCapsNetWeights.PrimaryInputScaleName, SafeTensorsDType.F32, new long[] { 1 }, FloatBytes(new[] { weights.PrimaryInputScale })));
        var metadata = new Dictionary<string, string>(weights.Metadata, StringComparer.Ordinal);
        foreach (var (key, value) in a.ToMetadata()) metadata[key] = value;
        return SafeTensorsWriter.Serialize(tensors, metadata);
    }

    private static void ReadFloats(ReadOnlySpan<byte> source, Span<float> destination, string name, string fileName, bool scale)
    {
        for (int k = 0; k < destination.Length; k++)
            destination[k] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadInt32LittleEndian(source[(4 * k)..]));
        if (CapsNetWeights.IndexOfNonFinite(destination) is var bad and >= 0)
            throw new WeightFormatException(fileName, name, $"value {bad} is {Text(destination[bad])}; {(scale ? "scales" : "weights")} must be finite numbers");
        if (!scale) return;
        for (int k = 0; k < destination.Length; k++)
            if (!(destination[k] > 0f))
                throw new WeightFormatException(fileName, name, $"value {k} is {Text(destination[k])}; a scale must be greater than 0");
    }

    private static byte[] FloatBytes(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (int k = 0; k < values.Length; k++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * k), BitConverter.SingleToInt32Bits(values[k]));
        return bytes;
    }

    private static string Text(float value) => value.ToString(CultureInfo.InvariantCulture);
}
