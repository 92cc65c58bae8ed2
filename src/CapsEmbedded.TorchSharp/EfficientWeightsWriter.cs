using System.Buffers.Binary;
using System.Globalization;
using CapsEmbedded.IO;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// The Efficient-CapsNet weight file of the agreed spec (docs/TORCHSHARP.md): tensor names and PyTorch layouts,
/// <c>capsnet.family = "efficient"</c> and the <c>capsnet.*</c> sizes of the MNIST network, written with the project's
/// safetensors writer. The one place that knows the format on this side; when the typed API
/// (EfficientCapsNetArchitecture / EfficientCapsNetWeightsFile) lands, <see cref="Save"/> becomes a call to it.
/// </summary>
public static class EfficientWeightsWriter
{
    public const int InputSize = 28, InputChannels = 1, PrimaryKernel = 9, PrimaryCapsules = 16, PrimaryDims = 8,
        Classes = 10, ClassDims = 16, DecoderHidden1 = 512, DecoderHidden2 = 1024;
    public static readonly int[] StemChannels = [32, 64, 64, 128], StemKernels = [5, 3, 3, 3], StemStrides = [1, 1, 1, 2];
    /// <summary>Batch-norm ε: the Keras default the authors trained with.</summary>
    public const double BatchNormEps = 1e-3;
    public const string FamilyKey = "capsnet.family", Family = "efficient";

    /// <summary>Every tensor of the file in the spec table's order: name, shape, and whether it is trained (not a batch-norm running statistic).</summary>
    public static IReadOnlyList<(string Name, long[] Shape, bool Trained)> Tensors { get; } = BuildTensors();

    private static List<(string, long[], bool)> BuildTensors()
    {
        var list = new List<(string, long[], bool)>();
        int channels = InputChannels;
        for (int k = 0; k < StemChannels.Length; k++)
        {
            long c = StemChannels[k];
            list.Add(($"stem.{k}.conv.weight", [c, channels, StemKernels[k], StemKernels[k]], true));
            list.Add(($"stem.{k}.conv.bias", [c], true));
            list.Add(($"stem.{k}.bn.weight", [c], true));
            list.Add(($"stem.{k}.bn.bias", [c], true));
            list.Add(($"stem.{k}.bn.running_mean", [c], false));
            list.Add(($"stem.{k}.bn.running_var", [c], false));
            channels = StemChannels[k];
        }
        list.Add(("primary_caps.weight", [channels, 1, PrimaryKernel, PrimaryKernel], true));
        list.Add(("primary_caps.bias", [channels], true));
        list.Add(("digit_caps.weight", [Classes, PrimaryCapsules, PrimaryDims, ClassDims], true));
        list.Add(("digit_caps.bias", [Classes, PrimaryCapsules], true));
        list.Add(("decoder.fc1.weight", [DecoderHidden1, Classes * ClassDims], true));
        list.Add(("decoder.fc1.bias", [DecoderHidden1], true));
        list.Add(("decoder.fc2.weight", [DecoderHidden2, DecoderHidden1], true));
        list.Add(("decoder.fc2.bias", [DecoderHidden2], true));
        list.Add(("decoder.fc3.weight", [InputSize * InputSize * InputChannels, DecoderHidden2], true));
        list.Add(("decoder.fc3.bias", [InputSize * InputSize * InputChannels], true));
        return list;
    }

    /// <summary>
    /// The <c>capsnet.*</c> architecture metadata (family, sizes, batch-norm ε): the typed API's, of
    /// <see cref="EfficientCapsNetArchitecture.Mnist"/>, whose sizes are this class's constants.
    /// </summary>
    public static Dictionary<string, string> ArchitectureMetadata() => EfficientCapsNetArchitecture.Mnist.ToMetadata();

    /// <summary>
    /// The tensors of an exported Efficient-CapsNet weight file as this tool's module takes them (<c>eval</c>, <c>train
    /// --init-from</c>): the runtime's reader (F32, F16 or BF16 widened to float32; every tensor's name, dtype and shape
    /// checked, values finite, no negative running variance, PyTorch's I64 batch counters skipped), the MNIST network only.
    /// Every problem is a <see cref="WeightFormatException"/> naming the file; a training checkpoint is named as one.
    /// </summary>
    public static Dictionary<string, float[]> LoadWeightFile(string path)
    {
        if (File.Exists(path) && TrainingCheckpoint.IsCheckpoint(SafeTensorsFile.ReadHeader(path).Header.Metadata))
            throw new WeightFormatException(path, null, "a training checkpoint, not a weight file: write its weights with capsnet-torch export (or continue its run with --resume --checkpoint)");
        var weights = EfficientCapsNetWeightsFile.Load(path);
        if (!weights.Architecture.Equals(EfficientCapsNetArchitecture.Mnist))
            throw new WeightFormatException(path, null, $"holds the Efficient-CapsNet {weights.Architecture}; capsnet-torch runs only {EfficientCapsNetArchitecture.Mnist}");
        return Tensors.ToDictionary(t => t.Name, t => weights[t.Name], StringComparer.Ordinal);
    }

    /// <summary>Writes <paramref name="tensors"/> (name → float32 values, every spec tensor) as an F32 weight file with the
    /// architecture metadata and <paramref name="metadata"/> (provenance), atomically.</summary>
    public static void Save(IReadOnlyDictionary<string, float[]> tensors, IReadOnlyDictionary<string, string> metadata, string path) =>
        AtomicFile.Write(path, Serialize(tensors, metadata));

    /// <summary>F32 safetensors bytes of named tensors: every spec tensor, and any Adam moment <c>adam.m.NAME</c>/<c>adam.v.NAME</c>
    /// of one, each of its spec shape; metadata = the architecture's plus <paramref name="metadata"/>.</summary>
    internal static byte[] Serialize(IReadOnlyDictionary<string, float[]> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var shapes = Tensors.ToDictionary(t => t.Name, t => t.Shape, StringComparer.Ordinal);
        var list = new List<(string Name, string DType, IReadOnlyList<long> Shape, byte[] Data)>();
        foreach (var (name, _, _) in Tensors)
            if (!tensors.ContainsKey(name)) throw new ArgumentException($"tensor {name} is missing");
        foreach (var (name, values) in tensors)
        {
            string specName = name[(name.StartsWith("adam.", StringComparison.Ordinal) ? "adam.m.".Length : 0)..];
            long[] shape = shapes.TryGetValue(specName, out var s) ? s : throw new ArgumentException($"{name} is not a tensor of the Efficient-CapsNet format");
            if (shape.Aggregate(1L, (a, b) => a * b) != values.Length)
                throw new ArgumentException($"tensor {name} has {values.Length} values, its shape [{string.Join(",", shape)}] holds {shape.Aggregate(1L, (a, b) => a * b)}");
            var bytes = new byte[values.Length * 4];
            for (int k = 0; k < values.Length; k++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * k), values[k]);
            list.Add((name, SafeTensorsDType.F32, shape, bytes));
        }
        var all = ArchitectureMetadata();
        foreach (var (key, value) in metadata) all[key] = value;
        return SafeTensorsWriter.Serialize(list, all);
    }

    /// <summary>The F32 tensors and metadata of a file written by <see cref="Serialize"/>: the architecture metadata must be this
    /// network's, every spec tensor present, every tensor (moments by their parameter) of its spec shape and finite; every
    /// problem is a <see cref="WeightFormatException"/> naming the file.</summary>
    internal static (Dictionary<string, float[]> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(byte[] file, string path)
    {
        var parsed = SafeTensorsFile.Parse(file, path);
        var meta = parsed.Header.Metadata;
        if (!meta.TryGetValue(FamilyKey, out var family) || family != Family)
            throw new WeightFormatException(path, null, $"metadata {FamilyKey} is \"{UntrustedText.Quote(family ?? "")}\", not \"{Family}\": not an Efficient-CapsNet file");
        foreach (var (key, value) in ArchitectureMetadata())
            if (!meta.TryGetValue(key, out var found) || found != value)
                throw new WeightFormatException(path, null, $"metadata {key} = \"{UntrustedText.Quote(found ?? "(missing)")}\", this tool trains only \"{value}\"");
        var shapes = Tensors.ToDictionary(t => t.Name, t => t.Shape, StringComparer.Ordinal);
        var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var entry in parsed.Header.Entries)
        {
            if (entry.DType != SafeTensorsDType.F32) throw new WeightFormatException(path, entry.Name, $"dtype {entry.DType}, expected F32");
            string specName = entry.Name[(entry.Name.StartsWith("adam.", StringComparison.Ordinal) ? "adam.m.".Length : 0)..];
            if (!shapes.TryGetValue(specName, out var shape)) throw new WeightFormatException(path, entry.Name, "not a tensor of the Efficient-CapsNet format");
            if (!entry.Shape.SequenceEqual(shape)) throw new WeightFormatException(path, entry.Name, $"shape {entry.ShapeText}, expected [{string.Join(",", shape)}]");
            var bytes = parsed.GetBytes(file, entry);
            var values = new float[entry.ElementCount];
            for (int k = 0; k < values.Length; k++) values[k] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(4 * k));
            if (CapsNetWeights.IndexOfNonFinite(values) is var bad and >= 0)
                throw new WeightFormatException(path, entry.Name, $"value {bad} is {values[bad].ToString(CultureInfo.InvariantCulture)}; finite numbers only");
            result[entry.Name] = values;
        }
        foreach (var (name, _, _) in Tensors)
            if (!result.ContainsKey(name)) throw new WeightFormatException(path, name, "missing");
        return (result, meta);
    }
}
