namespace CapsEmbedded.Data;

/// <summary>One file of a data set as it is stored under the data root, with the SHA-256 (lower-case hex) of its bytes.</summary>
public sealed record DatasetFile(string FileName, string Sha256);
