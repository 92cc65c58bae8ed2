using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;

namespace CapsEmbedded.IO;

/// <summary>
/// SHA-256 (FIPS 180-4) in plain managed code. .NET's own SHA-256 on Linux is OpenSSL's, and .NET aborts the process
/// (no exception to catch) where libssl is missing, as on a minimal embedded image; capsnet only hashes to name and
/// check files, so it needs no cryptographic library. Incremental: <see cref="Append"/> any number of spans, then
/// <see cref="Finish"/>; nothing is allocated per block. One instance is not thread-safe.
/// </summary>
public sealed class Sha256
{
    /// <summary>Bytes in a digest.</summary>
    public const int HashSize = 32;

    private const int BlockSize = 64;

    // §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
    private static ReadOnlySpan<uint> K =>
    [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];

    // §5.3.3: the first 32 bits of the fractional parts of the square roots of the first 8 primes.
    private static ReadOnlySpan<uint> InitialHash => [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

    private readonly uint[] _hash = new uint[8];
    private readonly byte[] _pending = new byte[BlockSize]; // the start of a block that Append has not completed yet
    private int _pendingLength;
    private ulong _messageLength; // bytes appended since the last Finish

    public Sha256() => Reset();

    /// <summary>The digest of <paramref name="data"/> into <paramref name="digest"/> (<see cref="HashSize"/> bytes).</summary>
    public static void Hash(ReadOnlySpan<byte> data, Span<byte> digest)
    {
        var sha = new Sha256();
        sha.Append(data);
        sha.Finish(digest);
    }

    /// <summary>The digest of what is left to read in <paramref name="stream"/> (read to its end) into <paramref name="digest"/>.</summary>
    public static void Hash(Stream stream, Span<byte> digest)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var sha = new Sha256();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            int read;
            while ((read = stream.Read(buffer)) > 0) sha.Append(buffer.AsSpan(0, read));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        sha.Finish(digest);
    }

    /// <summary>Adds <paramref name="data"/> to the message.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        _messageLength += (ulong)data.Length;
        if (_pendingLength > 0)
        {
            int take = Math.Min(BlockSize - _pendingLength, data.Length);
            data[..take].CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += take;
            data = data[take..];
            if (_pendingLength < BlockSize) return;
            Compress(_pending);
            _pendingLength = 0;
        }
        for (; data.Length >= BlockSize; data = data[BlockSize..]) Compress(data[..BlockSize]);
        data.CopyTo(_pending);
        _pendingLength = data.Length;
    }

    /// <summary>
    /// Writes the digest of everything appended into <paramref name="digest"/> (at least <see cref="HashSize"/> bytes)
    /// and starts a new, empty message.
    /// </summary>
    public void Finish(Span<byte> digest)
    {
        if (digest.Length < HashSize)
            throw new ArgumentException($"the digest needs {HashSize} bytes, the destination has {digest.Length}", nameof(digest));
        // §5.1.1: a 1 bit, zeros up to 56 bytes mod 64, then the message length in bits as a 64-bit big-endian number.
        ulong lengthInBits = _messageLength * 8;
        Span<byte> padding = stackalloc byte[BlockSize + 8];
        padding.Clear();
        padding[0] = 0x80;
        int zerosEnd = (_pendingLength < BlockSize - 8 ? BlockSize - 8 : 2 * BlockSize - 8) - _pendingLength;
        BinaryPrimitives.WriteUInt64BigEndian(padding[zerosEnd..], lengthInBits);
        Append(padding[..(zerosEnd + 8)]);
        for (int i = 0; i < 8; i++) BinaryPrimitives.WriteUInt32BigEndian(digest[(4 * i)..], _hash[i]);
        Reset();
    }

    private void Reset()
    {
        InitialHash.CopyTo(_hash);
        _pendingLength = 0;
        _messageLength = 0;
    }

    // §6.2.2: one 512-bit block into the hash value.
    private void Compress(ReadOnlySpan<byte> block)
    {
        Span<uint> w = stackalloc uint[64]; // the message schedule
        for (int t = 0; t < 16; t++) w[t] = BinaryPrimitives.ReadUInt32BigEndian(block[(4 * t)..]);
        for (int t = 16; t < 64; t++) w[t] = SmallSigma1(w[t - 2]) + w[t - 7] + SmallSigma0(w[t - 15]) + w[t - 16];

        uint a = _hash[0], b = _hash[1], c = _hash[2], d = _hash[3], e = _hash[4], f = _hash[5], g = _hash[6], h = _hash[7];
        ReadOnlySpan<uint> k = K;
        for (int t = 0; t < 64; t++)
        {
            uint t1 = h + BigSigma1(e) + Ch(e, f, g) + k[t] + w[t];
            uint t2 = BigSigma0(a) + Maj(a, b, c);
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        _hash[0] += a;
        _hash[1] += b;
        _hash[2] += c;
        _hash[3] += d;
        _hash[4] += e;
        _hash[5] += f;
        _hash[6] += g;
        _hash[7] += h;
    }

    // §4.1.2, equations (4.2)-(4.7).
    private static uint Ch(uint x, uint y, uint z) => (x & y) ^ (~x & z);
    private static uint Maj(uint x, uint y, uint z) => (x & y) ^ (x & z) ^ (y & z);
    private static uint BigSigma0(uint x) => BitOperations.RotateRight(x, 2) ^ BitOperations.RotateRight(x, 13) ^ BitOperations.RotateRight(x, 22);
    private static uint BigSigma1(uint x) => BitOperations.RotateRight(x, 6) ^ BitOperations.RotateRight(x, 11) ^ BitOperations.RotateRight(x, 25);
    private static uint SmallSigma0(uint x) => BitOperations.RotateRight(x, 7) ^ BitOperations.RotateRight(x, 18) ^ (x >> 3);
    private static uint SmallSigma1(uint x) => BitOperations.RotateRight(x, 17) ^ BitOperations.RotateRight(x, 19) ^ (x >> 10);
}
