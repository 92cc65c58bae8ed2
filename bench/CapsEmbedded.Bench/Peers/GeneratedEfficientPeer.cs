using CapsEmbedded.Models;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Bench.Peers;

/// <summary>
/// The generated <see cref="MnistEfficientCapsNet"/>: at batch 1 Predict on the calling thread (its generated code does
/// not split one image over threads yet, so batch 1 / 2 threads runs one thread too); at larger batches PredictBatch,
/// images spread over a worker context's threads.
/// </summary>
public sealed class GeneratedEfficientPeer : IInferencePeer
{
    public const string PeerName = "generated MnistEfficientCapsNet";

    private readonly MnistEfficientCapsNet.Workspace _workspace = new();
    private BatchContext? _context;
    private float[] _images = [];
    private float[] _lengths = [];
    private int[] _classes = [];
    private int _batchFloats, _next;

    public string Name => PeerName;

    public string Version => $".NET {Environment.Version}, {MnistEfficientCapsNet.ActiveTier}; one image on one thread";

    public void Prepare(float[] images, int batch, int threads)
    {
        _context?.Dispose();
        _images = images;
        _batchFloats = batch * MnistEfficientCapsNet.InputLength;
        _next = 0;
        _lengths = new float[batch * MnistEfficientCapsNet.Classes];
        _classes = new int[batch];
        _context = batch == 1 ? null : MnistEfficientCapsNet.CreateBatchContext(threads);
    }

    public void Run()
    {
        var images = _images.AsSpan(_next, _batchFloats);
        _next = (_next + _batchFloats) % _images.Length;
        if (_context is null) MnistEfficientCapsNet.Predict(MnistEfficientCapsNet.Weights.Embedded, _workspace, images, _lengths);
        else MnistEfficientCapsNet.PredictBatch(MnistEfficientCapsNet.Weights.Embedded, images, _lengths, _classes, _context,
            MnistEfficientCapsNet.ActiveTier);
    }

    public ReadOnlySpan<float> Lengths => _lengths;

    public void Dispose()
    {
        _context?.Dispose();
        _workspace.Dispose();
    }
}
