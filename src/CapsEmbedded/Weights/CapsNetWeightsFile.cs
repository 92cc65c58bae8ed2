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
        byte[] file = FloatTensorFile.ReadAll(path, header => ValidateHeader(header, path));
        return Read(file, path);
    }

    /// <summary>The architecture a weight file's header names, validated as <see cref="Load"/> validates it; no tensor is read.</summary>
    /// <exception cref="WeightFormatException">The header is not a valid CapsNet weight file's.</exception>
    public static CapsNetArchitecture ArchitectureOf(string path) => ValidateHeader(SafeTensorsFile.ReadHeader(path).Header, path);

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
        var weights = new CapsNetWeights(ValidateHeader(layout.Header, fileName), layout.Header.Metadata);
        FloatTensorFile.Widen(file, layout, weights.Architecture.Tensors, name => weights[name], requireFinite);
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
        var architecture = weights.Architecture;
        return FloatTensorFile.Write(architecture.Tensors, name => weights[name], weights.Metadata, architecture.ToMetadata(),
            architecture.Classes, dtype, source);
    }

    // The paper's header checks, after refusing a file of another family with a message that says what it is.
    private static CapsNetArchitecture ValidateHeader(SafeTensorsHeader header, string fileName)
    {
        if (CapsNetFamily.Of(header.Metadata, fileName) is var family and not CapsNetFamily.Paper)
            throw new WeightFormatException(fileName, null, $"an Efficient-CapsNet weight file ({CapsNetFamilyMetadata.Key} = \"{family.Name()}\"); "
                + "this loader reads the paper's CapsNet only: load it with EfficientCapsNetWeightsFile "
                + "(capsnet eval, predict, bench and info run it, on the compiled model mnist-efficient; quantize and the paper network's tools do not support the efficient family)");
        return CapsNetHeaderValidator.Validate(header, fileName);
    }
}
