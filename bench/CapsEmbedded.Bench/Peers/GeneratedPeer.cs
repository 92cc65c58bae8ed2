using CapsEmbedded.Runtime;
using CapsEmbedded.Models;

namespace CapsEmbedded.Bench.Peers;

/// <summary>
/// The generated <see cref="MnistCapsNet"/>: at batch 1 Predict on one thread, or with the image split over a worker
/// context's threads (the parallel Predict); at larger batches PredictBatch, images spread over the context's workers.
/// </summary>
public sealed class GeneratedPeer : IInferencePeer
{
    public const string PeerName = "generated MnistCapsNet";

    private readonly MnistCapsNet.Workspace _workspace = new();
    private BatchContext? _context;
    private float[] _images = [];
    private float[] _lengths = [];
    private int[] _classes = [];
    private bool _single;
    private bool _splitImage;
    private int _batchFloats, _next;

    public string Name => PeerName;

    public string Version => $".NET {Environment.Version}, {MnistCapsNet.ActiveTier}";

    public void Prepare(float[] images, int batch, int threads)
    {
        _context?.Dispose();
        _images = images;
        _batchFloats = batch * MnistCapsNet.InputLength;
        _next = 0;
        _lengths = new float[batch * MnistCapsNet.Classes];
        _classes = new int[batch];
        _single = batch == 1 && threads == 1;
        _splitImage = batch == 1 && threads > 1;
        _context = _single ? null : MnistCapsNet.CreateBatchContext(threads);
    }

    public void Run()
    {
        var images = _images.AsSpan(_next, _batchFloats);
        _next = (_next + _batchFloats) % _images.Length;
        if (_single) MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, _workspace, images, _lengths);
        else if (_splitImage) MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, _context!, images, _lengths);
        else MnistCapsNet.PredictBatch(MnistCapsNet.Weights.Embedded, images, _lengths, _classes, _context!);
    }

    public ReadOnlySpan<float> Lengths => _lengths;

    public void Dispose()
    {
        _context?.Dispose();
        _workspace.Dispose();
    }
}
