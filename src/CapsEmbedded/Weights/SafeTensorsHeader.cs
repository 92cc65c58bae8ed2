using CapsEmbedded.IO;
// This file is also compiled into the source generator (netstandard2.0): keep it free of
// APIs newer than netstandard2.0 (no Span, no System.Text.Json).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace CapsEmbedded.Weights;

/// <summary>
/// The parsed and validated JSON header of a safetensors file, as Hugging Face's <c>safetensors</c> defines it:
/// an object mapping each tensor name to <c>{"dtype", "shape", "data_offsets": [begin, end]}</c> plus an
/// optional <c>"__metadata__"</c> object of strings. Offsets are relative to the data area that follows the
/// header; the tensors must cover it exactly, without gaps or overlaps.
/// </summary>
/// <remarks>
/// Everything the reference reader accepts from its own writer is accepted here. Where the reference is lenient
/// by accident of serde this reader refuses: duplicate keys (serde silently keeps one), unknown fields in a tensor
/// entry (serde ignores them), more than <see cref="MiniJson.MaxValues"/> values or <see cref="MiniJson.MaxDepth"/>
/// levels of nesting.
/// </remarks>
public sealed class SafeTensorsHeader
{
    /// <summary>Largest header accepted, as in the reference implementation (100 MB).</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>The key of the free-form string map in the header.</summary>
    public const string MetadataKey = "__metadata__";

    private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);
    private readonly Dictionary<string, SafeTensorsEntry> _byName;

    private SafeTensorsHeader(List<SafeTensorsEntry> entries, Dictionary<string, SafeTensorsEntry> byName,
        Dictionary<string, string> metadata, bool hasMetadata, long dataLength)
    {
        Entries = entries;
        _byName = byName;
        Metadata = metadata;
        HasMetadata = hasMetadata;
        DataLength = dataLength;
    }

    /// <summary>The tensors sorted by <see cref="SafeTensorsEntry.Begin"/> (the order of their bytes).</summary>
    public IReadOnlyList<SafeTensorsEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> entries (empty when the header has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Whether the header had a <c>__metadata__</c> object.</summary>
    public bool HasMetadata { get; }

    /// <summary>Length in bytes of the data area the header was validated against.</summary>
    public long DataLength { get; }

    /// <summary>The tensor with this name, or null.</summary>
    public SafeTensorsEntry? Find(string name) => _byName.TryGetValue(name, out var entry) ? entry : null;

    /// <summary>
    /// Parses and validates a header: strict UTF-8 and JSON, known dtypes, shapes and offsets that are
    /// non-negative 64-bit integers, byte lengths that match shape × dtype size without overflow, and offsets
    /// that tile the <paramref name="dataLength"/>-byte data area exactly.
    /// </summary>
    /// <param name="headerJsonUtf8">The N header bytes (after the 8-byte length), trailing space padding included.</param>
    /// <param name="dataLength">Bytes in the file after the header.</param>
    /// <param name="fileName">Named in error messages.</param>
    /// <exception cref="WeightFormatException">Anything about the header is invalid.</exception>
    public static SafeTensorsHeader Parse(byte[] headerJsonUtf8, long dataLength, string fileName)
    {
        if (headerJsonUtf8 is null) throw new ArgumentNullException(nameof(headerJsonUtf8));
        if (fileName is null) throw new ArgumentNullException(nameof(fileName));
        if (dataLength < 0) throw new ArgumentOutOfRangeException(nameof(dataLength), "the data area length cannot be negative");
        if (headerJsonUtf8.Length == 0) throw new WeightFormatException(fileName, null, "header length is 0; a header is at least \"{}\"");
        if (headerJsonUtf8.Length > MaxHeaderLength)
            throw new WeightFormatException(fileName, null, "header length " + Text(headerJsonUtf8.Length)
                + " exceeds the limit of " + Text(MaxHeaderLength) + " bytes");
        // The reference reader lets serde_json skip leading whitespace; anything else before '{' means another format.
        int start = 0;
        while (start < headerJsonUtf8.Length && IsJsonWhitespace(headerJsonUtf8[start])) start++;
        if (start < headerJsonUtf8.Length && headerJsonUtf8[start] != (byte)'{')
        {
            byte first = headerJsonUtf8[start];
            string shown = first >= 0x21 && first <= 0x7e ? "'" + (char)first + "' (0x" : "(0x";
            throw new WeightFormatException(fileName, null, "header does not start with '{' but with " + shown
                + first.ToString("x2", CultureInfo.InvariantCulture) + "); a safetensors header is a JSON object");
        }

        string json;
        try
        {
            json = StrictUtf8.GetString(headerJsonUtf8);
        }
        catch (DecoderFallbackException e)
        {
            throw new WeightFormatException(fileName, null, "header is not valid UTF-8 (at byte " + Text(8L + e.Index) + " of the file)", e);
        }

        JsonValue root;
        try
        {
            root = MiniJson.Parse(json);
        }
        catch (MiniJsonException e)
        {
            throw new WeightFormatException(fileName, null, "header is not valid JSON at character "
                + Text(e.Position) + ": " + e.Problem, e);
        }
        if (root.Kind != JsonKind.Object)
            throw new WeightFormatException(fileName, null, "header is a JSON " + root.KindName + ", not an object");

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        bool hasMetadata = false;
        var entries = new List<SafeTensorsEntry>(root.Properties.Count);
        var byName = new Dictionary<string, SafeTensorsEntry>(StringComparer.Ordinal);
        foreach (var property in root.Properties)
        {
            if (property.Key == MetadataKey)
            {
                hasMetadata = ReadMetadata(property.Value, metadata, fileName);
                continue;
            }
            var entry = ReadEntry(property.Key, property.Value, fileName);
            entries.Add(entry);
            byName.Add(entry.Name, entry);
        }

        entries.Sort(CompareByOffsets);
        CheckCoverage(entries, dataLength, fileName);
        return new SafeTensorsHeader(entries, byName, metadata, hasMetadata, dataLength);
    }

    private static bool ReadMetadata(JsonValue value, Dictionary<string, string> metadata, string fileName)
    {
        if (value.Kind == JsonKind.Null) return false; // serde reads null as "no metadata"
        if (value.Kind != JsonKind.Object)
            throw new WeightFormatException(fileName, null, MetadataKey + " is a JSON " + value.KindName + ", not an object of strings");
        foreach (var item in value.Properties)
        {
            if (item.Value.Kind != JsonKind.String)
                throw new WeightFormatException(fileName, null, MetadataKey + " value of \"" + UntrustedText.Quote(item.Key) + "\" is a JSON "
                    + item.Value.KindName + ", not a string");
            metadata.Add(item.Key, item.Value.Text!);
        }
        return true;
    }

    private static SafeTensorsEntry ReadEntry(string name, JsonValue value, string fileName)
    {
        if (value.Kind != JsonKind.Object)
            throw new WeightFormatException(fileName, name, "entry is a JSON " + value.KindName
                + ", not an object with dtype, shape and data_offsets");
        foreach (var field in value.Properties)
            if (field.Key != "dtype" && field.Key != "shape" && field.Key != "data_offsets")
                throw new WeightFormatException(fileName, name, "unknown field \"" + UntrustedText.Quote(field.Key)
                    + "\" (an entry has only dtype, shape and data_offsets)");

        var dtypeValue = Required(value, "dtype", name, fileName);
        if (dtypeValue.Kind != JsonKind.String)
            throw new WeightFormatException(fileName, name, "dtype is a JSON " + dtypeValue.KindName + ", not a string");
        string dtype = dtypeValue.Text!;
        if (!SafeTensorsDType.TryGetBitSize(dtype, out int bits))
            throw new WeightFormatException(fileName, name, "unknown dtype \"" + UntrustedText.Quote(dtype) + "\" (known: "
                + string.Join(", ", SafeTensorsDType.Names) + ")");

        long[] shape = ReadIntegers(Required(value, "shape", name, fileName), "shape", -1, name, fileName);
        long[] offsets = ReadIntegers(Required(value, "data_offsets", name, fileName), "data_offsets", 2, name, fileName);
        long begin = offsets[0], end = offsets[1];
        if (begin > end) throw new WeightFormatException(fileName, name, OffsetsText(begin, end) + " begin after end");

        var entry = new SafeTensorsEntry(name, dtype, shape, begin, end);
        long elements = 1;
        foreach (long d in shape)
        {
            if (d != 0 && elements > long.MaxValue / d)
                throw new WeightFormatException(fileName, name, "shape " + entry.ShapeText + " has more elements than fit in 64 bits");
            elements *= d;
        }
        if (elements > long.MaxValue / bits)
            throw new WeightFormatException(fileName, name, "shape " + entry.ShapeText + " of dtype " + dtype
                + " has more bits than fit in 64 bits");
        long totalBits = elements * bits;
        if (totalBits % 8 != 0)
            throw new WeightFormatException(fileName, name, "shape " + entry.ShapeText + " of dtype " + dtype
                + " is not a whole number of bytes");
        if (end - begin != totalBits / 8)
            throw new WeightFormatException(fileName, name, "shape " + entry.ShapeText + " of dtype " + dtype + " needs "
                + Text(totalBits / 8) + " bytes but " + OffsetsText(begin, end) + " hold " + Text(end - begin));
        return entry;
    }

    private static JsonValue Required(JsonValue entry, string field, string name, string fileName) =>
        entry.Get(field) ?? throw new WeightFormatException(fileName, name, "missing field \"" + field + "\"");

    private static long[] ReadIntegers(JsonValue value, string field, int requiredCount, string name, string fileName)
    {
        if (value.Kind != JsonKind.Array)
            throw new WeightFormatException(fileName, name, field + " is a JSON " + value.KindName + ", not an array");
        if (requiredCount >= 0 && value.Items.Count != requiredCount)
            throw new WeightFormatException(fileName, name, field + " has " + Text(value.Items.Count)
                + " elements; it must be [begin, end]");
        var result = new long[value.Items.Count];
        for (int k = 0; k < result.Length; k++)
        {
            var item = value.Items[k];
            if (!item.TryGetNonNegativeInt64(out result[k]))
                throw new WeightFormatException(fileName, name, field + "[" + Text(k) + "] = "
                    + (item.Kind == JsonKind.Number ? item.Text : "a JSON " + item.KindName)
                    + " is not a non-negative integer that fits in 64 bits");
        }
        return result;
    }

    private static int CompareByOffsets(SafeTensorsEntry a, SafeTensorsEntry b)
    {
        int c = a.Begin.CompareTo(b.Begin);
        if (c == 0) c = a.End.CompareTo(b.End);
        return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
    }

    // The tensors, sorted by offset, must tile [0, dataLength) exactly (reference: Metadata::validate plus the
    // MetadataIncompleteBuffer check), so no byte of the file is unaccounted for.
    private static void CheckCoverage(List<SafeTensorsEntry> sorted, long dataLength, string fileName)
    {
        long expected = 0;
        string? previous = null;
        foreach (var e in sorted)
        {
            if (e.Begin > expected)
                throw new WeightFormatException(fileName, e.Name, OffsetsText(e.Begin, e.End) + " leave a gap: bytes ["
                    + Text(expected) + "," + Text(e.Begin) + ") of the data area belong to no tensor");
            if (e.Begin < expected)
                throw new WeightFormatException(fileName, e.Name, OffsetsText(e.Begin, e.End) + " overlap tensor '" + UntrustedText.Quote(previous)
                    + "', which ends at " + Text(expected));
            if (e.End > dataLength)
                throw new WeightFormatException(fileName, e.Name, OffsetsText(e.Begin, e.End) + " end past the data area, which is "
                    + Text(dataLength) + " bytes");
            expected = e.End;
            previous = e.Name;
        }
        if (expected != dataLength)
            throw new WeightFormatException(fileName, null, "the data area has " + Text(dataLength - expected)
                + " trailing bytes after the last tensor (tensors end at " + Text(expected) + ", data area is "
                + Text(dataLength) + " bytes)");
    }

    private static bool IsJsonWhitespace(byte b) => b == (byte)' ' || b == (byte)'\t' || b == (byte)'\n' || b == (byte)'\r';

    private static string OffsetsText(long begin, long end) => "data_offsets [" + Text(begin) + "," + Text(end) + "]";

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>One tensor of a safetensors header: name, dtype, shape and its byte range in the data area.</summary>
public sealed class SafeTensorsEntry(string name, string dtype, IReadOnlyList<long> shape, long begin, long end)
{
    public string Name { get; } = name;

    /// <summary>The dtype name as written in the file ("F32", "BF16", ...).</summary>
    public string DType { get; } = dtype;

    /// <summary>Dimensions, row-major (last index fastest).</summary>
    public IReadOnlyList<long> Shape { get; } = shape;

    /// <summary>First byte, relative to the start of the data area.</summary>
    public long Begin { get; } = begin;

    /// <summary>One past the last byte, relative to the start of the data area.</summary>
    public long End { get; } = end;

    public long ByteLength => End - Begin;

    /// <summary>Product of the dimensions (1 for a scalar of shape []).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>The shape as "[a,b,c]", the way error messages and CapsNet's TensorSpec write it.</summary>
    public string ShapeText
    {
        get
        {
            var parts = new string[Shape.Count];
            for (int k = 0; k < parts.Length; k++) parts[k] = Shape[k].ToString(CultureInfo.InvariantCulture);
            return "[" + string.Join(",", parts) + "]";
        }
    }

    public override string ToString() => Name + " " + DType + " " + ShapeText;
}

/// <summary>The dtypes of the safetensors format and their sizes.</summary>
public static class SafeTensorsDType
{
    public const string F32 = "F32";
    public const string F16 = "F16";
    public const string BF16 = "BF16";

    private static readonly Dictionary<string, int> BitSizes = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["BOOL"] = 8, ["U8"] = 8, ["I8"] = 8, ["F8_E5M2"] = 8, ["F8_E4M3"] = 8, ["F8_E8M0"] = 8,
        ["I16"] = 16, ["U16"] = 16, ["F16"] = 16, ["BF16"] = 16,
        ["I32"] = 32, ["U32"] = 32, ["F32"] = 32,
        ["F64"] = 64, ["I64"] = 64, ["U64"] = 64, ["C64"] = 64,
        ["F4"] = 4, ["F6_E2M3"] = 6, ["F6_E3M2"] = 6,
    };

    /// <summary>Every dtype name the format defines.</summary>
    public static IReadOnlyList<string> Names { get; } = new List<string>(BitSizes.Keys).AsReadOnly();

    /// <summary>Bits per element of a known dtype (sub-byte types such as F4 pack several per byte).</summary>
    public static bool TryGetBitSize(string dtype, out int bits) => BitSizes.TryGetValue(dtype, out bits);
}
