using System.Formats.Tar;

namespace CapsEmbedded.Data;

/// <summary>Copies chosen regular files out of a tar stream, matched by their last path segment; nothing else is written.</summary>
internal static class TarExtractor
{
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
