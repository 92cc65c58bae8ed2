using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Training;

/// <summary><c>capsnet train --data fashion</c> names the classes of the file it writes; other data sets leave them unnamed.</summary>
public sealed class TrainClassNamesTests() : TempDirectoryTest("capsnet-train-names-")
{
    [Fact]
    public void Training_on_fashion_writes_the_Fashion_MNIST_class_names()
    {
        // The 200-digit fixture stands in for Fashion-MNIST (same file format and size): only the name "fashion" matters here.
        string fashion = CopyMnistFixtureAsTrainAndTest("fashion");
        string output = P("fashion.safetensors");
        var (code, text, error) = Capsnet("train", "--data", "fashion", "--data-dir", Dir, "--limit", "4", "--test-limit", "4",
            "--epochs", "1", "--batch", "4", "--group", "4", "--threads", "1", "--out", output, "--plain");
        Assert.True(code == 0, error + text);
        Assert.Equal(CapsNetClassNames.FashionMnist, CapsNetWeightsFile.Load(output).ClassNames);

        string mnist = P("other.safetensors");
        (code, text, error) = Capsnet("train", "--data", fashion, "--limit", "4", "--test-limit", "4",
            "--epochs", "1", "--batch", "4", "--group", "4", "--threads", "1", "--out", mnist, "--plain");
        Assert.True(code == 0, error + text);
        Assert.False(CapsNetWeightsFile.Load(mnist).Metadata.ContainsKey(CapsNetClassNames.MetadataKey));
    }
}
