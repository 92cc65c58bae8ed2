using System.Formats.Tar;

namespace CapsEmbedded.Data;

/// <summary>Copies chosen regular files out of a tar stream, matched by their last path segment; nothing else is written.</summary>
internal static class TarExtractor
{
    /// <summary>The one <paramref name="pattern"/> file that <paramref name="command"/> left in <paramref name="directory"/>.</summary>
    public static string OnlyDownload(string directory, string pattern, string command)
    {
        string[] files = Directory.GetFiles(directory, pattern);
        return files.Length == 1 ? files[0]
            : throw new DatasetFetchException($"`{command}` left {files.Length} {pattern.TrimStart('*')} files in {directory}, expected 1");
    }

    /// <summary><see cref="ExtractByName(Stream, IReadOnlyCollection{string}, string)"/>, with an unreadable archive reported
    /// as "&lt;archive&gt;: unreadable &lt;what&gt;: …".</summary>
    public static Dictionary<string, string> ExtractByName(Stream tar, IReadOnlyCollection<string> fileNames, string destinationDirectory,
        string archivePath, string what)
    {
        try
        {
            return ExtractByName(tar, fileNames, destinationDirectory);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            throw new DatasetFetchException($"{Path.GetFileName(archivePath)}: unreadable {what}: {e.Message}", e);
        }
    }

    public static Dictionary<string, string> ExtractByName(Stream tar, IReadOnlyCollection<string> fileNames, string destinationDirectory)
    {
        var wanted = new HashSet<string>(fileNames, StringComparer.Ordinal);
        var extracted = new Dictionary<string, string>(StringComparer.Ordinal);
        using var reader = new TarReader(tar, leaveOpen: true);
        while (extracted.Count < wanted.Count && reader.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                continue;
            string name = entry.Name.Replace('\\', '/');
            string lastSegment = name[(name.LastIndexOf('/') + 1)..];
            if (!wanted.Contains(lastSegment) || extracted.ContainsKey(lastSegment))
                continue;
            // The destination name is ours, never the archive's path, so a hostile archive cannot write elsewhere.
            string path = Path.Combine(destinationDirectory, lastSegment);
            using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
                entry.DataStream.CopyTo(file);
            extracted[lastSegment] = path;
        }
        return extracted;
    }
}
