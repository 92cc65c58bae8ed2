using System.Buffers.Binary;
using System.Text;

namespace CapsEmbedded.Onnx;

/// <summary>
/// The protobuf wire format, just enough for ONNX: varints, 32-bit floats, length-delimited bytes, strings and
/// nested messages (written into a child writer, then copied behind their length).
/// </summary>
internal sealed class ProtoWriter
{
    private const int Varint = 0, Fixed32 = 5, LengthDelimited = 2;
    private byte[] _buffer;
    private int _length;

    public ProtoWriter(int capacity = 256) => _buffer = new byte[Math.Max(16, capacity)];

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public void Int64(int field, long value)
    {
        Tag(field, Varint);
        RawVarint((ulong)value); // negative int64 values take 10 bytes, as protobuf specifies
    }

    public void Float(int field, float value)
    {
        Tag(field, Fixed32);
        BinaryPrimitives.WriteSingleLittleEndian(Reserve(4), value);
    }

    public void String(int field, string value)
    {
        int count = Encoding.UTF8.GetByteCount(value);
        Tag(field, LengthDelimited);
        RawVarint((ulong)count);
        Encoding.UTF8.GetBytes(value, Reserve(count));
    }

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, LengthDelimited);
        RawVarint((ulong)value.Length);
        value.CopyTo(Reserve(value.Length));
    }

    /// <summary>A repeated int64 field, packed (proto3's default encoding; parsers accept it for proto2 too).</summary>
    public void PackedInt64(int field, ReadOnlySpan<long> values)
    {
        var packed = new ProtoWriter(values.Length * 2 + 8);
        foreach (long v in values) packed.RawVarint((ulong)v);
        Bytes(field, packed.Written);
    }

    public void Message(int field, Action<ProtoWriter> write, int capacity = 256)
    {
        var child = new ProtoWriter(capacity);
        write(child);
        Bytes(field, child.Written);
    }

    private void Tag(int field, int wireType) => RawVarint(((ulong)field << 3) | (uint)wireType);

    private void RawVarint(ulong value)
    {
        while (value >= 0x80)
        {
            Reserve(1)[0] = (byte)(value | 0x80);
            value >>= 7;
        }
        Reserve(1)[0] = (byte)value;
    }

    private Span<byte> Reserve(int count)
    {
        if (_length + count > _buffer.Length)
        {
            long size = Math.Max((long)_buffer.Length * 2, (long)_length + count);
            if (size > Array.MaxLength) throw new InvalidOperationException("the ONNX model would exceed 2 GB, protobuf's limit");
            Array.Resize(ref _buffer, (int)size);
        }
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}
