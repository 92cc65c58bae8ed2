using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Quantization;

/// <summary>
/// The int8 model (<see cref="QuantizedCapsNet"/>, any architecture) as an <see cref="ICapsNetSession"/>: one workspace for
/// the one-image calls, one per worker for <see cref="PredictBatch"/> (made with the context), so a call allocates
/// nothing, as the generated float sessions do. One call at a time.
/// </summary>
public sealed class QuantizedSession : ICapsNetSession
{
    private readonly QuantizedCapsNet _model;
    private readonly bool _ownsModel;
    private readonly QuantizedCapsNet.Workspace _workspace;
    private readonly BatchItemRunner _predictItem;
    private QuantizedCapsNet.Workspace[] _workerWorkspaces = [];
    private SimdTier _tier = SimdTiers.Best;
    private Int8Tier _int8Tier = Int8Tiers.Best;

    /// <param name="model">The packed int8 model; disposed with the session unless <paramref name="ownsModel"/> is false.</param>
    /// <param name="classNames">One name per class (the quantised file's).</param>
    /// <param name="ownsModel">False for sessions that share one model.</param>
    public QuantizedSession(QuantizedCapsNet model, IReadOnlyList<string> classNames, bool ownsModel = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(classNames);
        if (classNames.Count != model.Architecture.Classes)
            throw new ArgumentException($"{classNames.Count} class names for {model.Architecture.Classes} classes", nameof(classNames));
        _model = model;
        _ownsModel = ownsModel;
        ClassNames = classNames;
        _workspace = new QuantizedCapsNet.Workspace(model.Architecture);
        _predictItem = PredictItem;
    }

    /// <summary>A session over the quantised weights (<see cref="QuantizedWeightsFile"/>, or made by <see cref="Quantizer"/>).</summary>
    public QuantizedSession(QuantizedCapsNetWeights weights)
        : this(QuantizedCapsNet.Create(weights), weights.Weights.ClassNames)
    {
    }

    /// <summary>Loads, validates and packs a file written by <c>capsnet quantize</c>.</summary>
    public static QuantizedSession Load(string path) => new(QuantizedWeightsFile.Load(path));

    /// <summary>The int8 model the session runs.</summary>
    public QuantizedCapsNet Model => _model;

    public string ModelName => nameof(QuantizedCapsNet);

    public CapsNetArchitecture Architecture => _model.Architecture;

    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The tier of the float32 layers (conv1, capsules, routing, decoder).</summary>
    public SimdTier Tier
    {
        get => _tier;
        set
        {
            SimdTiers.ThrowIfUnsupported(value);
            _tier = value;
        }
    }

    /// <summary>The tier of the int8 primary-capsule convolution: the best this machine has unless set.</summary>
    public Int8Tier Int8Tier
    {
        get => _int8Tier;
        set
        {
            Int8Tiers.ThrowIfUnsupported(value);
            _int8Tier = value;
        }
    }

    public int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules = default, Span<float> reconstruction = default) =>
        _model.Predict(_workspace, image, lengths, capsules, reconstruction, _tier, _int8Tier);

    /// <summary>The int8 model has no split of one image over workers: the calling thread runs it (the same bits).</summary>
    public int Predict(BatchContext context, ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules = default, Span<float> reconstruction = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Predict(image, lengths, capsules, reconstruction);
    }

    public void Reconstruct(ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction) =>
        _model.Reconstruct(_workspace, capsules, keep, reconstruction, _tier);

    /// <summary>Worker threads only (the context's float scratch is empty): each worker gets a workspace of this session, made here.</summary>
    public BatchContext CreateBatchContext(int workerCount = 0)
    {
        var context = new BatchContext(scratchLength: 0, workerCount);
        EnsureWorkerWorkspaces(context.WorkerCount);
        return context;
    }

    /// <summary>Each image on one worker with that worker's workspace: bit-identical to one <see cref="Predict(ReadOnlySpan{float}, Span{float}, Span{float}, Span{float})"/> per image.</summary>
    public void PredictBatch(ReadOnlySpan<float> images, Span<float> lengths, Span<int> classes, BatchContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var a = Architecture;
        if (images.Length % a.InputLength != 0)
            throw new ArgumentException($"images has {images.Length} values, not a multiple of the image size {a.InputLength}", nameof(images));
        EnsureWorkerWorkspaces(context.WorkerCount); // a context made elsewhere may have more workers
        context.Run(_predictItem, images, a.InputLength, lengths, a.Classes, classes);
    }

    private void EnsureWorkerWorkspaces(int workers)
    {
        if (_workerWorkspaces.Length >= workers) return;
        int had = _workerWorkspaces.Length;
        Array.Resize(ref _workerWorkspaces, workers);
        for (int k = had; k < workers; k++) _workerWorkspaces[k] = new QuantizedCapsNet.Workspace(Architecture);
    }

    private int PredictItem(int worker, ReadOnlySpan<float> image, Span<float> lengths) =>
        _model.Predict(_workerWorkspaces[worker], image, lengths, default, default, _tier, _int8Tier);

    public void Dispose()
    {
        _workspace.Dispose();
        foreach (var workspace in _workerWorkspaces) workspace.Dispose();
        if (_ownsModel) _model.Dispose();
    }
}
