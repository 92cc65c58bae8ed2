// This file is also meant to be compiled into the source generator (netstandard2.0): keep it free of
// APIs newer than netstandard2.0.
using System;
using System.Collections.Generic;
using CapsEmbedded.IO;
using CapsEmbedded.Weights;

namespace CapsEmbedded;

/// <summary>
/// Which network a weight file holds, from its <c>capsnet.family</c> metadata: absent (or "paper") is the paper's
/// CapsNet (<see cref="CapsNetArchitecture"/>), "efficient" is Efficient-CapsNet (<see cref="EfficientCapsNetArchitecture"/>).
/// </summary>
public enum CapsNetFamily
{
    /// <summary>"Dynamic Routing Between Capsules" (Sabour et al. 2017): conv1, primary capsules, routing by agreement.</summary>
    Paper,

    /// <summary>"Efficient-CapsNet" (Mazzia et al. 2021): conv stem with batch norm, depthwise primary capsules,
    /// self-attention routing.</summary>
    Efficient,
}

/// <summary><see cref="CapsNetFamily"/> of a file's metadata, and the family's names in it.</summary>
public static class CapsNetFamilyMetadata
{
    /// <summary>The metadata key that names the family; absent means <see cref="CapsNetFamily.Paper"/>.</summary>
    public const string Key = CapsNetArchitecture.MetadataPrefix + "family";

    /// <summary>The value of <see cref="Key"/> for each family.</summary>
    public static string Name(this CapsNetFamily family) => family switch
    {
        CapsNetFamily.Paper => "paper",
        CapsNetFamily.Efficient => "efficient",
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "unknown CapsNet family"),
    };

    extension(CapsNetFamily)
    {
        /// <summary>
        /// The family named by <c>capsnet.family</c> in <paramref name="metadata"/>: absent (or no metadata) is the paper's
        /// network, so every file written before the key existed keeps its meaning.
        /// </summary>
        /// <param name="metadata">A safetensors file's <c>__metadata__</c>.</param>
        /// <param name="fileName">Named in the error message.</param>
        /// <exception cref="WeightFormatException">The key holds a value that names no family.</exception>
        public static CapsNetFamily Of(IReadOnlyDictionary<string, string>? metadata, string fileName = "weights")
        {
            if (metadata is null || !metadata.TryGetValue(Key, out string? value)) return CapsNetFamily.Paper;
            foreach (CapsNetFamily family in new[] { CapsNetFamily.Paper, CapsNetFamily.Efficient })
                if (value == family.Name()) return family;
            throw new WeightFormatException(fileName, null, "metadata " + Key + " = \"" + UntrustedText.Quote(value)
                + "\" names no CapsNet family (known: \"paper\", or absent, and \"efficient\")");
        }
    }
}
