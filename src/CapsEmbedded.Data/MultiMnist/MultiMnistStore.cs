namespace CapsEmbedded.Data.MultiMnist;

/// <summary>
/// Finds and loads a MultiMNIST test set: "multimnist" (&lt;dataRoot&gt;/multimnist/, as <see cref="MultiMnistGenerator"/>
/// writes it) or any directory holding the two files <see cref="ImagesFileName"/> ([N, 36, 36] unsigned bytes, the
/// merged images) and <see cref="LabelsFileName"/> ([N, 2] unsigned bytes, IDX magic 0x00000802), plain or .gz.
/// The pair recipes (<see cref="PairsFileName"/>) are optional: only generated sets have them.
/// </summary>
public static class MultiMnistStore
{
    /// <summary>The data set's name, and its folder under the data root.</summary>
    public const string Name = "multimnist";

    public const string ImagesFileName = "multimnist-test-images-idx3-ubyte";
    public const string LabelsFileName = "multimnist-test-labels-idx2-ubyte";

    /// <summary>
    /// [N, 6] big-endian int32 (IDX magic 0x00000C02), one <see cref="MultiMnistPair"/> per image: first digit's and
    /// second digit's index in the MNIST test split, then FirstDx, FirstDy, SecondDx, SecondDy.
    /// </summary>
    public const string PairsFileName = "multimnist-test-pairs-idx2-int";

    /// <summary>Columns of <see cref="PairsFileName"/>.</summary>
    public const int PairColumns = 6;

    /// <summary>The directory a data set name refers to: "multimnist" under <paramref name="dataRoot"/>, else the name itself as a path.</summary>
    public static string ResolveDirectory(string dataset, string dataRoot)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataset);
        ArgumentException.ThrowIfNullOrEmpty(dataRoot);
        return dataset == Name ? Path.Combine(dataRoot, Name) : dataset;
    }

    /// <summary>
    /// Whether <paramref name="dataset"/> means a MultiMNIST set: the name "multimnist", or a directory that holds
    /// <see cref="ImagesFileName"/> (plain or .gz); never a one-label set's name (mnist, fashion). Lets eval tell pairs
    /// from one-label sets without being told.
    /// </summary>
    public static bool IsPairs(string dataset, string dataRoot) =>
        dataset == Name
        // "mnist" and "fashion" name one-label sets under the root, never a folder in the current directory.
        || (DatasetStore.ResolveDirectory(dataset, dataRoot) == dataset && FindFile(dataset, ImagesFileName) is not null);

    /// <summary>
    /// Loads the images and both labels of every pair. Refused, as an <see cref="IdxFormatException"/> naming file and
    /// problem: an empty set, counts that differ, a label above 9, and a pair whose two labels are equal (the paper's
    /// pairs are of different classes, and its metric, the two longest capsules being the two labels, could never
    /// count such a pair right).
    /// </summary>
    public static LabeledPairs Load(string dataset, string dataRoot)
    {
        string directory = ResolveDirectory(dataset, dataRoot);
        string imagesPath = Require(dataset, directory, ImagesFileName);
        string labelsPath = Require(dataset, directory, LabelsFileName);

        IdxImages images = IdxReader.ReadImages(imagesPath);
        byte[] labels = IdxReader.ReadPairLabels(labelsPath);
        if (images.Count == 0)
            throw new IdxFormatException(imagesPath, "holds 0 images; an empty data set cannot be evaluated");
        if (2L * images.Count != labels.Length)
            throw new IdxFormatException(labelsPath, $"has {labels.Length / 2} label pairs but {Path.GetFileName(imagesPath)} has {images.Count} images");
        for (int n = 0; n < images.Count; n++)
        {
            byte first = labels[2 * n], second = labels[2 * n + 1];
            if (first > DatasetStore.MaxLabel || second > DatasetStore.MaxLabel)
                throw new IdxFormatException(labelsPath, $"labels ({first}, {second}) of image {n} are not both in 0..{DatasetStore.MaxLabel}");
            if (first == second)
                throw new IdxFormatException(labelsPath, $"image {n} has class {first} twice; MultiMNIST pairs are two digits of different classes");
        }
        return new LabeledPairs(images.Count, images.Rows, images.Cols, images.Pixels, labels);
    }

    /// <summary>
    /// The recipes of a generated set (<see cref="PairsFileName"/>), for rebuilding each un-merged shifted digit with
    /// <see cref="MultiMnistPairs.Compose"/> from the MNIST test digits. Each shift must be within ±<see cref="MultiMnistPairs.MaxShift"/>
    /// and each index non-negative; that an index lies inside the digits is checked by the caller that has them.
    /// </summary>
    public static MultiMnistPair[] LoadPairs(string dataset, string dataRoot)
    {
        string directory = ResolveDirectory(dataset, dataRoot);
        string path = Require(dataset, directory, PairsFileName);
        int[] table = IdxReader.ReadInt32Table(path, PairColumns);
        var pairs = new MultiMnistPair[table.Length / PairColumns];
        for (int n = 0; n < pairs.Length; n++)
        {
            ReadOnlySpan<int> row = table.AsSpan(n * PairColumns, PairColumns);
            if (row[0] < 0 || row[1] < 0)
                throw new IdxFormatException(path, $"pair {n} names digits {row[0]} and {row[1]}; indexes are not negative");
            for (int s = 2; s < PairColumns; s++)
                if (Math.Abs(row[s]) > MultiMnistPairs.MaxShift)
                    throw new IdxFormatException(path, $"pair {n} has a shift of {row[s]}, outside ±{MultiMnistPairs.MaxShift}");
            pairs[n] = new MultiMnistPair(row[0], row[1], row[2], row[3], row[4], row[5]);
        }
        return pairs;
    }

    private static string Require(string dataset, string directory, string fileName)
    {
        if (!Directory.Exists(directory))
            throw NotFound(dataset, directory, fileName, $"directory {directory} does not exist");
        return FindFile(directory, fileName) ?? throw NotFound(dataset, directory, fileName, $"missing {fileName} (or {fileName}.gz)");
    }

    private static string? FindFile(string directory, string fileName)
    {
        foreach (string name in new[] { fileName, fileName + ".gz" })
        {
            string path = Path.Combine(directory, name);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    private static DatasetNotFoundException NotFound(string dataset, string directory, string missingFile, string detail) => new(
        dataset == Name
            ? $"MultiMNIST not found in {directory} ({detail}); run `capsnet data fetch multimnist`"
            : $"no MultiMNIST set in {directory} ({detail}); expected {ImagesFileName} and {LabelsFileName}, plain or .gz",
        directory, missingFile);
}
