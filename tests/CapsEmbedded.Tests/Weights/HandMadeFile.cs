using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Weights;

/// <summary>
/// Builds safetensors files byte by byte from header text, without the library's writer, so tests can say
/// exactly what is in a file, including everything the reader must refuse.
/// </summary>
internal sealed class HandMadeFile
{
    public const string Name = "evil.safetensors";

    /// <summary>One header entry; Json is the value written after the name, verbatim.</summary>
    public sealed record Entry(string Name, string Json);

    public List<Entry> Entries { get; } = new();

    /// <summary>The <c>__metadata__</c> value written verbatim (null: no metadata).</summary>
    public string? MetadataJson { get; set; }

    public long DataLength { get; set; }

    /// <summary>A valid Tiny CapsNet: every tensor F32 with its shape, back to back, capsnet.* metadata.</summary>
    public static HandMadeFile Tiny() => For(CapsNetArchitecture.Tiny, withMetadata: true);

    public static HandMadeFile For(CapsNetArchitecture architecture, bool withMetadata)
    {
        var file = new HandMadeFile();
        long offset = 0;
        foreach (var spec in architecture.Tensors)
        {
            long end = offset + 4 * spec.ElementCount;
            file.Entries.Add(new Entry(spec.Name, TensorJson("F32", spec.ShapeText, offset, end)));
            offset = end;
        }
        file.DataLength = offset;
        if (withMetadata) file.MetadataJson = MetadataObject(architecture.ToMetadata());
        return file;
    }

    public static string TensorJson(string dtype, string shape, long begin, long end) =>
        $"{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    public static string MetadataObject(IEnumerable<KeyValuePair<string, string>> items) =>
        "{" + string.Join(",", items.Select(kv => $"\"{kv.Key}\":\"{kv.Value}\"")) + "}";

    public void Replace(string name, string json)
    {
        int k = Entries.FindIndex(e => e.Name == name);
        Assert.True(k >= 0, name);
        Entries[k] = new Entry(name, json);
    }

    public void Remove(string name) => Assert.Equal(1, Entries.RemoveAll(e => e.Name == name));

    public string HeaderJson()
    {
        var parts = new List<string>();
        if (MetadataJson is not null) parts.Add("\"__metadata__\":" + MetadataJson);
        parts.AddRange(Entries.Select(e => $"\"{e.Name}\":{e.Json}"));
        return "{" + string.Join(",", parts) + "}";
    }

    /// <summary>The file: length field, header padded to a multiple of 8, DataLength bytes of data.</summary>
    public byte[] Bytes() => Assemble(Encoding.UTF8.GetBytes(HeaderJson()), DataLength, pad: true);

    /// <summary>A file from raw header bytes; <paramref name="lengthField"/> overrides the length written.</summary>
    public static byte[] Assemble(byte[] header, long dataLength, bool pad = false, ulong? lengthField = null,
        Func<int, byte>? data = null)
    {
        int n = pad ? (header.Length + 7) & ~7 : header.Length;
        var file = new byte[8 + n + dataLength];
        BinaryPrimitives.WriteUInt64LittleEndian(file, lengthField ?? (ulong)n);
        header.CopyTo(file, 8);
        for (int k = header.Length; k < n; k++) file[8 + k] = (byte)' ';
        if (data is not null)
            for (int k = 0; k < dataLength; k++) file[8 + n + k] = data(k);
        return file;
    }

    public static byte[] Assemble(string header, long dataLength, ulong? lengthField = null) =>
        Assemble(Encoding.UTF8.GetBytes(header), dataLength, pad: false, lengthField);

    /// <summary>Asserts that reading fails with a WeightFormatException whose message contains every fragment.</summary>
    public static WeightFormatException AssertRejected(byte[] file, params string[] fragments)
    {
        var e = Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Read(file, Name));
        Assert.Equal(Name, e.FileName);
        Assert.StartsWith(Name + ": ", e.Message);
        foreach (var fragment in fragments)
            Assert.True(e.Message.Contains(fragment, StringComparison.Ordinal),
                $"message \"{e.Message}\" should contain \"{fragment}\"");
        return e;
    }

    public static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
