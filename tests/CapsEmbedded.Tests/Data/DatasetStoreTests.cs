using CapsEmbedded.Data;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Tests.Data;

public class DatasetStoreTests
{
    [Fact]
    public void Mnist_is_read_from_dataRoot_mnist_with_the_standard_names()
    {
        using var root = new TempDirectory();
        root.Write("mnist/t10k-images-idx3-ubyte", DataFixtures.ImagesBytes);
        root.Write("mnist/t10k-labels-idx1-ubyte", DataFixtures.LabelsBytes);

        LabeledImages test = DatasetStore.Load("mnist", DatasetSplit.Test, root.Path);

        Assert.Equal(200, test.Count);
        Assert.Equal(28, test.Rows);
        Assert.Equal(28, test.Cols);
        Assert.Equal(784, test.ImageLength);
        Assert.Equal(7, test.Labels[0]);
    }

    [Fact]
    public void Fashion_is_read_from_gz_files_under_their_Debian_names()
    {
        using var root = new TempDirectory();
        root.Write("fashion/train-images-idx3-ubyte.gz", DataFixtures.Gzip(DataFixtures.ImagesBytes));
        root.Write("fashion/train-labels-idx1-ubyte.gz", DataFixtures.Gzip(DataFixtures.LabelsBytes));

        LabeledImages train = DatasetStore.Load("fashion", DatasetSplit.Train, root.Path);

        Assert.Equal(IdxReader.ReadImages(DataFixtures.ImagesPath).Pixels, train.Pixels);
    }

    [Fact]
    public void A_directory_is_searched_by_name_prefix_plain_or_gz()
    {
        using var dir = new TempDirectory();
        dir.Write("t10k-images.idx3-ubyte", DataFixtures.ImagesBytes);       // the Kaggle spelling
        dir.Write("t10k-labels-idx1-ubyte.gz", DataFixtures.Gzip(DataFixtures.LabelsBytes));
        dir.Write("train-images-idx3-ubyte", DataFixtures.ImageFile(2, 28, 28));

        LabeledImages test = DatasetStore.Load(dir.Path, DatasetSplit.Test, "/nonexistent-root");

        Assert.Equal(200, test.Count);
        Assert.Equal(DataFixtures.LabelsBytes[8..], test.Labels);
    }

    [Fact]
    public void Plain_standard_name_wins_over_other_spellings()
    {
        using var dir = new TempDirectory();
        dir.Write("t10k-images-idx3-ubyte", DataFixtures.ImagesBytes);
        dir.Write("t10k-images.idx3-ubyte", [1, 2, 3]);
        dir.Write("t10k-labels-idx1-ubyte", DataFixtures.LabelsBytes);

        Assert.Equal(200, DatasetStore.Load(dir.Path, DatasetSplit.Test, dir.Path).Count);
    }

    [Fact]
    public void Ambiguous_spellings_are_an_error_naming_them()
    {
        using var dir = new TempDirectory();
        dir.Write("t10k-images.idx3-ubyte", DataFixtures.ImagesBytes);
        dir.Write("t10k-images-idx3.ubyte", DataFixtures.ImagesBytes);

        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetStore.Load(dir.Path, DatasetSplit.Test, dir.Path));
        Assert.Contains("several files could be the t10k-images-idx3-ubyte file (t10k-images-idx3.ubyte, t10k-images.idx3-ubyte)", e.Message);
    }

    [Fact]
    public void Missing_mnist_says_where_it_looked_and_how_to_fetch()
    {
        using var root = new TempDirectory();
        string expectedDir = Path.Combine(root.Path, "mnist");

        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetStore.Load("mnist", DatasetSplit.Train, root.Path));

        Assert.StartsWith($"MNIST not found in {expectedDir} (", e.Message);
        Assert.EndsWith("; run `capsnet data fetch mnist`", e.Message);
        Assert.Equal(expectedDir, e.Directory);
    }

    [Fact]
    public void Partial_file_of_an_interrupted_fetch_is_not_taken_for_the_data()
    {
        using var root = new TempDirectory();
        root.Write("mnist/t10k-images-idx3-ubyte.0123abcd.partial", DataFixtures.ImagesBytes[..100]);
        root.Write("mnist/t10k-labels-idx1-ubyte", DataFixtures.LabelsBytes);

        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetStore.Load("mnist", DatasetSplit.Test, root.Path));
        Assert.Contains("missing t10k-images-idx3-ubyte", e.Message);
    }

    [Fact]
    public void Missing_single_file_is_named()
    {
        using var root = new TempDirectory();
        root.Write("fashion/t10k-images-idx3-ubyte.gz", DataFixtures.Gzip(DataFixtures.ImagesBytes));

        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetStore.Load("fashion", DatasetSplit.Test, root.Path));

        Assert.Contains("Fashion-MNIST not found in", e.Message);
        Assert.Contains("missing t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz)", e.Message);
        Assert.Contains("run `capsnet data fetch fashion`", e.Message);
        Assert.Equal("t10k-labels-idx1-ubyte", e.FileName);
    }

    [Fact]
    public void Missing_custom_directory_is_named()
    {
        var e = Assert.Throws<DatasetNotFoundException>(() => DatasetStore.Load("/no/such/dir", DatasetSplit.Test, "/root"));
        Assert.Contains("directory /no/such/dir does not exist", e.Message);
    }

    [Fact]
    public void Image_and_label_counts_must_agree()
    {
        using var dir = new TempDirectory();
        dir.Write("t10k-images-idx3-ubyte", DataFixtures.ImageFile(3, 28, 28));
        string labels = dir.Write("t10k-labels-idx1-ubyte", DataFixtures.LabelFile(1, 2));

        var e = Assert.Throws<IdxFormatException>(() => DatasetStore.Load(dir.Path, DatasetSplit.Test, dir.Path));

        Assert.Equal($"{labels}: has 2 labels but t10k-images-idx3-ubyte has 3 images", e.Message);
    }

    [Fact]
    public void Labels_above_9_are_rejected_with_their_index()
    {
        using var dir = new TempDirectory();
        dir.Write("train-images-idx3-ubyte", DataFixtures.ImageFile(4, 28, 28));
        dir.Write("train-labels-idx1-ubyte", DataFixtures.LabelFile(1, 9, 0, 10));

        var e = Assert.Throws<IdxFormatException>(() => DatasetStore.Load(dir.Path, DatasetSplit.Train, dir.Path));

        Assert.Equal("label 10 at index 3 is outside 0..9", e.Problem);
    }

    [Fact]
    public void CopyImage_scales_bytes_by_one_255th()
    {
        var images = new LabeledImages(2, 1, 3, [0, 1, 2, 255, 128, 0], [3, 4]);
        float[] destination = new float[3];

        images.CopyImage(1, destination);

        Assert.Equal(new[] { 1f, 128 / 255f, 0f }, destination);
        Assert.Equal(new byte[] { 255, 128, 0 }, images.GetImage(1).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => images.CopyImage(2, destination));
        Assert.Throws<ArgumentException>(() => images.CopyImage(0, new float[2]));
    }

    [Fact]
    public void LabeledImages_checks_its_arrays()
    {
        Assert.Throws<ArgumentException>(() => new LabeledImages(2, 2, 2, new byte[7], new byte[2]));
        Assert.Throws<ArgumentException>(() => new LabeledImages(2, 2, 2, new byte[8], new byte[3]));
    }

    [Fact]
    public void DefaultRoot_is_CAPSNET_DATA_or_data_under_the_current_directory()
    {
        string? saved = Environment.GetEnvironmentVariable(DataPaths.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(DataPaths.EnvironmentVariable, null);
            Assert.Equal(Path.Combine(Directory.GetCurrentDirectory(), "data"), DataPaths.DefaultRoot);
            Environment.SetEnvironmentVariable(DataPaths.EnvironmentVariable, "/srv/capsnet-data");
            Assert.Equal("/srv/capsnet-data", DataPaths.DefaultRoot);
        }
        finally
        {
            Environment.SetEnvironmentVariable(DataPaths.EnvironmentVariable, saved);
        }
    }
}
