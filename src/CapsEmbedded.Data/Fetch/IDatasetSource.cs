namespace CapsEmbedded.Data;

/// <summary>
/// Where a data set's files come from. <see cref="DatasetFetcher"/> owns hash checking, idempotence and atomic
/// installation; a source only downloads, so tests can substitute a local fake.
/// </summary>
public interface IDatasetSource
{
    /// <summary>Name used on the command line and as directory under the data root ("mnist", "fashion").</summary>
    string Dataset { get; }

    /// <summary>Human name for messages ("MNIST").</summary>
    string DisplayName { get; }

    /// <summary>The files to install, with their expected hashes.</summary>
    IReadOnlyList<DatasetFile> Files { get; }

    /// <summary>
    /// Downloads the named files into <paramref name="scratchDirectory"/> (created, empty, deleted afterwards by the caller)
    /// and returns the path of each. A file it could not find is simply absent from the result.
    /// </summary>
    IReadOnlyDictionary<string, string> Download(IReadOnlyCollection<string> fileNames, string scratchDirectory, TextWriter log);
}
