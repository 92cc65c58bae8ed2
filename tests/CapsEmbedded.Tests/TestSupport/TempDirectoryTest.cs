using CapsEmbedded.Data;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Tests.TestSupport;

/// <summary>
/// Base of the test classes that write files: xunit builds one instance per test, so every test gets its own fresh
/// <see cref="TempDirectory"/>, deleted when the test ends.
/// </summary>
public abstract class TempDirectoryTest(string prefix) : IDisposable
{
    private readonly TempDirectory _directory = new(prefix);

    /// <summary>The test's folder.</summary>
    protected string Dir => _directory.Path;

    /// <summary>A path inside <see cref="Dir"/>.</summary>
    protected string P(string name) => _directory.Combine(name);

    public void Dispose()
    {
        _directory.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Copies the committed 200-digit MNIST test fixture into <c>Dir/mnist</c> under the standard file names, so that
    /// <c>--data-dir Dir</c> (or <c>--data Dir/mnist</c>) reads it as the MNIST test split; returns that folder.
    /// </summary>
    protected string CopyMnistFixture() => CopyFixture("mnist");

    /// <summary>The same for the 200-image Fashion-MNIST test fixture, into <c>Dir/fashion</c>.</summary>
    protected string CopyFashionFixture() => CopyFixture("fashion");

    /// <summary>
    /// The 200 MNIST fixture digits as both the train and the test split of <c>Dir/</c><paramref name="folder"/> (a folder
    /// named "fashion" stands in for Fashion-MNIST: only the name matters to some tests); returns that folder.
    /// </summary>
    protected string CopyMnistFixtureAsTrainAndTest(string folder = "mnist") => CopyFixture("mnist", folder, DatasetSplit.Train);

    private string CopyFixture(string set, string? folder = null, params DatasetSplit[] alsoAs)
    {
        string data = P(folder ?? set);
        Directory.CreateDirectory(data);
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", set);
        foreach (var split in alsoAs.Prepend(DatasetSplit.Test))
        {
            string imageFile = DatasetStore.StandardFileName(split, images: true), labelFile = DatasetStore.StandardFileName(split, images: false);
            File.Copy(Path.Combine(fixtures, "t10k-200-images-idx3-ubyte"), Path.Combine(data, imageFile));
            File.Copy(Path.Combine(fixtures, "t10k-200-labels-idx1-ubyte"), Path.Combine(data, labelFile));
        }
        return data;
    }
}
