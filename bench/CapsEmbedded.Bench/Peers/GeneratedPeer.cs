using CapsEmbedded.Runtime;
using CapsEmbedded.Models;

namespace CapsEmbedded.Bench.Peers;

/// <summary>The generated <see cref="MnistCapsNet"/>: Predict at batch 1 on one thread, else PredictBatch on a worker context.</summary>
public sealed class GeneratedPeer : IInferencePeer
{
    private readonly MnistCapsNet.Workspace _workspace = new();
    private BatchContext? _context;
    private float[] _images = [];
    private float[] _lengths = [];
    private int[] _classes = [];
    private bool _single;

    public string Name => "generated MnistCapsNet";

    public string Version => $".NET {Environment.Version}, {MnistCapsNet.ActiveTier}";

    public void Prepare(float[] images, int batch, int threads)
    {
        _context?.Dispose();
        _images = images;
        _lengths = new float[batch * MnistCapsNet.Classes];
        _classes = new int[batch];
        _single = batch == 1 && threads == 1;
        _context = _single ? null : MnistCapsNet.CreateBatchContext(threads);
    }

    public void Run()
    {
        if (_single) MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, _workspace, _images, _lengths);
        else MnistCapsNet.PredictBatch(MnistCapsNet.Weights.Embedded, _images, _lengths, _classes, _context!);
    }

    public ReadOnlySpan<float> Lengths => _lengths;

    public void Dispose()
    {
        _context?.Dispose();
        _workspace.Dispose();
    }
}
