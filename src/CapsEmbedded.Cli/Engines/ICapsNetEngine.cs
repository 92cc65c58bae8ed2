namespace CapsEmbedded.Cli.Engines;

/// <summary>Something that runs a CapsNet forward pass: the compiled (generated) model or the scalar reference.</summary>
public interface ICapsNetEngine : IDisposable
{
    /// <summary>For people: which engine, which weights, which SIMD tier.</summary>
    string Description { get; }

    CapsNetArchitecture Architecture { get; }

    /// <summary>One name per class (the weights' capsnet.class_names, or "0".."9").</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>One image; returns the class (longest capsule). Empty capsule/reconstruction spans are not computed.</summary>
    int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules, Span<float> reconstruction);

    /// <summary>
    /// <paramref name="count"/> images ([count × InputLength]) spread over <paramref name="threads"/> threads;
    /// writes [count × Classes] lengths and the classes.
    /// </summary>
    void PredictBatch(float[] images, int count, float[] lengths, int[] classes, int threads);
}

public enum EngineChoice
{
    /// <summary>The compiled model when the weights fit its architecture, else the reference.</summary>
    Auto,
    Generated,
    Reference,
}
