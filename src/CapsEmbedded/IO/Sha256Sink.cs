namespace CapsEmbedded.IO;

/// <summary>
/// A write-only stream that keeps nothing but the SHA-256 of what was written (<see cref="Sha256"/>): the hash of bytes
/// a writer would produce, without holding them (MultiMNIST's 130 MB image file is compared this way before a write).
/// </summary>
public sealed class Sha256Sink : Stream
{
    private readonly Sha256 _hash = new();

    /// <summary>The lower-case hex SHA-256 of everything written so far; the sink starts again empty.</summary>
    public string Finish()
    {
        Span<byte> digest = stackalloc byte[Sha256.HashSize];
        _hash.Finish(digest);
        return Convert.ToHexStringLower(digest);
    }

    public override void Write(ReadOnlySpan<byte> buffer) => _hash.Append(buffer);
    public override void Write(byte[] buffer, int offset, int count) => _hash.Append(buffer.AsSpan(offset, count));
    public override void WriteByte(byte value) => _hash.Append([value]);
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
