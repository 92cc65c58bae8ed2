namespace CapsEmbedded.Data;

/// <summary>
/// Reads a declared number of bytes from a stream without trusting the declaration: the buffer grows only as data
/// actually arrives, so a forged header ("2 GB follow") in a 100-byte file cannot make us allocate 2 GB.
/// </summary>
internal static class BoundedReader
{
    private const int InitialChunk = 1 << 16;

    /// <summary>Reads up to <paramref name="expected"/> bytes; returns how many were read (fewer means the stream ended).</summary>
    public static int ReadUpTo(Stream stream, int expected, out byte[] buffer)
    {
        buffer = new byte[Math.Min(expected, InitialChunk)];
        int filled = 0;
        while (filled < expected)
        {
            if (filled == buffer.Length)
                Array.Resize(ref buffer, (int)Math.Min(expected, 2L * buffer.Length));
            int read = stream.Read(buffer, filled, buffer.Length - filled);
            if (read == 0)
                break;
            filled += read;
        }
        return filled;
    }

    /// <summary>Counts the bytes left in the stream, stopping at <paramref name="limit"/> (a gzip bomb is not worth counting).</summary>
    public static long CountRemaining(Stream stream, long limit)
    {
        Span<byte> scratch = stackalloc byte[4096];
        long total = 0;
        while (total < limit)
        {
            int read = stream.Read(scratch);
            if (read == 0)
                break;
            total += read;
        }
        return total;
    }
}
