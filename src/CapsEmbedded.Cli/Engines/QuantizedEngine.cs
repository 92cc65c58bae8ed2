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
    private QuantizedBatch? _batch;

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

    /// <summary>Contiguous chunks of images, one per thread, each with its own workspace (<see cref="QuantizedBatch"/>).</summary>
    public void PredictBatch(float[] images, int count, float[] lengths, int[] classes, int threads)
    {
        if (_batch is null || _batch.Threads != threads)
        {
            _batch?.Dispose();
            _batch = new QuantizedBatch(_model, threads);
        }

        _batch.Predict(images, count, lengths, classes, SimdTiers.Best, Int8Tiers.Best);
    }

    public void Dispose()
    {
        _batch?.Dispose();
        _workspace.Dispose();
        _model.Dispose();
    }
}
