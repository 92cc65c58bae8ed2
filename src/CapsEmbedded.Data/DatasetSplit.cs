namespace CapsEmbedded.Data;

/// <summary>Which half of an MNIST-style data set: 60,000 training or 10,000 test ("t10k") images.</summary>
public enum DatasetSplit
{
    Train,
    Test,
}
