namespace CapsEmbedded.IO;

/// <summary>
/// The one place files are hashed: SHA-256 as lower-case hex (weight provenance, data set verification), by the managed
/// <see cref="IO.Sha256"/>, so no path that hashes needs OpenSSL.
/// </summary>
public static class FileHash
{
    public static string Sha256(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Sha256(stream);
    }

    public static string Sha256(Stream stream)
    {
        Span<byte> digest = stackalloc byte[IO.Sha256.HashSize];
        IO.Sha256.Hash(stream, digest);
        return Convert.ToHexStringLower(digest);
    }

    public static string Sha256(ReadOnlySpan<byte> bytes)
    {
        Span<byte> digest = stackalloc byte[IO.Sha256.HashSize];
        IO.Sha256.Hash(bytes, digest);
        return Convert.ToHexStringLower(digest);
    }
}
