using CapsEmbedded.Reference;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Engines;

/// <summary>The scalar reference model (any architecture; slow: the executable spec, spread over cores).</summary>
public sealed class ReferenceEngine(CapsNetWeights weights, string source) : ICapsNetEngine
{
    public string Description => $"scalar reference model, weights {source}";

    public CapsNetArchitecture Architecture => weights.Architecture;

    public IReadOnlyList<string> ClassNames { get; } = weights.ClassNames;

    public int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules, Span<float> reconstruction)
    {
        var output = ReferenceModel.Forward(weights, image);
        output.Lengths.CopyTo(lengths);
        if (!capsules.IsEmpty) output.Capsules.CopyTo(capsules);
        if (!reconstruction.IsEmpty) output.Reconstruction.CopyTo(reconstruction);
        return output.PredictedClass;
    }

    public void PredictBatch(float[] images, int count, float[] lengths, int[] classes, int threads)
    {
        int pixels = Architecture.InputLength, k = Architecture.Classes;
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        Parallel.For(0, count, options, n =>
        {
            var output = ReferenceModel.Forward(weights, images.AsSpan(n * pixels, pixels));
            output.Lengths.CopyTo(lengths.AsSpan(n * k, k));
            classes[n] = output.PredictedClass;
        });
    }

    public void Dispose() { }
}
