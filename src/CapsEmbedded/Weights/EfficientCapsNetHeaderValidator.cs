// This file is also meant to be compiled into the source generator (netstandard2.0): keep it free of
// APIs newer than netstandard2.0.
using System;
using System.Collections.Generic;
using CapsEmbedded.IO;

namespace CapsEmbedded.Weights;

/// <summary>
/// Checks that a safetensors header holds exactly an Efficient-CapsNet: <c>capsnet.family = "efficient"</c>, every
/// architecture key of <see cref="EfficientCapsNetArchitecture.MetadataKeys"/>, every tensor of
/// <see cref="EfficientCapsNetArchitecture.Tensors"/> as F32, F16 or BF16 with its exact shape, and nothing else but
/// PyTorch's <c>stem.N.bn.num_batches_tracked</c> counters (I64 scalars, ignored).
/// </summary>
public static class EfficientCapsNetHeaderValidator
{
    /// <summary>The dtype of PyTorch's <c>num_batches_tracked</c> counter.</summary>
    public const string BatchCounterDType = "I64";

    /// <summary>The architecture the header describes.</summary>
    /// <exception cref="WeightFormatException">The file is of another family, or its metadata or a tensor does not fit an
    /// Efficient-CapsNet; the message names it.</exception>
    public static EfficientCapsNetArchitecture Validate(SafeTensorsHeader header, string fileName)
    {
        if (header is null) throw new ArgumentNullException(nameof(header));
        if (CapsNetFamily.Of(header.Metadata, fileName) != CapsNetFamily.Efficient)
            throw new WeightFormatException(fileName, null, "not an Efficient-CapsNet weight file (" + CapsNetFamilyMetadata.Key
                + " is not \"efficient\", so it holds the paper's CapsNet): load it with CapsNetWeightsFile");
        var architecture = EfficientCapsNetArchitecture.FromMetadata(header.Metadata, out string? error)
            ?? throw new WeightFormatException(fileName, null, "invalid Efficient-CapsNet architecture in "
                + SafeTensorsHeader.MetadataKey + ": " + error);

        var ignored = new HashSet<string>(StringComparer.Ordinal);
        for (int layer = 0; layer < architecture.Stem.Count; layer++)
        {
            string name = EfficientCapsNetArchitecture.StemBnBatchesTracked(layer);
            var entry = header.Find(name);
            if (entry is null) continue;
            if (entry.DType != BatchCounterDType || entry.Shape.Count != 0)
                throw new WeightFormatException(fileName, name, "is " + entry.DType + " " + entry.ShapeText
                    + "; PyTorch's batch-norm counter is accepted (and ignored) only as an I64 scalar of shape []");
            ignored.Add(name);
        }
        CapsNetHeaderValidator.ValidateTensors(header, architecture.Tensors, architecture.Classes, fileName, ignored: ignored);
        return architecture;
    }
}
