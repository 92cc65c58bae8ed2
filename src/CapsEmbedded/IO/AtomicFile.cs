using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace CapsEmbedded.IO;

/// <summary>
/// The one way capsnet writes a file. A regular file (or a missing path) is replaced atomically: the bytes go to a
/// uniquely named temporary file beside the target (<c>.NAME.PID-COUNT-RANDOM.tmp</c>, created exclusively, so a user's
/// <c>NAME.tmp</c> is never touched, and another name is tried if it exists), are flushed to disk and renamed over the
/// target, so readers see the old file or the new one. A character device or FIFO (<c>/dev/null</c>, a pipe, a
/// terminal) and a path that leads through <c>/proc</c> (<c>/dev/stdout</c>, <c>/dev/fd/N</c>) are written straight
/// through, never replaced. Symbolic links are followed deliberately: the link stays and the file it points to is
/// replaced. A directory, a block device or a socket is refused. The temporary file is deleted on every exit path:
/// exceptions, and SIGINT/SIGTERM while a write is in flight (unless another handler cancels the signal, as
/// <c>capsnet train</c> does to checkpoint and stop).
/// </summary>
public static class AtomicFile
{
    private static readonly ConcurrentDictionary<string, byte> InFlight = new(StringComparer.Ordinal);
    private static readonly Lock SignalGate = new();
    private static PosixSignalRegistration? _onInterrupt, _onTerminate;
    private static long _temporaryCount;

    /// <summary>How a target will be written.</summary>
    public enum Mode
    {
        /// <summary>Temporary file, flush, rename over the regular file (or missing path).</summary>
        Replace,
        /// <summary>Straight into the existing device, FIFO or descriptor.</summary>
        WriteThrough,
    }

    /// <summary>
    /// Checks, before any work is done, that <paramref name="path"/> can be written: not empty, not a directory, its
    /// directory exists, not a block device or socket. Returns how it will be written and whether a file is there.
    /// </summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    /// <exception cref="IOException">The path cannot be an output (the message says why).</exception>
    public static (Mode Mode, bool Exists, string Target) Check(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("the output path is empty", nameof(path));
        if (path.EndsWith('/') || path.EndsWith(Path.DirectorySeparatorChar))
            throw new IOException($"{path}: is a directory; give a file name");
        var stat = FileStat.Of(path);
        switch (stat.Kind)
        {
            case FileKind.Directory:
                throw new IOException($"{path}: is a directory; give a file name");
            case FileKind.CharacterDevice or FileKind.Fifo:
                return (Mode.WriteThrough, true, path);
            case FileKind.BlockDevice or FileKind.Socket or FileKind.Other:
                throw new IOException($"{path}: is {FileStat.Describe(stat.Kind)}; refusing to write into it");
        }
        (string target, bool throughProc) = Resolve(path);
        if (throughProc) return (Mode.WriteThrough, stat.Kind != FileKind.Missing, path);
        string directory = Path.GetDirectoryName(target) ?? throw new IOException($"{path}: has no directory");
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{path}: directory {directory} does not exist");
        if (CannotCreateIn(directory, target) is { } why)
            throw new IOException($"{path}: cannot create files in {directory} ({why})");
        return (Mode.Replace, stat.Kind == FileKind.Regular, target);
    }

    /// <summary>
    /// What is wrong with <paramref name="path"/> as the output of <paramref name="flag"/>, as one line naming the flag,
    /// or null: what <see cref="Check"/> refuses, and an existing regular file unless <paramref name="overwrite"/>
    /// (<paramref name="existsHint"/> says what to do then). Devices and FIFOs (/dev/null, /dev/stdout) never "exist".
    /// </summary>
    public static string? OutputProblem(string? path, string flag, bool overwrite, string existsHint = "pass --force to overwrite it")
    {
        try
        {
            var target = Check(path ?? "");
            return !overwrite && target.Mode == Mode.Replace && target.Exists ? $"{flag} {UntrustedText.Quote(path)} exists; {existsHint}" : null;
        }
        catch (ArgumentException)
        {
            return $"{flag} is empty; give a file name";
        }
        catch (IOException e)
        {
            return $"{flag} {e.Message}";
        }
        catch (UnauthorizedAccessException)
        {
            return $"{flag} {UntrustedText.Quote(path)}: permission denied";
        }
    }

    /// <summary>
    /// Two outputs of one command that are one file (the same path, or reached through links), as a one-line problem
    /// naming both flags, or null: the later write would replace the earlier. Devices and FIFOs are written through
    /// and never collide. Each path must have passed <see cref="Check"/>.
    /// </summary>
    public static string? CollisionProblem(IEnumerable<(string Path, string Flag)> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var seen = new Dictionary<(long, long, string), string>();
        foreach (var (path, flag) in outputs)
        {
            var (mode, exists, target) = Check(path);
            if (mode != Mode.Replace) continue;
            // An existing file by its inode (hard links too); a new one by its directory's inode and its name.
            var file = exists ? FileStat.Of(target).Identity : default;
            var directory = FileStat.Of(Path.GetDirectoryName(target)!).Identity;
            var key = file != default ? (file.Device, file.Inode, "")
                : directory != default ? (directory.Device, directory.Inode, Path.GetFileName(target)) : (0L, 0L, target);
            if (seen.TryGetValue(key, out string? earlier))
                return $"{flag} {UntrustedText.Quote(path)} is the same file as {earlier}; give them different names";
            seen[key] = flag;
        }
        return null;
    }

    // Whether the rename's temporary file can be created beside the target (read-only mount, permissions, /sys, a full
    // inode table): found out by creating one, before the work whose result would be lost. Null when it can.
    private static string? CannotCreateIn(string directory, string target)
    {
        try
        {
            using (new FileStream(TemporaryName(target), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return "permission denied";
        }
        catch (IOException e)
        {
            return e.Message.Split(" : ")[0].TrimEnd('.');
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> (see the class summary for how).</summary>
    public static void Write(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, stream => stream.Write(bytes));
    }

    /// <summary>Writes UTF-8 text without a byte-order mark.</summary>
    public static void WriteText(string path, string text) => Write(path, new UTF8Encoding(false).GetBytes(text));

    /// <summary>Lets <paramref name="write"/> fill the file through a stream; an exception from it leaves the target untouched.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var (mode, _, target) = Check(path);
        if (mode == Mode.WriteThrough)
        {
            // Append: through /dev/stdout redirected to a file this continues after what the process already wrote.
            using var through = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 1 << 16);
            write(through);
            through.Flush();
            return;
        }
        EnsureSignalCleanup();
        var stream = CreateTemporary(target, TemporaryName, out string temporary);
        try
        {
            using (stream)
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
        finally
        {
            InFlight.TryRemove(temporary, out _);
        }
    }

    /// <summary>
    /// Creates the temporary file for <paramref name="target"/> exclusively (<c>O_EXCL</c>) under a name from
    /// <paramref name="nextName"/>, trying another name while the one given exists (someone else's file: never opened,
    /// never deleted), and registers it for the signal cleanup.
    /// </summary>
    internal static FileStream CreateTemporary(string target, Func<string, string> nextName, out string temporary)
    {
        const int Attempts = 16;
        for (int attempt = 1; ; attempt++)
        {
            temporary = nextName(target);
            try
            {
                var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                InFlight[temporary] = 0;
                return stream;
            }
            catch (IOException) when (attempt < Attempts && NameIsTaken(temporary))
            {
            }
        }
    }

    // File.Exists is true for a dangling link too, which O_EXCL also refuses to create through.
    private static bool NameIsTaken(string path) => File.Exists(path) || Directory.Exists(path);

    /// <summary>
    /// <c>.NAME.PID-COUNT-RANDOM.tmp</c> beside <paramref name="target"/>: the process id and a per-process counter keep
    /// this machine's writers apart, the random part writers in other PID namespaces sharing the folder. Not from a
    /// cryptographic generator: on Linux that is OpenSSL, which a minimal system lacks (and .NET aborts without it);
    /// uniqueness is guarded by the exclusive creation, not by the name.
    /// </summary>
    internal static string TemporaryName(string target)
    {
        long count = Interlocked.Increment(ref _temporaryCount);
        string name = string.Create(CultureInfo.InvariantCulture,
            $".{Path.GetFileName(target)}.{Environment.ProcessId:x}-{count:x}-{Random.Shared.NextInt64():x}.tmp");
        return Path.Combine(Path.GetDirectoryName(target)!, name);
    }

    /// <summary>
    /// Writes in flight now whose temporary file is in <paramref name="directory"/> (for tests: other tests' writes run in
    /// parallel in the same process, so a process-wide count would race).
    /// </summary>
    internal static int WritesInFlightIn(string directory)
    {
        string full = Path.GetFullPath(directory).TrimEnd('/');
        return InFlight.Keys.Count(t => string.Equals(Path.GetDirectoryName(t), full, StringComparison.Ordinal));
    }

    // Follows the chain of links by hand (at most 40 hops, as Linux does): the final target is what gets replaced, and a
    // hop into /proc (/dev/stdout -> /proc/self/fd/1) means a descriptor that must be written through, not renamed over.
    private static (string Target, bool ThroughProc) Resolve(string path)
    {
        string current = Path.GetFullPath(path);
        bool IsProc(string p) => p.StartsWith("/proc/", StringComparison.Ordinal) || p.StartsWith("/dev/fd/", StringComparison.Ordinal);
        if (IsProc(current)) return (current, true);
        for (int hop = 0; hop < 40; hop++)
        {
            string? link = new FileInfo(current).LinkTarget;
            if (link is null) return (current, false);
            current = Path.GetFullPath(link, Path.GetDirectoryName(current)!);
            if (IsProc(current)) return (current, true);
        }
        throw new IOException($"{path}: too many levels of symbolic links");
    }

    /// <summary>
    /// Registers the cleanup of half-written files on SIGINT/SIGTERM (done at the first write otherwise). .NET runs a
    /// signal's handlers last-registered first and stops at one that cancels the signal, so code that turns a signal
    /// into a graceful stop calls this before registering its own handler: a cancelled signal then leaves an in-flight
    /// write (a checkpoint being saved) alone, and an uncancelled one still removes its temporary file.
    /// </summary>
    internal static void EnsureSignalCleanup()
    {
        if (_onInterrupt is not null || OperatingSystem.IsBrowser() || OperatingSystem.IsIOS() || OperatingSystem.IsTvOS()) return;
        lock (SignalGate)
        {
            if (_onInterrupt is not null) return;
            try
            {
                _onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
                _onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            }
            catch (PlatformNotSupportedException)
            {
            }
        }
    }

    // The signal will end the process (nobody cancelled it): remove the half-written files first.
    private static void OnSignal(PosixSignalContext context)
    {
        if (context.Cancel) return;
        foreach (string temporary in InFlight.Keys) TryDelete(temporary);
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
