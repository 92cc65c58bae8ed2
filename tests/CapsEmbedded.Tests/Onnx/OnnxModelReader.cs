using System.Text;

namespace CapsEmbedded.Tests.Onnx;

/// <summary>
/// Reads back the few ModelProto fields the structure tests look at (IR version, opset imports, op types, graph input
/// and output names), straight from the protobuf wire format: an independent check of the hand-written writer.
/// </summary>
internal sealed class OnnxModelReader
{
    public long IrVersion { get; private set; }
    public List<(string Domain, long Version)> Opsets { get; } = [];
    public List<(string OpType, string Domain)> Nodes { get; } = [];
    public List<string> Inputs { get; } = [];
    public List<string> Outputs { get; } = [];
    public List<string> Initializers { get; } = [];

    public static OnnxModelReader Read(byte[] model)
    {
        var reader = new OnnxModelReader();
        foreach (var (field, _, bytes) in Fields(model))
        {
            if (field == 1) reader.IrVersion = (long)Varint(bytes);
            else if (field == 8)
            {
                string domain = "";
                long version = 0;
                foreach (var (f, v, b) in Fields(bytes))
                    if (f == 1) domain = Encoding.UTF8.GetString(b);
                    else if (f == 2) version = (long)v;
                reader.Opsets.Add((domain, version));
            }
            else if (field == 7) reader.ReadGraph(bytes);
        }
        return reader;
    }

    private void ReadGraph(byte[] graph)
    {
        foreach (var (field, _, bytes) in Fields(graph))
        {
            if (field == 1)
            {
                string op = "", domain = "";
                foreach (var (f, _, b) in Fields(bytes))
                    if (f == 4) op = Encoding.UTF8.GetString(b);
                    else if (f == 7) domain = Encoding.UTF8.GetString(b);
                Nodes.Add((op, domain));
            }
            else if (field is 5 or 11 or 12)
            {
                int nameField = field == 5 ? 8 : 1;
                string name = Fields(bytes).Where(f => f.Field == nameField).Select(f => Encoding.UTF8.GetString(f.Bytes)).Single();
                (field == 5 ? Initializers : field == 11 ? Inputs : Outputs).Add(name);
            }
        }
    }

    // (field number, varint value, length-delimited payload or the raw fixed bytes) for each field of a message.
    private static IEnumerable<(int Field, ulong Value, byte[] Bytes)> Fields(byte[] message)
    {
        int position = 0;
        while (position < message.Length)
        {
            ulong tag = ReadVarint(message, ref position);
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            switch (wire)
            {
                case 0:
                    ulong value = ReadVarint(message, ref position);
                    yield return (field, value, BitConverter.GetBytes(value));
                    break;
                case 1:
                    yield return (field, 0, message[position..(position + 8)]);
                    position += 8;
                    break;
                case 2:
                    int length = checked((int)ReadVarint(message, ref position));
                    yield return (field, 0, message[position..(position + length)]);
                    position += length;
                    break;
                case 5:
                    yield return (field, 0, message[position..(position + 4)]);
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"wire type {wire} at byte {position}");
            }
        }
    }

    private static ulong Varint(byte[] bytes) => BitConverter.ToUInt64(bytes);

    private static ulong ReadVarint(byte[] data, ref int position)
    {
        ulong result = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
    }
}
