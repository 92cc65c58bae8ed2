using System.Diagnostics;
using CapsEmbedded.IO;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Tests.IO;

/// <summary>
/// <see cref="AtomicFile"/>: replaces only regular files, writes through devices, FIFOs and /proc descriptors, follows
/// links, never touches a neighbour's file, and leaves nothing behind on failure or on SIGINT/SIGTERM.
/// </summary>
public sealed class AtomicFileTests() : TempDirectoryTest("capsnet-atomic-")
{
    private string[] Names() => Directory.GetFileSystemEntries(Dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    private static void Shell(string command)
    {
        using var p = Process.Start(new ProcessStartInfo("sh", ["-c", command]) { RedirectStandardError = true })!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"`{command}` failed: {p.StandardError.ReadToEnd()}");
    }

    [Fact]
    public void Replaces_a_regular_file_and_leaves_the_users_tmp_file_alone()
    {
        File.WriteAllText(P("x.txt"), "old");
        File.WriteAllText(P("x.txt.tmp"), "mine");
        AtomicFile.WriteText(P("x.txt"), "new");
        Assert.Equal("new", File.ReadAllText(P("x.txt")));
        Assert.Equal("mine", File.ReadAllText(P("x.txt.tmp")));
        Assert.Equal(["x.txt", "x.txt.tmp"], Names());
    }

    [Fact]
    public void A_failing_writer_keeps_the_old_file_and_leaves_no_temporary()
    {
        File.WriteAllText(P("x.txt"), "old");
        int duringWrite = -1;
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(P("x.txt"), s =>
        {
            s.Write("half"u8);
            duringWrite = AtomicFile.WritesInFlightIn(Dir);
            throw new InvalidOperationException("boom");
        }));
        Assert.Equal("old", File.ReadAllText(P("x.txt")));
        Assert.Equal(["x.txt"], Names());
        Assert.Equal(1, duringWrite); // registered for the signal cleanup while it ran…
        Assert.Equal(0, AtomicFile.WritesInFlightIn(Dir)); // …and no longer after it failed
    }

    [Fact]
    public async Task A_FIFO_is_written_through_and_stays_a_FIFO()
    {
        Shell($"mkfifo '{P("fifo")}'");
        var reader = Task.Run(() => File.ReadAllText(P("fifo")));
        AtomicFile.WriteText(P("fifo"), "through the pipe\n");
        Assert.Equal("through the pipe\n", await reader.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(FileKind.Fifo, FileStat.Of(P("fifo")).Kind);
        Assert.Equal(["fifo"], Names());
    }

    [Fact]
    public void A_character_device_and_a_link_to_one_are_written_through_never_replaced()
    {
        Shell($"mknod '{P("null")}' c 1 3 && ln -s /dev/null '{P("link")}'");
        AtomicFile.WriteText(P("null"), "gone");
        AtomicFile.WriteText(P("link"), "gone");
        Assert.Equal(FileKind.CharacterDevice, FileStat.Of(P("null")).Kind);
        Assert.Equal("/dev/null", new FileInfo(P("link")).LinkTarget);
        Assert.Equal(FileKind.CharacterDevice, FileStat.Of("/dev/null").Kind);
        Assert.Equal(["link", "null"], Names());
    }

    [Fact]
    public void A_proc_descriptor_like_dev_stdout_appends_to_the_open_file_instead_of_replacing_it()
    {
        using var open = new FileStream(P("out.txt"), FileMode.Create, FileAccess.Write, FileShare.ReadWrite);
        open.Write("report\n"u8);
        open.Flush();
        long fd = open.SafeFileHandle.DangerousGetHandle();
        Shell($"ln -s /proc/{Environment.ProcessId}/fd/{fd} '{P("stdout")}'");
        AtomicFile.WriteText(P("stdout"), "lengths\n");
        AtomicFile.WriteText($"/proc/self/fd/{fd}", "more\n");
        Assert.Equal("report\nlengths\nmore\n", File.ReadAllText(P("out.txt")));
        Assert.NotNull(new FileInfo(P("stdout")).LinkTarget);
        Assert.Equal(["out.txt", "stdout"], Names());
    }

    [Fact]
    public void A_symlink_is_followed_the_link_stays_and_its_target_is_replaced()
    {
        Directory.CreateDirectory(P("real"));
        File.WriteAllText(P("real/w.bin"), "old");
        File.CreateSymbolicLink(P("latest"), P("real/w.bin"));
        AtomicFile.WriteText(P("latest"), "new");
        Assert.Equal(P("real/w.bin"), new FileInfo(P("latest")).LinkTarget);
        Assert.Equal("new", File.ReadAllText(P("real/w.bin")));
        Assert.Equal(["w.bin"], Directory.GetFileSystemEntries(P("real")).Select(f => Path.GetFileName(f)).ToArray());
    }

    [Fact]
    public void Directories_empty_paths_and_missing_directories_are_refused_before_anything_is_written()
    {
        Assert.Contains("is a directory", Assert.Throws<IOException>(() => AtomicFile.WriteText(Dir, "x")).Message);
        Assert.Contains("is a directory", Assert.Throws<IOException>(() => AtomicFile.WriteText(P("sub") + "/", "x")).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => AtomicFile.WriteText("", "x")).Message);
        Assert.Contains("does not exist", Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteText(P("no/such/file"), "x")).Message);
        Shell($"mksock() {{ python3 -c \"import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])\" \"$1\"; }}; mksock '{P("sock")}'");
        Assert.Contains("socket", Assert.Throws<IOException>(() => AtomicFile.WriteText(P("sock"), "x")).Message);
        Assert.Equal(["sock"], Names());
    }

    [Fact]
    public void Temporary_names_are_hidden_beside_the_target_and_unique_across_threads()
    {
        string target = P("x.txt");
        var names = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 2000; i++) names.Add(AtomicFile.TemporaryName(target));
        });
        Assert.Equal(16_000, names.Distinct(StringComparer.Ordinal).Count());
        Assert.All(names, name =>
        {
            Assert.Equal(Dir, Path.GetDirectoryName(name));
            Assert.Matches(@"^\.x\.txt\.[0-9a-f]+-[0-9a-f]+-[0-9a-f]+\.tmp$", Path.GetFileName(name));
        });
    }

    [Fact]
    public void A_taken_temporary_name_is_skipped_and_the_file_or_link_there_is_left_alone()
    {
        File.WriteAllText(P("taken-file"), "theirs");
        File.CreateSymbolicLink(P("taken-link"), P("nowhere")); // dangling: O_EXCL refuses it as well
        var offered = new Queue<string>([P("taken-file"), P("taken-link"), P("free")]);
        using (var stream = AtomicFile.CreateTemporary(P("x.txt"), _ => offered.Dequeue(), out string temporary))
        {
            Assert.Equal(P("free"), temporary);
            Assert.Equal(1, AtomicFile.WritesInFlightIn(Dir));
        }
        Assert.Empty(offered);
        Assert.Equal("theirs", File.ReadAllText(P("taken-file")));
        Assert.Equal(P("nowhere"), new FileInfo(P("taken-link")).LinkTarget);
        File.Delete(P("free"));
    }

    [Fact]
    public void When_every_name_tried_is_taken_the_write_fails_and_deletes_nothing()
    {
        File.WriteAllText(P("taken"), "theirs");
        int tries = 0;
        Assert.Throws<IOException>(() => AtomicFile.CreateTemporary(P("x.txt"), _ => { tries++; return P("taken"); }, out _));
        Assert.Equal(16, tries);
        Assert.Equal("theirs", File.ReadAllText(P("taken")));
        Assert.Equal(0, AtomicFile.WritesInFlightIn(Dir));
        Assert.Equal(["taken"], Names());
    }

    [Fact]
    public void Concurrent_writes_to_one_target_all_succeed_and_leave_no_temporary()
    {
        Parallel.For(0, 8, thread =>
        {
            for (int i = 0; i < 25; i++) AtomicFile.WriteText(P("x.txt"), $"{thread} {i}");
        });
        Assert.Matches(@"^[0-7] 24$", File.ReadAllText(P("x.txt")));
        Assert.Equal(["x.txt"], Names());
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public void A_signal_during_a_write_removes_the_temporary_file(string signal)
    {
        PosixSignals.AssertInterruptReachesChildren(signal);
        string probe = Path.Combine(AppContext.BaseDirectory, "CapsEmbedded.TierProbe.dll");
        using var child = ChildProcess.Start(probe, ["hold-atomic-write", P("w.bin")]);
        Assert.Equal("writing", child.StandardOutput.ReadLine());
        Assert.Single(Directory.GetFiles(Dir, ".w.bin.*.tmp")); // the write really is in flight
        PosixSignals.Send(child.Id, signal);
        Assert.True(child.WaitForExit(30_000), "the child did not end on the signal");
        Assert.NotEqual(0, child.ExitCode);
        Assert.Empty(Names());
    }
}

