// This file is also compiled into the source generator (netstandard2.0): keep it free of
// APIs newer than netstandard2.0.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace CapsEmbedded.Weights;

/// <summary>
/// The optional <c>capsnet.class_names</c> metadata entry: a JSON array of one name per class (digit capsule j), e.g.
/// <c>["T-shirt/top","Trouser",…]</c> for Fashion-MNIST. Absent, the names are "0", "1", … (the MNIST digits).
/// </summary>
public static class CapsNetClassNames
{
    /// <summary>The metadata key.</summary>
    public const string MetadataKey = "capsnet.class_names";

    /// <summary>Longest name accepted, in UTF-16 units (names are printed in one-line tool output).</summary>
    public const int MaxLength = 64;

    /// <summary>Fashion-MNIST's ten classes, in label order (Xiao, Rasul, Vollgraf 2017).</summary>
    public static IReadOnlyList<string> FashionMnist { get; } = new[]
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };

    /// <summary>"0", "1", … "classes−1": the names when a file has none.</summary>
    public static string[] Default(int classes)
    {
        var names = new string[classes];
        for (int k = 0; k < classes; k++) names[k] = k.ToString(CultureInfo.InvariantCulture);
        return names;
    }

    /// <summary>
    /// The names in <paramref name="metadata"/>, or null when it has no <see cref="MetadataKey"/> entry.
    /// </summary>
    /// <exception cref="WeightFormatException">The entry is not a JSON array of <paramref name="classes"/> valid names.</exception>
    public static string[]? Read(IReadOnlyDictionary<string, string> metadata, int classes, string fileName)
    {
        if (metadata is null) throw new ArgumentNullException(nameof(metadata));
        if (!metadata.TryGetValue(MetadataKey, out string? text)) return null;
        JsonValue root;
        try
        {
            root = MiniJson.Parse(text);
        }
        catch (MiniJsonException e)
        {
            throw new WeightFormatException(fileName, null, "metadata " + MetadataKey + " is not valid JSON at character "
                + e.Position.ToString(CultureInfo.InvariantCulture) + ": " + e.Problem, e);
        }
        if (root.Kind != JsonKind.Array)
            throw new WeightFormatException(fileName, null, "metadata " + MetadataKey + " is a JSON " + root.KindName
                + ", not an array of class names");
        var names = new string[root.Items.Count];
        for (int k = 0; k < names.Length; k++)
        {
            var item = root.Items[k];
            if (item.Kind != JsonKind.String)
                throw new WeightFormatException(fileName, null, "metadata " + MetadataKey + "[" + k.ToString(CultureInfo.InvariantCulture)
                    + "] is a JSON " + item.KindName + ", not a string");
            names[k] = item.Text!;
        }
        string? problem = Problem(names, classes);
        if (problem is not null) throw new WeightFormatException(fileName, null, "metadata " + MetadataKey + ": " + problem);
        return names;
    }

    /// <summary>Why <paramref name="names"/> cannot name <paramref name="classes"/> classes, or null when they can.</summary>
    public static string? Problem(IReadOnlyList<string> names, int classes)
    {
        if (names is null) throw new ArgumentNullException(nameof(names));
        if (names.Count != classes)
            return "has " + names.Count.ToString(CultureInfo.InvariantCulture) + " names; the architecture has "
                + classes.ToString(CultureInfo.InvariantCulture) + " classes";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int k = 0; k < names.Count; k++)
        {
            string name = names[k];
            string at = "name " + k.ToString(CultureInfo.InvariantCulture);
            if (name is null || name.Trim().Length == 0) return at + " is empty";
            if (name.Length > MaxLength)
                return at + " has " + name.Length.ToString(CultureInfo.InvariantCulture) + " characters, more than "
                    + MaxLength.ToString(CultureInfo.InvariantCulture);
            if (name.Trim().Length != name.Length) return at + " (\"" + IO.UntrustedText.Quote(name) + "\") starts or ends with white space";
            // Format characters (Cf) include the bidi overrides (U+202E turns the rest of a printed line around) and zero-width ones.
            foreach (char c in name)
                if (char.IsControl(c) || (char.IsSurrogate(c) && !HasPair(name))
                    || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Format)
                    return at + " (\"" + IO.UntrustedText.Quote(name) + "\") has a control character, a bidi or other format character, a line break or a lone surrogate";
            if (!seen.Add(name)) return at + " (\"" + IO.UntrustedText.Quote(name) + "\") is used twice";
        }
        return null;
    }

    /// <summary>The metadata value for <paramref name="names"/>: a compact JSON array.</summary>
    public static string Encode(IReadOnlyList<string> names)
    {
        if (names is null) throw new ArgumentNullException(nameof(names));
        var json = new StringBuilder("[");
        for (int k = 0; k < names.Count; k++)
        {
            if (k > 0) json.Append(',');
            MiniJson.WriteString(json, names[k]);
        }
        return json.Append(']').ToString();
    }

    private static bool HasPair(string text)
    {
        for (int k = 0; k < text.Length; k++)
        {
            if (char.IsHighSurrogate(text[k]) && k + 1 < text.Length && char.IsLowSurrogate(text[k + 1])) k++;
            else if (char.IsSurrogate(text[k])) return false;
        }
        return true;
    }
}
