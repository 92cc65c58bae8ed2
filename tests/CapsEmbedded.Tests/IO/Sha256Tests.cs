using System.Text;
using CapsEmbedded.IO;
using SystemSha256 = System.Security.Cryptography.SHA256;

namespace CapsEmbedded.Tests.IO;

/// <summary>
/// The managed <see cref="Sha256"/> against FIPS 180-4's examples and against the system's SHA-256 (OpenSSL, which the
/// tests may use) on random inputs, in one piece, from a stream and appended in pieces.
/// </summary>
public sealed class Sha256Tests
{
    private static string Hex(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[Sha256.HashSize];
        Sha256.Hash(data, digest);
        return Convert.ToHexStringLower(digest);
    }

    private static string SystemHex(byte[] data) => Convert.ToHexStringLower(SystemSha256.HashData(data));

    private static byte[] RandomBytes(int seed, int length)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    // FIPS 180-4's examples (NIST's "SHA256.pdf", and the one-million-'a' message of FIPS 180-2, appendix B.3).
    [Theory]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    [InlineData("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")]
    public void Known_vectors(string message, string expected)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(message);
        Assert.Equal(expected, Hex(bytes));
        Assert.Equal(expected, FileHash.Sha256(bytes));
        Assert.Equal(expected, FileHash.Sha256(new MemoryStream(bytes)));
    }

    [Fact]
    public void One_million_a_in_one_piece_and_in_pieces_of_1000()
    {
        const string Expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
        byte[] million = new byte[1_000_000];
        million.AsSpan().Fill((byte)'a');
        Assert.Equal(Expected, Hex(million));

        var sha = new Sha256();
        for (int i = 0; i < 1000; i++) sha.Append(million.AsSpan(0, 1000));
        Span<byte> digest = stackalloc byte[Sha256.HashSize];
        sha.Finish(digest);
        Assert.Equal(Expected, Convert.ToHexStringLower(digest));
    }

    // Every padding case: lengths 0..300 cover 0..63 bytes left over in the last block on both sides of 56.
    [Fact]
    public void Random_inputs_of_every_length_0_to_300_match_the_system()
    {
        for (int length = 0; length <= 300; length++)
        {
            byte[] data = RandomBytes(length, length);
            Assert.True(SystemHex(data) == Hex(data), $"length {length}");
        }
    }

    [Theory]
    [InlineData(1 << 20)]
    [InlineData(3 * (1 << 20) + 17)] // a stream read in 64 KiB pieces whose last one is not a whole block
    public void Megabytes_from_a_span_and_from_a_stream_match_the_system(int length)
    {
        byte[] data = RandomBytes(length, length);
        string expected = SystemHex(data);
        Assert.Equal(expected, Hex(data));
        Assert.Equal(expected, FileHash.Sha256(new MemoryStream(data)));
    }

    [Fact]
    public void Two_appends_split_at_every_boundary_0_to_130_give_the_one_piece_digest()
    {
        byte[] data = RandomBytes(7, 200);
        string expected = SystemHex(data);
        var sha = new Sha256(); // reused: Finish starts a new message
        Span<byte> digest = stackalloc byte[Sha256.HashSize];
        for (int split = 0; split <= 130; split++)
        {
            sha.Append(data.AsSpan(0, split));
            sha.Append(data.AsSpan(split));
            sha.Finish(digest);
            Assert.True(expected == Convert.ToHexStringLower(digest), $"split at {split}");
        }
    }

    [Fact]
    public void Appends_of_every_size_1_to_130_give_the_one_piece_digest()
    {
        byte[] data = RandomBytes(11, 1000);
        string expected = SystemHex(data);
        var sha = new Sha256();
        Span<byte> digest = stackalloc byte[Sha256.HashSize];
        for (int piece = 1; piece <= 130; piece++)
        {
            for (int start = 0; start < data.Length; start += piece) sha.Append(data.AsSpan(start, Math.Min(piece, data.Length - start)));
            sha.Finish(digest);
            Assert.True(expected == Convert.ToHexStringLower(digest), $"pieces of {piece}");
        }
    }

    [Fact]
    public void Appending_allocates_nothing_per_block()
    {
        byte[] data = RandomBytes(3, 1 << 20);
        var sha = new Sha256();
        Span<byte> digest = stackalloc byte[Sha256.HashSize];
        sha.Append(data.AsSpan(0, 100)); // first call outside the measurement
        sha.Finish(digest);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int start = 0; start < data.Length; start += 1000) sha.Append(data.AsSpan(start, Math.Min(1000, data.Length - start)));
        sha.Finish(digest);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(SystemHex(data), Convert.ToHexStringLower(digest));
    }

    [Fact]
    public void A_digest_destination_shorter_than_32_bytes_is_refused()
    {
        var sha = new Sha256();
        var e = Assert.Throws<ArgumentException>(() => sha.Finish(new byte[31]));
        Assert.Contains("32 bytes", e.Message);
    }

    [Fact]
    public void The_sink_hashes_what_is_written_to_it_in_any_pieces()
    {
        var random = new Random(34);
        byte[] data = new byte[100_003];
        random.NextBytes(data);
        using var sink = new Sha256Sink();
        for (int at = 0; at < data.Length;)
        {
            int piece = Math.Min(random.Next(1, 5000), data.Length - at);
            if (piece == 1) sink.WriteByte(data[at]); else sink.Write(data, at, piece);
            at += piece;
        }
        Assert.Equal(Convert.ToHexStringLower(SystemSha256.HashData(data)), sink.Finish());
        Assert.Equal(Convert.ToHexStringLower(SystemSha256.HashData(Array.Empty<byte>())), sink.Finish()); // starts again empty
    }
}
