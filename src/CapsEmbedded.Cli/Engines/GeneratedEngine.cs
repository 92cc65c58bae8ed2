using CapsEmbedded.Runtime;

namespace CapsEmbedded.Cli.Engines;

/// <summary>
/// A compiled, generated model (SIMD, allocation-free) with embedded or loaded weights, through its
/// <see cref="ICapsNetSession"/> (the generated <c>Session</c> class), so one engine serves every compiled model.
/// </summary>
public sealed class GeneratedEngine(ICapsNetSession session, string source) : ICapsNetEngine
{
    private BatchContext? _batch;

    public IReadOnlyList<string> ClassNames => session.ClassNames;

    public CapsNetArchitecture Architecture => session.Architecture;

    public string Description => $"compiled {session.ModelName}, {session.Tier} tier, weights {source}";

    public int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules, Span<float> reconstruction) =>
        session.Predict(image, lengths, capsules, reconstruction);

    /// <summary>Decodes <paramref name="capsules"/> (Classes × ClassDims) with every capsule but <paramref name="keep"/> masked.</summary>
    public void Reconstruct(ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction) =>
        session.Reconstruct(capsules, keep, reconstruction);

    public void PredictBatch(float[] images, int count, float[] lengths, int[] classes, int threads)
    {
        if (_batch is null || _batch.WorkerCount != threads)
        {
            _batch?.Dispose();
            _batch = session.CreateBatchContext(threads);
        }
        var a = Architecture;
        session.PredictBatch(images.AsSpan(0, count * a.InputLength), lengths.AsSpan(0, count * a.Classes), classes.AsSpan(0, count), _batch);
    }

    public void Dispose()
    {
        _batch?.Dispose();
        session.Dispose(); // and the loaded weights with it (the embedded ones live on)
    }
}
