namespace CapsEmbedded.Data;

/// <summary>A data set's files are not where they should be; the message says where we looked and how to fetch them.</summary>
public sealed class DatasetNotFoundException : FileNotFoundException
{
    public DatasetNotFoundException(string message, string directory, string? missingFile = null)
        : base(message, missingFile)
    {
        Directory = directory;
    }

    /// <summary>The directory that was searched.</summary>
    public string Directory { get; }
}
