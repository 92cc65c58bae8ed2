using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;

namespace CapsEmbedded.Runtime;

/// <summary>
/// What every model's session shares (<see cref="ICapsNetSession"/>): one <typeparamref name="TWeights"/> and one
/// <typeparamref name="TWorkspace"/>, the class names, the tier, disposal. A generated model's <c>Session</c> only forwards
/// each call to its model's static methods (the same arithmetic, the same bits, no allocation per call). One call at a time.
/// </summary>
public abstract class ModelSession<TWeights, TWorkspace> : ICapsNetSession
    where TWeights : class, IDisposable
    where TWorkspace : ModelWorkspace
{
    private readonly bool _ownsWeights;
    private SimdTier _tier = SimdTiers.Best;

    /// <summary>
    /// A session over <paramref name="weights"/>. It owns them unless <paramref name="ownsWeights"/> is false: disposing the
    /// session disposes them (a no-op for the embedded weights). Pass false for sessions that share one Weights (one
    /// session per thread), and dispose the weights after the last of them. <paramref name="classNames"/>, when given,
    /// replaces <paramref name="weightsClassNames"/>, the weights' own.
    /// </summary>
    protected ModelSession(string modelName, CapsuleArchitecture architecture, TWeights weights, TWorkspace workspace,
        IReadOnlyList<string>? weightsClassNames, IReadOnlyList<string>? classNames, bool ownsWeights)
        : this(modelName, ModelShape.Of(architecture), weights, workspace, weightsClassNames, classNames, ownsWeights)
    {
    }

    /// <summary>As the other constructor, for a model of any family, described by its <paramref name="shape"/>.</summary>
    protected ModelSession(string modelName, ModelShape shape, TWeights weights, TWorkspace workspace,
        IReadOnlyList<string>? weightsClassNames, IReadOnlyList<string>? classNames, bool ownsWeights)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(workspace);
        if (weights is null)
        {
            workspace.Dispose();
            throw new ArgumentNullException(nameof(weights));
        }
        classNames ??= weightsClassNames;
        if (classNames is null || classNames.Count != shape.Classes)
        {
            workspace.Dispose();
            throw new ArgumentException($"{classNames?.Count ?? 0} class names for {shape.Classes} classes", nameof(classNames));
        }
        (ModelName, Shape, Weights, Workspace, ClassNames, _ownsWeights) = (modelName, shape, weights, workspace, classNames, ownsWeights);
    }

    /// <summary>The weights every call uses.</summary>
    protected TWeights Weights { get; }

    /// <summary>The scratch of the one-image calls.</summary>
    protected TWorkspace Workspace { get; }

    public string ModelName { get; }

    public ModelShape Shape { get; }

    public IReadOnlyList<string> ClassNames { get; }

    public SimdTier Tier
    {
        get => _tier;
        set
        {
            ModelArguments.CheckTier(value);
            _tier = value;
        }
    }

    public abstract int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules = default,
        Span<float> reconstruction = default);

    public abstract int Predict(BatchContext context, ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules = default,
        Span<float> reconstruction = default);

    public abstract void Reconstruct(ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction);

    public abstract BatchContext CreateBatchContext(int workerCount = 0);

    public abstract void PredictBatch(ReadOnlySpan<float> images, Span<float> lengths, Span<int> classes, BatchContext context);

    public void Dispose()
    {
        Workspace.Dispose();
        if (_ownsWeights) Weights.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// <see cref="ModelSession{TWeights, TWorkspace}"/> for an int8 model: the tier of its int8 primary-capsule conv besides
/// the float tier.
/// </summary>
public abstract class Int8ModelSession<TWeights, TWorkspace> : ModelSession<TWeights, TWorkspace>
    where TWeights : class, IDisposable
    where TWorkspace : ModelWorkspace
{
    private Int8Tier _int8Tier = Int8Tiers.Best;

    /// <inheritdoc cref="ModelSession{TWeights, TWorkspace}(string, CapsuleArchitecture, TWeights, TWorkspace, IReadOnlyList{string}, IReadOnlyList{string}, bool)"/>
    protected Int8ModelSession(string modelName, CapsNetArchitecture architecture, TWeights weights, TWorkspace workspace,
        IReadOnlyList<string>? weightsClassNames, IReadOnlyList<string>? classNames, bool ownsWeights)
        : base(modelName, architecture, weights, workspace, weightsClassNames, classNames, ownsWeights)
    {
    }

    /// <summary>The tier of the int8 primary-capsule conv: the best this machine has unless set.</summary>
    public Int8Tier Int8Tier
    {
        get => _int8Tier;
        set
        {
            Int8Tiers.ThrowIfUnsupported(value);
            _int8Tier = value;
        }
    }
}
