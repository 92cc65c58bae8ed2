using System.Runtime.InteropServices;
using System.Text;

namespace CapsEmbedded.IO;

/// <summary>What a path names, from <c>stat(2)</c> (links followed): the readers and writers decide by it before opening.</summary>
public enum FileKind
{
    Missing,
    Regular,
    Directory,
    CharacterDevice,
    BlockDevice,
    Fifo,
    Socket,
    Other,
}

/// <summary>The kind and size of a path, read with one <c>stat</c> call, so a FIFO is never opened (that blocks) to find out.</summary>
public readonly record struct FileStat(FileKind Kind, long Size)
{
    /// <summary>
    /// The file's device and inode: two paths name one file (through a symbolic or hard link, "./", a bind mount) exactly
    /// when these are equal. (0, 0) when the path is missing or the platform did not say.
    /// </summary>
    public (long Device, long Inode) Identity { get; init; }

    /// <summary>Stats <paramref name="path"/>, following symbolic links (as the kernel does for /dev/stdout).</summary>
    public static FileStat Of(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!OperatingSystem.IsWindows())
        {
            try
            {
                return Native(path);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // No System.Native entry point (unexpected): fall back to what FileSystemInfo can tell.
            }
        }
        if (Directory.Exists(path)) return new FileStat(FileKind.Directory, 0);
        var file = new FileInfo(path);
        return file.Exists ? new FileStat(FileKind.Regular, file.Length) : new FileStat(FileKind.Missing, 0);
    }

    /// <summary>"a FIFO", "a character device", …: for messages.</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Missing => "missing",
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.Socket => "a socket",
        _ => "not a regular file",
    };

    // The runtime's own portable stat (libSystem.Native, shipped with every .NET and linked into NativeAOT binaries):
    // its FileStatus (src/native/libs/System.Native/pal_io.h) is the same on every Unix and architecture.
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct NativeStatus
    {
        public int Flags;
        public int Mode;
        public uint Uid;
        public uint Gid;
        public long Size;
        public long ATime, ATimeNsec, MTime, MTimeNsec, CTime, CTimeNsec, BirthTime, BirthTimeNsec;
        public long Dev;
        public long RDev;
        public long Ino;
    }

    [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat", SetLastError = true)]
    private static extern unsafe int SystemNativeStat(byte* path, NativeStatus* status);

    private static unsafe FileStat Native(string path)
    {
        byte[] utf8 = new byte[Encoding.UTF8.GetByteCount(path) + 1];
        Encoding.UTF8.GetBytes(path, utf8);
        NativeStatus status = default;
        int result;
        fixed (byte* p = utf8) result = SystemNativeStat(p, &status);
        if (result != 0) return new FileStat(FileKind.Missing, 0); // ENOENT, ENOTDIR, EACCES: opening reports the exact error
        var kind = (status.Mode & 0xF000) switch // S_IFMT
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0x1000 => FileKind.Fifo,
            0xC000 => FileKind.Socket,
            _ => FileKind.Other,
        };
        return new FileStat(kind, kind == FileKind.Regular ? status.Size : 0) { Identity = (status.Dev, status.Ino) };
    }
}
