using System.Globalization;
using CapsEmbedded.IO;

namespace CapsEmbedded.Weights;

/// <summary>
/// Reads and writes <see cref="EfficientCapsNetWeights"/> as safetensors files with the checks of
/// <see cref="CapsNetWeightsFile"/>: F32, F16 or BF16 tensors (widened to float32 when read) in PyTorch layouts and
/// names, the architecture as <c>capsnet.*</c> metadata with <c>capsnet.family = "efficient"</c>. For any byte sequence,
/// <see cref="Read"/> either returns weights or throws <see cref="WeightFormatException"/>.
/// </summary>
public static class EfficientCapsNetWeightsFile
{
    /// <summary>Reads the weight file at <paramref name="path"/>.</summary>
    /// <exception cref="WeightFormatException">The file is not a valid Efficient-CapsNet weight file.</exception>
    /// <exception cref="IOException">The file cannot be read (not a format problem, so passed through unchanged).</exception>
    public static EfficientCapsNetWeights Load(string path)
    {
        byte[] file = FloatTensorFile.ReadAll(path, header => EfficientCapsNetHeaderValidator.Validate(header, path));
        return Read(file, path);
    }

    /// <summary>
    /// Validates a whole weight file held in memory and copies its tensors out. A NaN or ±Inf anywhere, or a negative
    /// running variance (σ² &lt; 0 makes √(σ² + ε) NaN), is refused naming the tensor and the index;
    /// <paramref name="requireFinite"/> = false keeps the values as they are, for tools that inspect files.
    /// </summary>
    /// <exception cref="WeightFormatException">Anything about the bytes is invalid; the message names file and tensor.</exception>
    public static EfficientCapsNetWeights Read(ReadOnlySpan<byte> file, string fileName, bool requireFinite = true)
    {
        var layout = SafeTensorsFile.Parse(file, fileName);
        var weights = new EfficientCapsNetWeights(EfficientCapsNetHeaderValidator.Validate(layout.Header, fileName),
            layout.Header.Metadata);
        FloatTensorFile.Widen(file, layout, weights.Architecture.Tensors, name => weights[name], requireFinite);
        for (int layer = 0; requireFinite && layer < weights.Architecture.Stem.Count; layer++)
        {
            float[] variance = weights.StemBatchNorm(layer).Variance;
            for (int c = 0; c < variance.Length; c++)
                if (variance[c] < 0)
                    throw new WeightFormatException(fileName, EfficientCapsNetArchitecture.StemBnVariance(layer),
                        $"value {c} is {variance[c].ToString(CultureInfo.InvariantCulture)}; a running variance cannot be negative");
        }
        return weights;
    }

    /// <summary>Writes the file to <paramref name="path"/> with <see cref="AtomicFile"/> (all or nothing).</summary>
    public static void Save(EfficientCapsNetWeights weights, string path, string dtype = SafeTensorsDType.F32)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(path);
        AtomicFile.Write(path, Write(weights, dtype));
    }

    /// <summary>
    /// The file's bytes: tensors in <see cref="EfficientCapsNetArchitecture.Tensors"/> order, each stored as
    /// <paramref name="dtype"/> (F32, F16 or BF16; narrowing rounds to nearest, ties to even); metadata sorted by key, the
    /// <c>capsnet.*</c> keys taken from the architecture. No <c>num_batches_tracked</c> counters are written.
    /// </summary>
    /// <exception cref="WeightFormatException">A value overflows <paramref name="dtype"/>, or the class names are malformed.</exception>
    public static byte[] Write(EfficientCapsNetWeights weights, string dtype = SafeTensorsDType.F32, string source = "weights")
    {
        ArgumentNullException.ThrowIfNull(weights);
        var architecture = weights.Architecture;
        return FloatTensorFile.Write(architecture.Tensors, name => weights[name], weights.Metadata, architecture.ToMetadata(),
            architecture.Classes, dtype, source);
    }
}
