using CapsEmbedded.Runtime;
using CapsEmbedded.Models;

namespace CapsEmbedded.Cli.Engines;

/// <summary>
/// A compiled, generated model (SIMD, allocation-free) with embedded or loaded weights. Each generated class has its
/// own Weights and Workspace types, so each gets a small subclass that forwards to it; the rest is shared here.
/// </summary>
public abstract class GeneratedEngine : ICapsNetEngine
{
    private readonly string _source;
    private BatchContext? _batch;

    protected GeneratedEngine(string source, IReadOnlyList<string> classNames)
    {
        _source = source;
        ClassNames = classNames;
    }

    public IReadOnlyList<string> ClassNames { get; }

    public abstract CapsNetArchitecture Architecture { get; }

    /// <summary>The generated class's name, e.g. MnistCapsNet.</summary>
    protected abstract string ModelName { get; }

    public string Description => $"compiled {ModelName}, {Kernels.SimdTiers.Best} tier, weights {_source}";

    public abstract int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules, Span<float> reconstruction);

    public void PredictBatch(float[] images, int count, float[] lengths, int[] classes, int threads)
    {
        if (_batch is null || _batch.WorkerCount != threads)
        {
            _batch?.Dispose();
            _batch = CreateBatchContext(threads);
        }
        int a = Architecture.InputLength, k = Architecture.Classes;
        PredictBatch(images.AsSpan(0, count * a), lengths.AsSpan(0, count * k), classes.AsSpan(0, count), _batch);
    }

    /// <summary>Decodes <paramref name="capsules"/> (Classes × ClassDims) with every capsule but <paramref name="keep"/> masked.</summary>
    public abstract void Reconstruct(ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction);

    protected abstract BatchContext CreateBatchContext(int threads);

    protected abstract void PredictBatch(ReadOnlySpan<float> images, Span<float> lengths, Span<int> classes, BatchContext batch);

    protected abstract void DisposeModel();

    public void Dispose()
    {
        _batch?.Dispose();
        DisposeModel();
    }
}

/// <summary><see cref="MnistCapsNet"/> (weights/mnist.safetensors, or a file of its architecture).</summary>
public sealed class MnistEngine(MnistCapsNet.Weights weights, string source, IReadOnlyList<string> classNames)
    : GeneratedEngine(source, classNames)
{
    private readonly MnistCapsNet.Workspace _workspace = new();

    public override CapsNetArchitecture Architecture => MnistCapsNet.Architecture;
    protected override string ModelName => nameof(MnistCapsNet);

    public override int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules, Span<float> reconstruction) =>
        MnistCapsNet.Predict(weights, _workspace, image, lengths, capsules, reconstruction);

    public override void Reconstruct(ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction) =>
        MnistCapsNet.Reconstruct(weights, _workspace, capsules, keep, reconstruction);

    protected override BatchContext CreateBatchContext(int threads) => MnistCapsNet.CreateBatchContext(threads);

    protected override void PredictBatch(ReadOnlySpan<float> images, Span<float> lengths, Span<int> classes, BatchContext batch) =>
        MnistCapsNet.PredictBatch(weights, images, lengths, classes, batch);

    protected override void DisposeModel()
    {
        _workspace.Dispose();
        weights.Dispose(); // a no-op for the embedded weights
    }
}

/// <summary><see cref="FashionCapsNet"/> (weights/fashion-mnist.safetensors, or a file of its architecture).</summary>
public sealed class FashionEngine(FashionCapsNet.Weights weights, string source, IReadOnlyList<string> classNames)
    : GeneratedEngine(source, classNames)
{
    private readonly FashionCapsNet.Workspace _workspace = new();

    public override CapsNetArchitecture Architecture => FashionCapsNet.Architecture;
    protected override string ModelName => nameof(FashionCapsNet);

    public override int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules, Span<float> reconstruction) =>
        FashionCapsNet.Predict(weights, _workspace, image, lengths, capsules, reconstruction);

    public override void Reconstruct(ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction) =>
        FashionCapsNet.Reconstruct(weights, _workspace, capsules, keep, reconstruction);

    protected override BatchContext CreateBatchContext(int threads) => FashionCapsNet.CreateBatchContext(threads);

    protected override void PredictBatch(ReadOnlySpan<float> images, Span<float> lengths, Span<int> classes, BatchContext batch) =>
        FashionCapsNet.PredictBatch(weights, images, lengths, classes, batch);

    protected override void DisposeModel()
    {
        _workspace.Dispose();
        weights.Dispose();
    }
}
