using System.Globalization;
using System.Text;

namespace CapsEmbedded.Weights;

/// <summary>
/// Writes safetensors headers and files the way Hugging Face's serializer does: compact JSON with
/// <c>__metadata__</c> first (here sorted by key, so the bytes are deterministic), then the tensors in data
/// order, padded with spaces so that 8 + N is a multiple of 8 and the data area starts 8-byte aligned.
/// </summary>
public static class SafeTensorsWriter
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Entries laid out back to back from offset 0, in the given order.</summary>
    public static IReadOnlyList<SafeTensorsEntry> LayOut(IEnumerable<(string Name, string DType, IReadOnlyList<long> Shape)> tensors)
    {
        var entries = new List<SafeTensorsEntry>();
        long offset = 0;
        foreach (var (name, dtype, shape) in tensors)
        {
            if (name == SafeTensorsHeader.MetadataKey) throw new ArgumentException($"a tensor cannot be named {name}", nameof(tensors));
            if (!SafeTensorsDType.TryGetBitSize(dtype, out int bits)) throw new ArgumentException($"unknown dtype '{dtype}' for tensor '{name}'", nameof(tensors));
            long elements = 1;
            foreach (long d in shape)
            {
                ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(shape));
                elements = checked(elements * d);
            }
            long bitCount = checked(elements * bits);
            if (bitCount % 8 != 0) throw new ArgumentException($"tensor '{name}' is not a whole number of bytes", nameof(tensors));
            long end = checked(offset + bitCount / 8);
            entries.Add(new SafeTensorsEntry(name, dtype, shape.ToArray(), offset, end));
            offset = end;
        }
        return entries;
    }

    /// <summary>The header bytes (N of them, N a multiple of 8) for these entries and metadata.</summary>
    public static byte[] EncodeHeader(IReadOnlyList<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        var json = new StringBuilder();
        json.Append('{');
        bool first = true;
        if (metadata is not null && metadata.Count > 0)
        {
            MiniJson.WriteString(json, SafeTensorsHeader.MetadataKey);
            json.Append(":{");
            bool firstItem = true;
            foreach (var key in metadata.Keys.OrderBy(k => k, StringComparer.Ordinal))
            {
                string value = metadata[key] ?? throw new ArgumentException($"metadata '{key}' is null", nameof(metadata));
                if (!firstItem) json.Append(',');
                MiniJson.WriteString(json, key);
                json.Append(':');
                MiniJson.WriteString(json, value);
                firstItem = false;
            }
            json.Append('}');
            first = false;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            if (e.Name == SafeTensorsHeader.MetadataKey || !names.Add(e.Name))
                throw new ArgumentException($"tensor name '{e.Name}' is reserved or used twice", nameof(entries));
            if (!first) json.Append(',');
            MiniJson.WriteString(json, e.Name);
            json.Append(":{\"dtype\":");
            MiniJson.WriteString(json, e.DType);
            json.Append(",\"shape\":[");
            for (int k = 0; k < e.Shape.Count; k++)
            {
                if (k > 0) json.Append(',');
                json.Append(e.Shape[k].ToString(CultureInfo.InvariantCulture));
            }
            json.Append("],\"data_offsets\":[")
                .Append(e.Begin.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(e.End.ToString(CultureInfo.InvariantCulture)).Append("]}");
            first = false;
        }
        json.Append('}');

        string text = json.ToString();
        int length;
        try
        {
            length = StrictUtf8.GetByteCount(text);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException("a tensor name or metadata string has a lone UTF-16 surrogate, which UTF-8 cannot encode", e);
        }
        int padded = (length + 7) & ~7; // 8 + N stays a multiple of 8: the data area starts aligned
        byte[] header = new byte[padded];
        StrictUtf8.GetBytes(text, 0, text.Length, header, 0);
        header.AsSpan(length).Fill((byte)' ');
        if (padded > SafeTensorsHeader.MaxHeaderLength) throw new ArgumentException("the header would exceed the 100 MB limit", nameof(entries));
        return header;
    }

    /// <summary>A whole file: the tensors back to back in the given order, each given as its raw little-endian bytes.</summary>
    public static byte[] Serialize(IReadOnlyList<(string Name, string DType, IReadOnlyList<long> Shape, byte[] Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata)
    {
        var entries = LayOut(tensors.Select(t => (t.Name, t.DType, t.Shape)));
        for (int k = 0; k < entries.Count; k++)
            if (entries[k].ByteLength != tensors[k].Data.Length)
                throw new ArgumentException($"tensor '{tensors[k].Name}' has {tensors[k].Data.Length} bytes; its shape needs {entries[k].ByteLength}", nameof(tensors));
        byte[] header = EncodeHeader(entries, metadata);
        long dataLength = entries.Count == 0 ? 0 : entries[^1].End;
        var file = new byte[checked(SafeTensorsFile.LengthFieldSize + header.Length + dataLength)];
        WritePrefix(file, header);
        int at = SafeTensorsFile.LengthFieldSize + header.Length;
        foreach (var t in tensors)
        {
            t.Data.CopyTo(file, at);
            at += t.Data.Length;
        }
        return file;
    }

    /// <summary>Writes the length field and header at the start of <paramref name="file"/>.</summary>
    public static void WritePrefix(Span<byte> file, byte[] header)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file[SafeTensorsFile.LengthFieldSize..]);
    }
}
