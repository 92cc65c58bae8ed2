using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Weights;

/// <summary>
/// Files laid out byte for byte as Hugging Face's safetensors serializer writes them (Rust `serialize` and
/// Python `save_file`): compact JSON, <c>__metadata__</c> first, tensors sorted by descending dtype alignment
/// then by name, header padded with spaces to a multiple of 8.
/// </summary>
public class CompatibilityTests
{
    private static byte[] Floats(params float[] values) => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    [Fact]
    public void ReferenceSerializationOfOneF32Tensor()
    {
        // safetensors' own test: {"attn.0": F32 [1,2,3] = 0..5}, no metadata.
        const string json = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
        Assert.Equal(64, json.Length); // already a multiple of 8: no padding
        byte[] expected = HandMadeFile.Assemble(Encoding.ASCII.GetBytes(json), 24, data: k => Floats(0, 1, 2, 3, 4, 5)[k]);
        Assert.Equal(64, expected[0]);

        var layout = SafeTensorsFile.Parse(expected, "attn.safetensors");
        var entry = Assert.Single(layout.Header.Entries);
        Assert.Equal(("attn.0", "F32", "[1,2,3]", 0L, 24L), (entry.Name, entry.DType, entry.ShapeText, entry.Begin, entry.End));
        Assert.Equal(Floats(0, 1, 2, 3, 4, 5), layout.GetBytes(expected, entry).ToArray());
        Assert.False(layout.Header.HasMetadata);

        byte[] ours = SafeTensorsWriter.Serialize(new[] { ("attn.0", "F32", (IReadOnlyList<long>)new long[] { 1, 2, 3 }, Floats(0, 1, 2, 3, 4, 5)) }, null);
        Assert.Equal(expected, ours);
    }

    [Fact]
    public void ReferenceSerializationWithPaddingAndEmptyFiles()
    {
        // "attn0" F32 [1,1,2,3]: 65 bytes of JSON, padded with 7 spaces to 72.
        byte[] ours = SafeTensorsWriter.Serialize(new[] { ("attn0", "F32", (IReadOnlyList<long>)new long[] { 1, 1, 2, 3 }, Floats(0, 1, 2, 3, 4, 5)) }, null);
        Assert.Equal(72, ours[0]);
        Assert.Equal("{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ", Encoding.ASCII.GetString(ours, 8, 72));

        // No tensors: "{}" and six spaces; with metadata {"framework":"pt"}: 35 bytes and five spaces.
        byte[] empty = SafeTensorsWriter.Serialize(Array.Empty<(string, string, IReadOnlyList<long>, byte[])>(), null);
        Assert.Equal(new byte[] { 8, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}', 32, 32, 32, 32, 32, 32 }, empty);
        Assert.Empty(SafeTensorsFile.Parse(empty, "empty").Header.Entries);

        var metadata = new Dictionary<string, string> { ["framework"] = "pt" };
        byte[] withMetadata = SafeTensorsWriter.Serialize(Array.Empty<(string, string, IReadOnlyList<long>, byte[])>(), metadata);
        Assert.Equal(40, withMetadata[0]);
        Assert.Equal("{\"__metadata__\":{\"framework\":\"pt\"}}     ", Encoding.ASCII.GetString(withMetadata, 8, 40));
        Assert.Equal("pt", SafeTensorsFile.Parse(withMetadata, "empty").Header.Metadata["framework"]);
    }

    [Fact]
    public void GenericReaderAcceptsEveryDtypeAndScalarsAndEmptyTensors()
    {
        var tensors = new (string, string, IReadOnlyList<long>, byte[])[]
        {
            ("f64", "F64", new long[] { 2 }, new byte[16]),
            ("scalar", "I32", Array.Empty<long>(), new byte[4]),
            ("empty", "F32", new long[] { 0, 5 }, Array.Empty<byte>()),
            ("bf16", "BF16", new long[] { 3 }, new byte[6]),
            ("f4", "F4", new long[] { 2, 3 }, new byte[3]),
            ("mask", "BOOL", new long[] { 5 }, new byte[5]),
        };
        byte[] file = SafeTensorsWriter.Serialize(tensors, null);
        var header = SafeTensorsFile.Parse(file, "mixed").Header;
        Assert.Equal(6, header.Entries.Count);
        Assert.Equal(1, header.Find("scalar")!.ElementCount);
        Assert.Equal("[]", header.Find("scalar")!.ShapeText);
        Assert.Equal(0, header.Find("empty")!.ByteLength);
        Assert.Equal(3, header.Find("f4")!.ByteLength);

        // A CapsNet reader still refuses it, naming the first stranger.
        var e = Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Read(file, "mixed"));
        Assert.Equal("f64", e.TensorName);
    }

    [Fact]
    public void TinyCapsNetWrittenAsPythonWouldIsRead()
    {
        // save_file(tensors, path, metadata): __metadata__ first (a Rust HashMap, so in no particular order),
        // then all F32 tensors sorted by name, the data in that same order. Values here: tensor index + k/1024.
        var architecture = CapsNetArchitecture.Tiny;
        var specs = architecture.Tensors.OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        var metadata = architecture.ToMetadata().Reverse().Append(new KeyValuePair<string, string>("format", "pt"));

        var header = new StringBuilder("{\"__metadata__\":" + HandMadeFile.MetadataObject(metadata));
        var data = new List<byte>();
        foreach (var spec in specs)
        {
            int begin = data.Count;
            int tensorIndex = architecture.Tensors.ToList().FindIndex(t => t.Name == spec.Name);
            for (int k = 0; k < spec.ElementCount; k++)
            {
                var bytes = new byte[4];
                BinaryPrimitives.WriteSingleLittleEndian(bytes, tensorIndex + k / 1024f);
                data.AddRange(bytes);
            }
            header.Append($",\"{spec.Name}\":{{\"dtype\":\"F32\",\"shape\":{spec.ShapeText},\"data_offsets\":[{begin},{data.Count}]}}");
        }
        header.Append('}');
        byte[] json = Encoding.UTF8.GetBytes(header.ToString());
        byte[] file = HandMadeFile.Assemble(json, data.Count, pad: true, data: k => data[k]);
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(file) % 8);

        var weights = CapsNetWeightsFile.Read(file, "python.safetensors");
        Assert.Equal(architecture, weights.Architecture);
        Assert.Equal("pt", weights.Metadata["format"]);
        for (int t = 0; t < architecture.Tensors.Count; t++)
        {
            float[] values = weights[architecture.Tensors[t].Name];
            for (int k = 0; k < values.Length; k++) Assert.Equal(t + k / 1024f, values[k]);
        }
    }
}
