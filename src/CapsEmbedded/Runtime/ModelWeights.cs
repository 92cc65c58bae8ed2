namespace CapsEmbedded.Runtime;

/// <summary>
/// A generated model's weights, whatever their packing: the class names, and the once-per-process instance of the
/// weights embedded in the model's assembly (<see cref="Once{TWeights}"/>), which <see cref="Dispose"/> leaves alone.
/// Immutable once built: share one instance between threads.
/// </summary>
public abstract class ModelWeights : IDisposable
{
    private volatile bool _embedded;

    protected ModelWeights(IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        ClassNames = classNames;
    }

    /// <summary>
    /// One name per class j, from these weights' capsnet.class_names metadata ("0".."N-1" when they have none); the
    /// model's ClassNames for Embedded.
    /// </summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Frees the packed tensors.</summary>
    protected abstract void Free();

    /// <summary>Frees the packed weights once no Predict uses them (no-op for the embedded instance, which lives on).</summary>
    public void Dispose()
    {
        if (!_embedded) Free();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// The process's one embedded instance in <paramref name="slot"/>, made by <paramref name="create"/> at first use (a
    /// thread that loses the race frees its own copy). Pass a static lambda: a call then allocates nothing.
    /// </summary>
    protected static TWeights Once<TWeights>(ref TWeights? slot, Func<TWeights> create) where TWeights : ModelWeights
    {
        var existing = Volatile.Read(ref slot);
        if (existing is not null) return existing;
        var created = create();
        created._embedded = true;
        var winner = Interlocked.CompareExchange(ref slot, created, null);
        if (winner is null) return created;
        created.Free();
        return winner;
    }
}

/// <summary>A generated model's weights packed as <typeparamref name="TPacked"/> for its kernels.</summary>
public abstract class ModelWeights<TPacked> : ModelWeights where TPacked : class, IDisposable
{
    protected ModelWeights(TPacked packed, IReadOnlyList<string> classNames) : base(classNames)
    {
        ArgumentNullException.ThrowIfNull(packed);
        Packed = packed;
    }

    /// <summary>The packed tensors, read by the generated forward pass.</summary>
    public TPacked Packed { get; }

    protected override void Free() => Packed.Dispose();
}
