using System.Numerics;
using CapsEmbedded.Threading;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Training;

/// <summary>Thrown when a step's loss is NaN or infinite; the parameters are left as they were before that step.</summary>
public sealed class NonFiniteLossException : Exception
{
    public NonFiniteLossException(long step, double marginLoss, double reconstructionLoss)
        : base(FormattableString.Invariant($"the loss became non-finite at step {step} (margin {marginLoss}, reconstruction {reconstructionLoss}); parameters were not updated"))
    {
        Step = step;
    }

    public long Step { get; }
}

/// <summary>
/// Data-parallel training steps: the batch is cut into one contiguous slice per thread, each thread runs its
/// <see cref="CapsNetWorker{T}"/> over its slice group by group into its own gradient buffer, then every thread reduces
/// (in thread order) and applies Adam to its share of the parameters. All buffers are allocated in the constructor.
/// For a given thread count the result is the same bits on every run.
/// </summary>
public sealed class CapsNetTrainer<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly WorkerPool _pool;
    private readonly CapsNetWorker<T>[] _workers;
    private readonly T[][] _gradients;
    private readonly StepTotals[] _totals;
    // primary_caps.weight packed once per step for every worker's forward GEMM (the parameters change only in Adam).
    private readonly T[] _packedPrimary;
    private readonly Action<int> _trainJob, _updateJob, _evaluateJob;
    // Arguments of the job in flight (set by the caller thread before pool.Run, read by the workers).
    private T[] _images = Array.Empty<T>();
    private T[]? _reconstructionTargets;
    private int[] _labels = Array.Empty<int>();
    private int[] _predictions = Array.Empty<int>();
    private int _batch, _targets = 1, _top = 1;
    private double _learningRate;

    /// <param name="initial">Starting weights; their architecture is the trained network's.</param>
    /// <param name="threads">Worker threads (the batch is split in this many slices).</param>
    /// <param name="groupSize">Images per GEMM inside a thread.</param>
    /// <param name="reconstructionWeight">Weight of the reconstruction loss (<see cref="CapsNetWorker{T}.ReconstructionWeight"/>).</param>
    /// <param name="targets">Most true classes per image the steps will carry (1; MultiMNIST: 2).</param>
    public CapsNetTrainer(CapsNetWeights initial, int threads, int groupSize, double reconstructionWeight = TrainingOptions.PaperReconstructionWeight,
        int targets = 1)
    {
        Architecture = initial.Architecture;
        Layout = new ParameterLayout(Architecture);
        Parameters = new T[Layout.Count];
        Layout.Import(initial, Parameters.AsSpan());
        Optimizer = new AdamOptimizer<T>(Layout.Count);
        _pool = new WorkerPool(threads, name: "capsnet-train");
        _workers = new CapsNetWorker<T>[threads];
        _gradients = new T[threads][];
        _packedPrimary = new T[CapsNetWorker<T>.PackedPrimaryLength(Architecture)];
        for (int t = 0; t < threads; t++)
        {
            _workers[t] = new CapsNetWorker<T>(Architecture, Layout, Parameters, groupSize, _packedPrimary, reconstructionWeight, targets);
            _gradients[t] = _workers[t].Gradients;
        }
        _totals = new StepTotals[threads];
        _trainJob = TrainSlice;
        _updateJob = UpdateSlice;
        _evaluateJob = EvaluateSlice;
    }

    public CapsNetArchitecture Architecture { get; }
    public ParameterLayout Layout { get; }
    /// <summary>The flat parameter vector in training layout (see <see cref="ParameterLayout"/>).</summary>
    public T[] Parameters { get; }
    public AdamOptimizer<T> Optimizer { get; }
    public int Threads => _workers.Length;
    /// <summary>Most true classes per image a step may carry.</summary>
    public int Targets => _workers[0].Targets;

    /// <summary>Whether the workers' GEMMs step over all-zero k steps of A (the default; tests prove the bits are the same).</summary>
    internal bool SkipZeroSteps
    {
        get => _workers[0].SkipZeroSteps;
        set { foreach (var w in _workers) w.SkipZeroSteps = value; }
    }

    /// <summary>The workers' <see cref="CapsNetWorker{T}.MaskedLiveShareLimit"/> (tests run the masked path from a random start).</summary>
    internal double MaskedLiveShareLimit
    {
        get => _workers[0].MaskedLiveShareLimit;
        set { foreach (var w in _workers) w.MaskedLiveShareLimit = value; }
    }

    /// <summary>Groups whose dA1 the workers' masked path computed.</summary>
    internal long MaskedGroups => _workers.Sum(w => w.MaskedGroups);

    /// <summary>A-panel k steps all workers' GEMMs stepped over so far.</summary>
    internal long SkippedZeroSteps => _workers.Sum(w => w.SkippedZeroSteps);
    /// <summary>Adam steps taken so far.</summary>
    public long Step { get; set; }

    /// <summary>
    /// One step over a batch ([batch][input] images in [0,1], labels): forward, backward of the batch-mean loss, Adam at
    /// <paramref name="learningRate"/>. Returns the sums over the batch. Throws <see cref="NonFiniteLossException"/> before
    /// touching the parameters if the loss is not finite.
    /// </summary>
    public StepTotals TrainStep(T[] images, int[] labels, int batch, double learningRate) =>
        TrainStep(images, labels, 1, null, batch, learningRate);

    /// <summary>
    /// One step over a batch of images with <paramref name="targets"/> true classes each (<see cref="CapsNetWorker{T}.TrainGroup(ReadOnlySpan{T}, ReadOnlySpan{int}, int, ReadOnlySpan{T}, int, T, bool)"/>):
    /// labels [batch][targets], reconstruction targets [batch][targets][input] (null: each image is its own, one target only).
    /// </summary>
    public StepTotals TrainStep(T[] images, int[] labels, int targets, T[]? reconstructionTargets, int batch, double learningRate)
    {
        int input = Architecture.InputLength;
        if (targets < 1 || targets > Targets) throw new ArgumentOutOfRangeException(nameof(targets), $"{targets} targets per image; this trainer takes 1..{Targets}");
        if (reconstructionTargets is null && targets != 1)
            throw new ArgumentException("images of two or more targets need their reconstruction targets", nameof(reconstructionTargets));
        if (batch < 1 || labels.Length < batch * targets || images.Length < batch * input
            || (reconstructionTargets is not null && reconstructionTargets.Length < batch * targets * input))
            throw new ArgumentException($"batch {batch} of {targets} targets does not fit {images.Length} image values, {labels.Length} labels and {reconstructionTargets?.Length ?? images.Length} target values");
        for (int k = 0; k < batch * targets; k++)
            if ((uint)labels[k] >= (uint)Architecture.Classes)
                throw new ArgumentOutOfRangeException(nameof(labels), $"label {labels[k]} of batch item {k / targets} is outside 0..{Architecture.Classes - 1}");
        _images = images; _labels = labels; _batch = batch; _targets = targets; _reconstructionTargets = reconstructionTargets;
        CapsNetWorker<T>.PackPrimaryWeight(Architecture, Layout, Parameters, _packedPrimary);
        _pool.Run(_trainJob);
        var sum = new StepTotals();
        foreach (var t in _totals) sum.Add(t);
        if (!double.IsFinite(sum.MarginLoss) || !double.IsFinite(sum.ReconstructionLoss))
        {
            foreach (var g in _gradients) Array.Clear(g);
            throw new NonFiniteLossException(Step + 1, sum.MarginLoss, sum.ReconstructionLoss);
        }
        Step++;
        _learningRate = learningRate;
        _pool.Run(_updateJob);
        return sum;
    }

    private (int Start, int End) Slice(int thread, int count) =>
        ((int)((long)count * thread / Threads), (int)((long)count * (thread + 1) / Threads));

    private void TrainSlice(int thread)
    {
        var worker = _workers[thread];
        var (start, end) = Slice(thread, _batch);
        int input = Architecture.InputLength;
        T scale = T.One / T.CreateTruncating(_batch);
        var totals = new StepTotals();
        int groups = Groups(end - start, worker.GroupSize);
        for (int k = 0; k < groups; k++)
        {
            int g = start + (end - start) * k / groups, count = start + (end - start) * (k + 1) / groups - g;
            int t = _targets;
            var images = _images.AsSpan(g * input, count * input);
            var reconstructionTargets = _reconstructionTargets is null ? images : _reconstructionTargets.AsSpan(g * t * input, count * t * input);
            totals.Add(worker.TrainGroup(images, _labels.AsSpan(g * t, count * t), t, reconstructionTargets, count, scale,
                foldPrimaryWeightGradient: false));
        }
        worker.FoldPrimaryWeightGradient(); // once per step, not per group
        _totals[thread] = totals;
    }

    /// <summary>Groups of equal size (50 images, at most 8 a group: 7 groups of 7–8, not 6 × 8 + 2), so no GEMM runs on a sliver.</summary>
    private static int Groups(int images, int groupSize) => (images + groupSize - 1) / groupSize;

    private void UpdateSlice(int thread)
    {
        // Ranges rounded to 64 elements so that threads never share a cache line.
        int n = Parameters.Length;
        int start = (int)((long)n * thread / Threads) & ~63, end = thread == Threads - 1 ? n : (int)((long)n * (thread + 1) / Threads) & ~63;
        if (end > start) Optimizer.Update(Parameters, _gradients, start, end - start, Step, _learningRate);
    }

    /// <summary>Predicted classes (longest capsule) of <paramref name="count"/> images, in parallel, no decoder.</summary>
    public void Predict(T[] images, int count, int[] predictions) => Predict(images, count, 1, predictions);

    /// <summary>The <paramref name="top"/> longest capsules' classes of each of <paramref name="count"/> images, longest first
    /// ([count][top], <see cref="CapsNetWorker{T}.Top"/>), in parallel, no decoder.</summary>
    public void Predict(T[] images, int count, int top, int[] predictions)
    {
        if (top < 1 || top > Architecture.Classes) throw new ArgumentOutOfRangeException(nameof(top), $"top {top} is outside 1..{Architecture.Classes}");
        if (images.Length < count * Architecture.InputLength || predictions.Length < count * top)
            throw new ArgumentException($"{count} images do not fit the buffers");
        _images = images; _batch = count; _predictions = predictions; _top = top;
        CapsNetWorker<T>.PackPrimaryWeight(Architecture, Layout, Parameters, _packedPrimary);
        _pool.Run(_evaluateJob);
    }

    private void EvaluateSlice(int thread)
    {
        var worker = _workers[thread];
        var (start, end) = Slice(thread, _batch);
        int input = Architecture.InputLength;
        int groups = Groups(end - start, worker.GroupSize);
        for (int k = 0; k < groups; k++)
        {
            int g = start + (end - start) * k / groups, count = start + (end - start) * (k + 1) / groups - g;
            worker.Forward(_images.AsSpan(g * input, count * input), count, ReadOnlySpan<int>.Empty);
            for (int i = 0; i < count; i++) worker.Top(i, _predictions.AsSpan((g + i) * _top, _top));
        }
    }


    /// <summary>The parameters as weights in PyTorch layout.</summary>
    public CapsNetWeights ExportWeights(IReadOnlyDictionary<string, string>? metadata = null) =>
        Layout.ToWeights<T>(Parameters, metadata);

    public void Dispose() => _pool.Dispose();
}
