using System.Runtime.ExceptionServices;
using System.Runtime.CompilerServices;
using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Threading;

namespace CapsEmbedded.Runtime;

/// <summary>
/// Classifies one item of a batch on worker <paramref name="worker"/> (0 = the caller), for a model that keeps a
/// workspace per worker of its own rather than the context's float scratch (the scalar reference model).
/// </summary>
/// <returns>The predicted class.</returns>
public delegate int BatchItemRunner(int worker, ReadOnlySpan<float> image, Span<float> lengths);

/// <summary>
/// One share of one layer of one image: part <paramref name="part"/> of <paramref name="parts"/>, all parts writing
/// disjoint outputs in the same <paramref name="scratch"/> (see <see cref="BatchContext.RunParts(ImagePartRunner, PackedCapsNetWeights, ReadOnlySpan{float}, SimdTier)"/>).
/// </summary>
public delegate void ImagePartRunner(PackedCapsNetWeights weights, Span<float> scratch, ReadOnlySpan<float> image,
    int part, int parts, SimdTier tier);

/// <summary>
/// Classifies one item of a batch: a generated model's forward pass on one image with a worker's scratch, over weights of
/// type <typeparamref name="TWeights"/>, with the float tier and the int8 one (which a float model ignores).
/// </summary>
/// <returns>The predicted class.</returns>
public delegate int BatchItemPredictor<in TWeights>(TWeights weights, ReadOnlySpan<float> image, Span<float> lengths,
    Span<float> scratch, SimdTier tier, Int8Tier int8Tier);

/// <summary><see cref="ImagePartRunner"/> for a model whose weights are <typeparamref name="TWeights"/> and which runs an int8 tier too.</summary>
public delegate void ImagePartRunner<in TWeights>(TWeights weights, Span<float> scratch, ReadOnlySpan<float> image,
    int part, int parts, SimdTier tier, Int8Tier int8Tier);

/// <summary>
/// A <see cref="WorkerPool"/> with one scratch buffer per worker, that either spreads a batch over its workers
/// (<c>Run</c>: each worker its own scratch buffer, items taken with an interlocked counter) or splits one image's
/// layers (<c>RunParts</c>: <see cref="ImageParts"/> parts per layer, claimed by whichever thread is free, all on worker
/// 0's scratch; <c>RunLayers</c>: several layers so split under one fork/join, a barrier between them), for the float and
/// the int8 models alike.
/// Calls allocate nothing (the two jobs are delegates made once, the batch lives in fields). One call at a time per
/// context; use one context per concurrent caller.
/// </summary>
public sealed unsafe class BatchContext : IDisposable
{
    private readonly AlignedBuffer[] _scratch;
    private readonly WorkerPool _pool;
    private readonly Action<int> _batchJob, _partJob;
    private int _busy;
    private volatile bool _disposed;

    // The call being run: set by Run or RunParts before the workers are released, cleared (default) after they finished.
    private Job _job;
    private int _next;
    private Exception? _error;

    /// <summary>The arguments of one call, for the workers: a batch (Run) or one image's parts (RunParts).</summary>
    private struct Job
    {
        public BatchItemRunner? Runner;
        public ImagePartRunner? PartRunner;
        public PackedCapsNetWeights? Weights;
        // A generic call: its delegate and weights, and how to call them (a cached object per weights type).
        public Delegate? Callback;
        // RunLayers: one callback per layer, run in order (Callback unused).
        public Delegate[]? Layers;
        public object? State;
        public GenericCall? Generic;
        public SimdTier Tier;
        public Int8Tier Int8Tier;
        public float* Inputs, Outputs;
        public int* Classes;
        public int InputLength, OutputLength, Count;
        public float* Image;
        public int ImageLength;
    }

    /// <summary>Default spin before a waiting thread blocks (<see cref="WorkerPool.DefaultSpinMicroseconds"/>: 1 ms).</summary>
    public const int DefaultSpinMicroseconds = WorkerPool.DefaultSpinMicroseconds;

    /// <summary>
    /// Parts per worker that <c>RunParts</c> cuts a layer into: one, so that each thread keeps the same part (the same
    /// band of the map) from layer to layer and reads what it wrote itself. Cache lines that the other core wrote a moment
    /// before are the dear reads of a split image; with more parts per worker, claimed in whatever order the threads
    /// arrive, a thread's parts change from layer to layer (measured in bench/RESULTS.md, "The split image by bands of
    /// the map"). A worker that wakes late still finds its part unclaimed or taken by the caller, who runs every part
    /// alone if need be.
    /// </summary>
    public const int PartsPerWorker = 1;

    /// <param name="scratchLength">Floats of scratch one item needs (the generated model's ScratchLength).</param>
    /// <param name="workerCount">Threads including the caller's; 0 = <see cref="Environment.ProcessorCount"/>.</param>
    /// <param name="spinMicroseconds">How long a waiting thread spins before it blocks (0 = block at once).</param>
    public BatchContext(int scratchLength, int workerCount = 0, int spinMicroseconds = DefaultSpinMicroseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(scratchLength);
        ArgumentOutOfRangeException.ThrowIfNegative(workerCount);
        ArgumentOutOfRangeException.ThrowIfNegative(spinMicroseconds);
        if (workerCount == 0) workerCount = Environment.ProcessorCount;
        ScratchLength = scratchLength;
        _scratch = new AlignedBuffer[workerCount];
        for (int k = 0; k < workerCount; k++) _scratch[k] = new AlignedBuffer(scratchLength);
        _batchJob = Work;
        _partJob = RunPart;
        _pool = new WorkerPool(workerCount, spinMicroseconds, "CapsNet batch worker");
    }

    /// <summary>Threads that work on a batch, the caller's included.</summary>
    public int WorkerCount => _scratch.Length;

    /// <summary>Floats of scratch each worker has.</summary>
    public int ScratchLength { get; }

    /// <summary>How long a waiting thread spins before it blocks.</summary>
    public int SpinMicroseconds => _pool.SpinMicroseconds;

    /// <summary>
    /// Where the pool records each fork/join's parts (<see cref="WorkerPool.Trace"/>), or null (the default) to record
    /// nothing; for benchmarks. Set between calls. A context of one worker runs no pool and records nothing.
    /// </summary>
    public PartTrace? Trace
    {
        get => _pool.Trace;
        set => _pool.Trace = value;
    }

    /// <summary>How many parts <c>RunParts</c> cuts a layer into: <see cref="PartsPerWorker"/> per worker, 1 with one worker.</summary>
    public int ImageParts => _scratch.Length == 1 ? 1 : _scratch.Length * PartsPerWorker;

    /// <summary>The scratch that <c>RunParts</c> hands every part: worker 0's (the caller's).</summary>
    public Span<float> ImageScratch
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _scratch[0].Span;
        }
    }

    /// <summary>
    /// Runs <paramref name="runner"/> on parts 0..<see cref="ImageParts"/>−1, each once, with <see cref="ImageScratch"/>
    /// as everyone's scratch, and returns when all parts are done (a fork/join): the calling thread starts at once and
    /// takes parts until none is left, awake workers take parts beside it, so a worker that is slow to wake delays
    /// nothing. The parts must write disjoint outputs and must not depend on which thread runs them. Rethrows the first
    /// part's exception.
    /// </summary>
    public void RunParts(ImagePartRunner runner, PackedCapsNetWeights weights, ReadOnlySpan<float> image, SimdTier tier)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(weights);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_scratch.Length == 1) runner(weights, _scratch[0].Span, image, 0, 1, tier);
        else RunImage(new Job { PartRunner = runner, Weights = weights, Tier = tier }, image);
    }

    /// <summary>As the other RunParts, for a model with weights of type <typeparamref name="TWeights"/> and an int8 tier.</summary>
    public void RunParts<TWeights>(ImagePartRunner<TWeights> runner, TWeights weights, ReadOnlySpan<float> image, SimdTier tier,
        Int8Tier int8Tier) where TWeights : class
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(weights);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_scratch.Length == 1) runner(weights, _scratch[0].Span, image, 0, 1, tier, int8Tier);
        else RunImage(new Job { Callback = runner, State = weights, Generic = GenericCall<TWeights>.Instance, Tier = tier, Int8Tier = int8Tier }, image);
    }

    /// <summary>
    /// Runs <paramref name="layers"/> in order, each as <c>RunParts</c> would (parts 0..<see cref="ImageParts"/>−1 on
    /// <see cref="ImageScratch"/>), under one fork/join: a thread that has finished its parts of a layer takes a part of
    /// the next and waits at a barrier until every part of the layer before has finished (see
    /// <see cref="WorkerPool.Run(Action{int}, int, int)"/>), so the workers are woken once per image, not once per layer.
    /// A layer's parts may read what every part of the layers before wrote. Rethrows the first part's exception.
    /// </summary>
    public void RunLayers<TWeights>(ImagePartRunner<TWeights>[] layers, TWeights weights, ReadOnlySpan<float> image, SimdTier tier,
        Int8Tier int8Tier) where TWeights : class
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(weights);
        ObjectDisposedException.ThrowIf(_disposed, this);
        foreach (var layer in layers) ArgumentNullException.ThrowIfNull(layer, nameof(layers));
        if (layers.Length == 0) return;
        if (_scratch.Length == 1)
        {
            foreach (var layer in layers) layer(weights, _scratch[0].Span, image, 0, 1, tier, int8Tier);
            return;
        }
        RunImage(new Job { Layers = layers, State = weights, Generic = GenericCall<TWeights>.Instance, Tier = tier, Int8Tier = int8Tier },
            image, layers.Length);
    }

    /// <summary>
    /// Forks one image's <paramref name="job"/> (<paramref name="layers"/> × <see cref="ImageParts"/> parts, a barrier
    /// after each layer's) over the workers and joins them.
    /// </summary>
    private void RunImage(Job job, ReadOnlySpan<float> image, int layers = 1)
    {
        Enter();
        try
        {
            fixed (float* input = image)
            {
                job.Image = input;
                job.ImageLength = image.Length;
                _job = job;
                RunJob(_partJob, ImageParts, layers);
            }
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>
    /// Part <paramref name="part"/> of <paramref name="parts"/> of <paramref name="count"/> items, cut only at multiples of
    /// <paramref name="granule"/> (the last part ends at <paramref name="count"/>): [Begin, End), possibly empty.
    /// </summary>
    public static (int Begin, int End) PartRange(int count, int granule, int part, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(granule);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parts);
        if ((uint)part >= (uint)parts) throw new ArgumentOutOfRangeException(nameof(part), part, $"not a part of {parts}");
        long units = ((long)count + granule - 1) / granule;
        int begin = (int)Math.Min(count, units * part / parts * granule);
        int end = (int)Math.Min(count, units * (part + 1) / parts * granule);
        return (begin, end);
    }

    /// <summary>
    /// Runs <paramref name="predictor"/> on each of the <c>inputs.Length / inputLength</c> items; item k reads
    /// inputs[k·inputLength ..], writes outputs[k·outputLength ..] and classes[k]. Rethrows the first item's exception.
    /// </summary>
    public void Run<TWeights>(BatchItemPredictor<TWeights> predictor, TWeights weights, SimdTier tier, Int8Tier int8Tier,
        ReadOnlySpan<float> inputs, int inputLength, Span<float> outputs, int outputLength, Span<int> classes) where TWeights : class
    {
        ArgumentNullException.ThrowIfNull(predictor);
        ArgumentNullException.ThrowIfNull(weights);
        RunBatch(new Job { Callback = predictor, State = weights, Generic = GenericCall<TWeights>.Instance, Tier = tier, Int8Tier = int8Tier },
            inputs, inputLength, outputs, outputLength, classes);
    }

    /// <summary>
    /// As <see cref="Run{TWeights}"/>, for <paramref name="runner"/>, which is told its worker's index instead of handed the worker's scratch.
    /// </summary>
    public void Run(BatchItemRunner runner, ReadOnlySpan<float> inputs, int inputLength, Span<float> outputs, int outputLength, Span<int> classes)
    {
        ArgumentNullException.ThrowIfNull(runner);
        RunBatch(new Job { Runner = runner }, inputs, inputLength, outputs, outputLength, classes);
    }

    private void RunBatch(Job job, ReadOnlySpan<float> inputs, int inputLength, Span<float> outputs, int outputLength, Span<int> classes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputLength);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int count = inputs.Length / inputLength;
        if (count * inputLength != inputs.Length)
            throw new ArgumentException($"{inputs.Length} inputs is not a multiple of the item size {inputLength}", nameof(inputs));
        if (outputs.Length < (long)count * outputLength)
            throw new ArgumentException($"outputs has room for {outputs.Length} values; {count} items need {(long)count * outputLength}", nameof(outputs));
        if (classes.Length < count)
            throw new ArgumentException($"classes has room for {classes.Length} values; the batch has {count} items", nameof(classes));
        if (count == 0) return;
        Enter();
        try
        {
            fixed (float* input = inputs)
            fixed (float* output = outputs)
            fixed (int* cls = classes)
            {
                job.Inputs = input;
                job.Outputs = output;
                job.Classes = cls;
                job.InputLength = inputLength;
                job.OutputLength = outputLength;
                job.Count = count;
                _job = job;
                _next = 0;
                RunJob(_batchJob, Math.Min(_scratch.Length, count));
            }
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Claims the context for one call: a second concurrent call would overwrite the job in the fields.</summary>
    private void Enter()
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("this BatchContext is already running; use one context per concurrent caller");
    }

    /// <summary>
    /// Runs <paramref name="job"/>(0..<paramref name="parts"/>−1) on the pool and joins, clears the job's fields (no
    /// pointer into a caller's unpinned span or reference to its weights outlives the call), then rethrows the first
    /// worker's exception.
    /// </summary>
    private void RunJob(Action<int> job, int parts, int phases = 1)
    {
        _error = null;
        _pool.Run(job, parts, phases);
        _job = default;
        var error = _error;
        _error = null;
        if (error is not null) ExceptionDispatchInfo.Capture(error).Throw();
    }

    /// <summary>
    /// Part <paramref name="index"/> of the image job in the fields, on whichever thread claimed it: part
    /// index mod <see cref="ImageParts"/> of layer index / <see cref="ImageParts"/> (of the one layer, for RunParts).
    /// </summary>
    private void RunPart(int index)
    {
        try
        {
            var image = new ReadOnlySpan<float>(_job.Image, _job.ImageLength);
            int parts = ImageParts, part = index % parts;
            if (_job.Generic is { } generic) generic.Part(_job, _job.Layers?[index / parts] ?? _job.Callback!, _scratch[0].Span, image, part, parts);
            else _job.PartRunner!(_job.Weights!, _scratch[0].Span, image, part, parts, _job.Tier);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, e, null);
        }
    }

    /// <summary>
    /// Part <paramref name="worker"/> of a batch: takes items one at a time on scratch buffer <paramref name="worker"/>
    /// until none is left (an image is milliseconds of work: no chunking needed). The pool runs each part once, on
    /// whichever thread claims it, so no two threads share a scratch buffer; a late worker finds the items taken.
    /// </summary>
    private void Work(int worker)
    {
        Span<float> scratch = _scratch[worker].Span;
        var runner = _job.Runner;
        var generic = _job.Generic!;
        int count = _job.Count, inputLength = _job.InputLength, outputLength = _job.OutputLength;
        while (true)
        {
            int item = Interlocked.Increment(ref _next) - 1;
            if (item >= count) return;
            try
            {
                var input = new ReadOnlySpan<float>(_job.Inputs + (long)item * inputLength, inputLength);
                var output = new Span<float>(_job.Outputs + (long)item * outputLength, outputLength);
                _job.Classes[item] = runner is not null ? runner(worker, input, output) : generic.Item(_job, input, output, scratch);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
                Volatile.Write(ref _next, count);
            }
        }
    }

    /// <summary>Calls a generic job's delegate on its weights: one cached instance per weights type, so a call allocates nothing.</summary>
    private abstract class GenericCall
    {
        public abstract void Part(in Job job, Delegate callback, Span<float> scratch, ReadOnlySpan<float> image, int part, int parts);

        public abstract int Item(in Job job, ReadOnlySpan<float> image, Span<float> lengths, Span<float> scratch);
    }

    private sealed class GenericCall<TWeights> : GenericCall where TWeights : class
    {
        public static readonly GenericCall<TWeights> Instance = new();

        // The job was built by the generic Run/RunParts/RunLayers of this TWeights: the casts cannot fail.
        public override void Part(in Job job, Delegate callback, Span<float> scratch, ReadOnlySpan<float> image, int part, int parts)
            => Unsafe.As<ImagePartRunner<TWeights>>(callback)(Unsafe.As<TWeights>(job.State!), scratch, image, part, parts,
                job.Tier, job.Int8Tier);

        public override int Item(in Job job, ReadOnlySpan<float> image, Span<float> lengths, Span<float> scratch)
            => Unsafe.As<BatchItemPredictor<TWeights>>(job.Callback!)(Unsafe.As<TWeights>(job.State!), image, lengths, scratch,
                job.Tier, job.Int8Tier);
    }

    /// <summary>Stops the workers and frees the scratch buffers. Not to be called while a batch runs.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _pool.Dispose();
        foreach (var buffer in _scratch) buffer.Dispose();
    }
}
