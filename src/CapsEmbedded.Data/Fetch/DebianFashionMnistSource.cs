namespace CapsEmbedded.Data;

/// <summary>
/// Fashion-MNIST from Debian's dataset-fashion-mnist package: `apt-get download` fetches the .deb (no root, no install),
/// `dpkg-deb --fsys-tarfile` unpacks its data.tar.xz (.NET has no xz decoder) to a tar stream read here; the gzip IDX files
/// live under usr/share/datasets/fashion-mnist/.
/// </summary>
public sealed class DebianFashionMnistSource : IDatasetSource
{
    public const string PackageName = "dataset-fashion-mnist";

    public string Dataset => "fashion";

    public string DisplayName => "Fashion-MNIST";

    // SHA-256 of the .gz files as shipped in dataset-fashion-mnist 0.0~git20200523.55506a9-1 (Debian bookworm), measured
    // with `apt-get download dataset-fashion-mnist && dpkg-deb -x *.deb x && sha256sum x/usr/share/datasets/fashion-mnist/*`
    // on 2026-11-21. Debian's .gz bytes differ from Zalando's GitHub downloads (recompressed); the decompressed IDX data
    // (SHA-256 after gunzip, for reference: train-images c59f468a..., t10k-images 5b4141f0...) is Zalando's.
    public IReadOnlyList<DatasetFile> Files { get; } =
    [
        new("train-images-idx3-ubyte.gz", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        new("train-labels-idx1-ubyte.gz", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        new("t10k-images-idx3-ubyte.gz", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        new("t10k-labels-idx1-ubyte.gz", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
    ];

    public IReadOnlyDictionary<string, string> Download(IReadOnlyCollection<string> fileNames, string scratchDirectory, TextWriter log)
    {
        log.WriteLine($"fashion: apt-get download {PackageName} (about 31 MB)");
        try
        {
            ExternalTool.Run("apt-get", ["download", PackageName], scratchDirectory,
                "Fashion-MNIST is fetched from Debian's dataset-fashion-mnist package; without apt, download the four .gz files "
                + "from https://github.com/zalandoresearch/fashion-mnist into a directory and pass that directory as the data set");
        }
        catch (DatasetFetchException e) when (e.Message.Contains("Unable to locate package", StringComparison.Ordinal))
        {
            throw new DatasetFetchException($"{e.Message} (the package lists may be missing: run `apt-get update` first)", e);
        }

        string package = TarExtractor.OnlyDownload(scratchDirectory, "*.deb", $"apt-get download {PackageName}");
        Dictionary<string, string> extracted = [];
        ExternalTool.Run("dpkg-deb", ["--fsys-tarfile", package], scratchDirectory,
            "dpkg-deb (package dpkg) is needed to unpack the .deb, whose data is xz-compressed",
            tar => extracted = TarExtractor.ExtractByName(tar, fileNames, scratchDirectory, package, "data archive"));
        return extracted;
    }
}
