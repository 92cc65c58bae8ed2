namespace CapsEmbedded.IO;

/// <summary>
/// Opens a file for reading only after <c>stat</c> says it is a regular file no larger than the caller's limit: a FIFO
/// (which would block), a device such as /dev/zero (endless) or a directory is refused with a one-line
/// <see cref="IOException"/> before a byte is read, and a forged size never becomes an allocation.
/// </summary>
public static class InputFile
{
    /// <summary>Checks <paramref name="path"/>; returns its size.</summary>
    /// <exception cref="FileNotFoundException">Nothing is there.</exception>
    /// <exception cref="IOException">It is not a regular file, or larger than <paramref name="maxBytes"/>.</exception>
    public static long Check(string path, long maxBytes, string what)
    {
        if (string.IsNullOrEmpty(path)) throw new ArgumentException($"the {what} path is empty", nameof(path));
        var stat = FileStat.Of(path);
        switch (stat.Kind)
        {
            case FileKind.Regular:
                break;
            case FileKind.Missing:
                if (Directory.Exists(path) || File.Exists(path)) break; // stat refused (permissions): let open say why
                throw new FileNotFoundException($"{path}: no such file", path);
            case FileKind.Directory:
                throw new IOException($"{path}: is a directory, not {A(what)}");
            default:
                throw new IOException($"{path}: is {FileStat.Describe(stat.Kind)}, not a regular file; capsnet reads {A(what)} only from a regular file");
        }
        if (stat.Size > maxBytes)
            throw new IOException($"{path}: is {stat.Size:N0} bytes, more than the {maxBytes:N0} {A(what)} can be");
        return stat.Size;
    }

    /// <summary>Opens a checked regular file for reading.</summary>
    public static FileStream OpenRead(string path, long maxBytes, string what)
    {
        Check(path, maxBytes, what);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (stream.Length > maxBytes) // it grew between stat and open
        {
            stream.Dispose();
            throw new IOException($"{path}: is more than the {maxBytes:N0} bytes {A(what)} can be");
        }
        return stream;
    }

    /// <summary>Reads a checked regular file whole.</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        using var stream = OpenRead(path, maxBytes, what);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static string A(string noun) => ("aeiouAEIOU".Contains(noun[0]) ? "an " : "a ") + noun;
}
