using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Quantization;

namespace CapsEmbedded.Cli.Engines;

/// <summary>The int8 model (<see cref="QuantizedCapsNet"/>) of a file written by <c>capsnet quantize</c>; any architecture.</summary>
public sealed class QuantizedEngine : ICapsNetEngine
{
    private readonly QuantizedCapsNet _model;
    private readonly QuantizedCapsNet.Workspace _workspace;
    private readonly string _source;

    public QuantizedEngine(QuantizedCapsNetWeights weights, string source)
    {
        ClassNames = weights.Weights.ClassNames;
        _model = QuantizedCapsNet.Create(weights);
        _workspace = new QuantizedCapsNet.Workspace(weights.Architecture);
        _source = source;
    }

    /// <summary>Loads and validates a quantised weight file.</summary>
    public static QuantizedEngine Open(string path) => new(QuantizedWeightsFile.Load(path), path);

    public QuantizedCapsNet Model => _model;

    public string Description => $"int8 QuantizedCapsNet ({QuantizedCapsNetWeights.Scheme}), {SimdTiers.Best} float tier, {Int8Tiers.Best} int8 tier, weights {_source}";

    public CapsNetArchitecture Architecture => _model.Architecture;

    public IReadOnlyList<string> ClassNames { get; }

    public int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules, Span<float> reconstruction) =>
        _model.Predict(_workspace, image, lengths, capsules, reconstruction);

    /// <summary>Contiguous chunks of images, one per thread, each with its own workspace (one Predict per image).</summary>
    public void PredictBatch(float[] images, int count, float[] lengths, int[] classes, int threads)
    {
        int pixels = Architecture.InputLength, k = Architecture.Classes;
        int parts = Math.Max(1, Math.Min(threads, count));
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
        {
            using var workspace = new QuantizedCapsNet.Workspace(Architecture);
            int first = (int)((long)count * part / parts), end = (int)((long)count * (part + 1) / parts);
            for (int n = first; n < end; n++)
                classes[n] = _model.Predict(workspace, images.AsSpan(n * pixels, pixels), lengths.AsSpan(n * k, k));
        });
    }

    public void Dispose()
    {
        _workspace.Dispose();
        _model.Dispose();
    }
}
