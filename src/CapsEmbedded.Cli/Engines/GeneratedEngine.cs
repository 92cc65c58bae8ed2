using CapsEmbedded.Runtime;
using CapsEmbedded.Models;

namespace CapsEmbedded.Cli.Engines;

/// <summary>The compiled, generated <see cref="MnistCapsNet"/> (SIMD, allocation-free) with embedded or loaded weights.</summary>
public sealed class GeneratedEngine : ICapsNetEngine
{
    private readonly MnistCapsNet.Weights _weights;
    private readonly MnistCapsNet.Workspace _workspace = new();
    private readonly string _source;
    private BatchContext? _batch;

    public GeneratedEngine(MnistCapsNet.Weights weights, string source, IReadOnlyList<string> classNames)
    {
        _weights = weights;
        _source = source;
        ClassNames = classNames;
    }

    public IReadOnlyList<string> ClassNames { get; }

    public string Description => $"compiled MnistCapsNet, {MnistCapsNet.ActiveTier} tier, weights {_source}";

    public CapsNetArchitecture Architecture => MnistCapsNet.Architecture;

    public int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules, Span<float> reconstruction) =>
        MnistCapsNet.Predict(_weights, _workspace, image, lengths, capsules, reconstruction);

    public void PredictBatch(float[] images, int count, float[] lengths, int[] classes, int threads)
    {
        if (_batch is null || _batch.WorkerCount != threads)
        {
            _batch?.Dispose();
            _batch = MnistCapsNet.CreateBatchContext(threads);
        }
        MnistCapsNet.PredictBatch(_weights, images.AsSpan(0, count * MnistCapsNet.InputLength),
            lengths.AsSpan(0, count * MnistCapsNet.Classes), classes.AsSpan(0, count), _batch);
    }

    public void Dispose()
    {
        _batch?.Dispose();
        _workspace.Dispose();
        _weights.Dispose(); // a no-op for the embedded weights
    }
}
