// This file is also compiled into the source generator (netstandard2.0): keep it free of
// APIs newer than netstandard2.0.
using System;
using System.Collections.Generic;
using CapsEmbedded.IO;

namespace CapsEmbedded.Weights;

/// <summary>
/// Checks that a safetensors header holds exactly a CapsNet: the architecture from the <c>capsnet.*</c>
/// metadata (absent keys = the paper's network), every tensor of <see cref="CapsNetArchitecture.Tensors"/>
/// present as F32, F16 or BF16 (widened to float32 when read) with its exact shape, and nothing else.
/// </summary>
public static class CapsNetHeaderValidator
{
    /// <summary>The architecture the header describes.</summary>
    /// <exception cref="WeightFormatException">The metadata or a tensor does not fit a CapsNet; the message names it.</exception>
    public static CapsNetArchitecture Validate(SafeTensorsHeader header, string fileName)
    {
        if (header is null) throw new ArgumentNullException(nameof(header));
        var architecture = CapsNetArchitecture.FromMetadata(header.Metadata, out string? error);
        if (architecture is null)
            throw new WeightFormatException(fileName, null, "invalid CapsNet architecture in " + SafeTensorsHeader.MetadataKey
                + ": " + error);
        // Efficient-CapsNet tensors without capsnet.family = "efficient": say so rather than "unknown tensor".
        string efficientStem = EfficientCapsNetArchitecture.StemConvWeight(0);
        if (header.Find(efficientStem) is not null)
            throw new WeightFormatException(fileName, efficientStem, "an Efficient-CapsNet tensor in a file without "
                + CapsNetFamilyMetadata.Key + " = \"" + CapsNetFamily.Efficient.Name() + "\" (so read as the paper's CapsNet): "
                + "add that metadata key, or give a paper CapsNet file");
        ValidateTensors(header, architecture.Tensors, architecture.Classes, fileName,
            header.HasMetadata ? "" : " (no " + SafeTensorsHeader.MetadataKey + ", so the paper's network)");
        return architecture;
    }

    /// <summary>
    /// The checks every float weight file shares, whatever its family: not int8-quantised, every tensor of
    /// <paramref name="specs"/> present as F32, F16 or BF16 with its exact shape, no other tensor except those in
    /// <paramref name="ignored"/> (which the caller has checked), and well-formed class names.
    /// </summary>
    /// <param name="header">The file's header.</param>
    /// <param name="specs">The tensors the architecture needs.</param>
    /// <param name="classes">How many class names <c>capsnet.class_names</c> must hold, when present.</param>
    /// <param name="fileName">Named in error messages.</param>
    /// <param name="shapeNote">Appended to a shape mismatch's message (e.g. why the architecture is what it is).</param>
    /// <param name="ignored">Names of tensors that may be present besides <paramref name="specs"/> and are skipped.</param>
    /// <exception cref="WeightFormatException">A tensor is unknown, missing, of another dtype or shape; the message names it.</exception>
    public static void ValidateTensors(SafeTensorsHeader header, IReadOnlyList<TensorSpec> specs, int classes, string fileName,
        string shapeNote = "", ICollection<string>? ignored = null)
    {
        if (header is null) throw new ArgumentNullException(nameof(header));
        if (specs is null) throw new ArgumentNullException(nameof(specs));
        // A quantised file (capsnet.quantization) holds I8 tensors: say what it is rather than "dtype I8 is not supported".
        if (header.Metadata.TryGetValue(CapsNetArchitecture.MetadataPrefix + "quantization", out string? scheme))
            throw new WeightFormatException(fileName, null, "an int8-quantised weight file (capsnet.quantization = \""
                + UntrustedText.Quote(scheme) + "\"); this loader reads float32 weight files only (capsnet: --precision int8)");

        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            expected.Add(spec.Name);
            // Derived sizes are int products; a dimension below 1 means the metadata made one overflow.
            foreach (int d in spec.Shape)
                if (d < 1)
                    throw new WeightFormatException(fileName, spec.Name, "the architecture in " + SafeTensorsHeader.MetadataKey
                        + " gives this tensor the shape " + spec.ShapeText + ", which has a dimension below 1");
        }

        foreach (var entry in header.Entries)
            if (!expected.Contains(entry.Name) && (ignored is null || !ignored.Contains(entry.Name)))
                throw new WeightFormatException(fileName, entry.Name, "unknown tensor; a CapsNet has exactly "
                    + string.Join(", ", Names(specs)));

        foreach (var spec in specs)
        {
            var entry = header.Find(spec.Name)
                ?? throw new WeightFormatException(fileName, spec.Name, "missing; the architecture needs it as F32 "
                    + spec.ShapeText);
            if (entry.DType != SafeTensorsDType.F32 && entry.DType != SafeTensorsDType.F16 && entry.DType != SafeTensorsDType.BF16)
                throw new WeightFormatException(fileName, spec.Name, "dtype " + entry.DType
                    + " is not supported; CapsNet tensors must be F32, F16 or BF16");
            if (!SameShape(entry.Shape, spec.Shape))
                throw new WeightFormatException(fileName, spec.Name, "shape " + entry.ShapeText
                    + " does not match the architecture's " + spec.ShapeText + shapeNote);
        }
        CapsNetClassNames.Read(header.Metadata, classes, fileName); // optional; refused when malformed
    }

    private static bool SameShape(IReadOnlyList<long> actual, IReadOnlyList<int> expected)
    {
        if (actual.Count != expected.Count) return false;
        for (int k = 0; k < actual.Count; k++)
            if (actual[k] != expected[k]) return false;
        return true;
    }

    private static IEnumerable<string> Names(IReadOnlyList<TensorSpec> specs)
    {
        foreach (var spec in specs) yield return spec.Name;
    }
}
