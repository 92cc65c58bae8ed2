using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Threading;

namespace CapsEmbedded.Quantization;

/// <summary>
/// A batch of images through a <see cref="QuantizedCapsNet"/> on a fixed <see cref="WorkerPool"/>: worker k predicts one
/// contiguous chunk of the images with its own <see cref="QuantizedCapsNet.Workspace"/> (one image per call, so the
/// results are bit-identical to one <see cref="QuantizedCapsNet.Predict(QuantizedCapsNet.Workspace, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, SimdTier, Int8Tier)"/>
/// per image). Threads and workspaces are made once; a call allocates nothing. One call at a time.
/// </summary>
public sealed class QuantizedBatch : IDisposable
{
    private readonly QuantizedCapsNet _model;
    private readonly WorkerPool _pool;
    private readonly QuantizedCapsNet.Workspace[] _workspaces;
    private readonly Action<int> _part;

    // The call in flight, read by the parts (arrays, not spans: a delegate cannot capture a span).
    private float[]? _images;
    private float[]? _lengths;
    private int[]? _classes;
    private int _count, _parties;
    private SimdTier _tier;
    private Int8Tier _int8Tier;

    /// <param name="model">The int8 model; it must outlive this batch.</param>
    /// <param name="threads">Threads including the caller's (at least 1).</param>
    public QuantizedBatch(QuantizedCapsNet model, int threads)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _model = model;
        _pool = new WorkerPool(threads, name: "capsnet int8 worker");
        _workspaces = new QuantizedCapsNet.Workspace[threads];
        for (int k = 0; k < threads; k++) _workspaces[k] = new QuantizedCapsNet.Workspace(model.Architecture);
        _part = PredictPart;
    }

    /// <summary>Threads that share a batch, the caller's included.</summary>
    public int Threads => _pool.Count;

    /// <summary>
    /// Classes and capsule lengths of <paramref name="count"/> images ([count][C·S·S] in <paramref name="images"/>) into
    /// <paramref name="classes"/>[count] and <paramref name="lengths"/>[count][classes].
    /// </summary>
    public void Predict(float[] images, int count, float[] lengths, int[] classes, SimdTier tier, Int8Tier int8Tier)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(lengths);
        ArgumentNullException.ThrowIfNull(classes);
        var a = _model.Architecture;
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if ((long)count * a.InputLength > images.Length) throw new ArgumentException($"images holds {images.Length} values; {count} images need {(long)count * a.InputLength}", nameof(images));
        if ((long)count * a.Classes > lengths.Length) throw new ArgumentException($"lengths holds {lengths.Length} values; {count} images need {(long)count * a.Classes}", nameof(lengths));
        if (count > classes.Length) throw new ArgumentException($"classes holds {classes.Length} values; {count} images need {count}", nameof(classes));
        if (count == 0) return;

        (_images, _lengths, _classes, _count, _tier, _int8Tier) = (images, lengths, classes, count, tier, int8Tier);
        _parties = Math.Min(_pool.Count, count);
        try
        {
            _pool.Run(_part, _parties);
        }
        finally
        {
            (_images, _lengths, _classes) = (null, null, null);
        }
    }

    private void PredictPart(int part)
    {
        var a = _model.Architecture;
        int pixels = a.InputLength, k = a.Classes;
        int first = (int)((long)_count * part / _parties), end = (int)((long)_count * (part + 1) / _parties);
        var workspace = _workspaces[part];
        for (int n = first; n < end; n++)
        {
            _classes![n] = _model.Predict(workspace, _images.AsSpan(n * pixels, pixels), _lengths.AsSpan(n * k, k),
                default, default, _tier, _int8Tier);
        }
    }

    public void Dispose()
    {
        _pool.Dispose();
        foreach (var workspace in _workspaces) workspace.Dispose();
    }
}
