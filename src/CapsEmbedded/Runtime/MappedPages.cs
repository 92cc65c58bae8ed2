using System.Globalization;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Runtime;

/// <summary>
/// Lets go of the resident pages of a read-only file mapping once they have been read: packing widens the embedded weights
/// into native memory, after which the image's copy of them only adds to the process's resident memory (16 MB of F16 for
/// MNIST). On Linux, <c>madvise(MADV_DONTNEED)</c> unmaps them from this process; they stay in the page cache and fault
/// back in from the file if read again. Elsewhere, or on any mapping that could hold written pages, it does nothing.
/// </summary>
internal static unsafe class MappedPages
{
    private const int MadviseDontNeed = 4; // MADV_DONTNEED, the same on every Linux architecture

    private static readonly delegate* unmanaged<void*, nuint, int, int> s_madvise = FindMadvise();

    /// <summary>
    /// Whether <paramref name="address"/> lies in a file mapping (an inode, not [heap] or anonymous memory) that is not
    /// writable, private or shared: its pages are the file's, so dropping them loses nothing. A writable or anonymous mapping's pages may hold
    /// the only copy of their bytes, and MADV_DONTNEED would zero them or revert them to the file.
    /// </summary>
    public static bool CanRelease(void* address)
    {
        if (s_madvise is null) return false;
        try
        {
            ulong target = (ulong)address;
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                // start-end perms offset dev inode [path]
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 6) continue;
                int dash = fields[0].IndexOf('-');
                if (dash < 0) continue;
                ulong start = ulong.Parse(fields[0].AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                ulong end = ulong.Parse(fields[0].AsSpan(dash + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (target < start || target >= end) continue;
                return fields[1].Length >= 4 && fields[1][1] != 'w'
                    && fields[4] != "0" && fields[5].TrimStart().StartsWith('/');
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
        }
        return false;
    }

    /// <summary>
    /// Drops this process's pages that lie wholly inside [<paramref name="start"/>, +<paramref name="length"/>) (never a
    /// page shared with bytes outside it), for a range <see cref="CanRelease"/> approved.
    /// </summary>
    public static void Release(byte* start, long length)
    {
        if (s_madvise is null || length <= 0) return;
        nuint page = (nuint)Environment.SystemPageSize;
        nuint first = ((nuint)start + page - 1) & ~(page - 1);
        nuint end = ((nuint)start + (nuint)length) & ~(page - 1);
        if (end > first) _ = s_madvise((void*)first, end - first, MadviseDontNeed); // a hint: failure changes nothing
    }

    private static delegate* unmanaged<void*, nuint, int, int> FindMadvise()
    {
        if (!OperatingSystem.IsLinux()) return null;
        // libc's madvise through the process's global symbols (glibc or musl alike): no library name to guess.
        return NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "madvise", out nint address)
            ? (delegate* unmanaged<void*, nuint, int, int>)address
            : null;
    }
}
