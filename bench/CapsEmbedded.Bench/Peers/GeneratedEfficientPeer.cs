using CapsEmbedded.Models;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Bench.Peers;

/// <summary>
/// The generated <see cref="MnistEfficientCapsNet"/>: at batch 1 / 1 thread Predict on the calling thread; at batch 1 and
/// more threads the split Predict (each stem convolution's output channels over the context's threads); at larger batches
/// PredictBatch, images spread over a worker context's threads.
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
    private bool _splitImage;

    public string Name => PeerName;

    public string Version => $".NET {Environment.Version}, {MnistEfficientCapsNet.ActiveTier}";

    public void Prepare(float[] images, int batch, int threads)
    {
        _context?.Dispose();
        _images = images;
        _batchFloats = batch * MnistEfficientCapsNet.InputLength;
        _next = 0;
        _lengths = new float[batch * MnistEfficientCapsNet.Classes];
        _classes = new int[batch];
        _splitImage = batch == 1 && threads > 1;
        _context = batch == 1 && threads == 1 ? null : MnistEfficientCapsNet.CreateBatchContext(threads);
    }

    public void Run()
    {
        var images = _images.AsSpan(_next, _batchFloats);
        _next = (_next + _batchFloats) % _images.Length;
        if (_context is null) MnistEfficientCapsNet.Predict(MnistEfficientCapsNet.Weights.Embedded, _workspace, images, _lengths);
        else if (_splitImage) MnistEfficientCapsNet.Predict(MnistEfficientCapsNet.Weights.Embedded, _context, images, _lengths, default, default,
            MnistEfficientCapsNet.ActiveTier);
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
