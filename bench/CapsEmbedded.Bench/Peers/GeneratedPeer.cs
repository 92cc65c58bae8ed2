using CapsEmbedded.Models;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Bench.Peers;

/// <summary>
/// A generated model (<see cref="CompiledModel"/>, its embedded weights) through its Session: at batch 1 Predict on one
/// thread, or split over a worker context's threads (the paper models split the primary convolution, Efficient-CapsNet
/// each stem convolution by bands of its output map); at larger batches PredictBatch, images spread over the context's workers.
/// </summary>
public sealed class GeneratedPeer(CompiledModel model, string name) : IInferencePeer
{
    /// <summary>The peer names of the generated paper MNIST model and of the generated Efficient-CapsNet.</summary>
    public const string PaperName = "generated MnistCapsNet", EfficientName = "generated MnistEfficientCapsNet";

    private readonly ICapsNetSession _session = model.Open(weightsPath: null);
    private BatchContext? _context;
    private float[] _images = [];
    private float[] _lengths = [];
    private int[] _classes = [];
    private int _batchFloats, _next;
    private bool _single;
    private bool _oneImage;

    public string Name => name;

    public string Version => $".NET {Environment.Version}, {_session.Tier}";

    public void Prepare(float[] images, int batch, int threads)
    {
        _context?.Dispose();
        _images = images;
        _batchFloats = batch * _session.Shape.InputLength;
        _next = 0;
        _lengths = new float[batch * _session.Shape.Classes];
        _classes = new int[batch];
        _single = batch == 1 && threads == 1;
        _oneImage = batch == 1;
        _context = _single ? null : _session.CreateBatchContext(threads);
    }

    public void Run()
    {
        var images = _images.AsSpan(_next, _batchFloats);
        _next = (_next + _batchFloats) % _images.Length;
        if (_single) _session.Predict(images, _lengths);
        else if (_oneImage) _session.Predict(_context!, images, _lengths);
        else _session.PredictBatch(images, _lengths, _classes, _context!);
    }

    public ReadOnlySpan<float> Lengths => _lengths;

    public void Dispose()
    {
        _context?.Dispose();
        _session.Dispose();
    }
}
