namespace CapsEmbedded.Runtime;

/// <summary>
/// Scratch for one forward pass at a time: one 64-byte-aligned buffer of a model's ScratchLength floats, laid out by its
/// <see cref="ScratchLayout"/>. Each generated model's <c>Workspace</c> is one of these; create once, reuse, one per thread.
/// </summary>
public class ModelWorkspace : IDisposable
{
    private readonly AlignedBuffer _scratch;

    /// <param name="scratchLength">Floats of scratch (the model's ScratchLength).</param>
    public ModelWorkspace(int scratchLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(scratchLength);
        _scratch = new AlignedBuffer(scratchLength);
    }

    /// <summary>The whole scratch buffer; the model's Scratch*Offset constants say where each region lies.</summary>
    public Span<float> Scratch => _scratch.Span;

    /// <summary>Frees the scratch memory (not while a Predict call is using it).</summary>
    public void Dispose()
    {
        _scratch.Dispose();
        GC.SuppressFinalize(this);
    }
}
