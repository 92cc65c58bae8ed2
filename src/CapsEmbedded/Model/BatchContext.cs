using System.Diagnostics;
using System.Runtime.ExceptionServices;
using CapsEmbedded.Kernels;

namespace CapsEmbedded.Model;

/// <summary>Classifies one item of a batch: the generated model's forward pass on one image with a worker's scratch.</summary>
/// <returns>The predicted class.</returns>
public delegate int BatchItemPredictor(PackedCapsNetWeights weights, ReadOnlySpan<float> image, Span<float> lengths,
    Span<float> scratch, SimdTier tier);

/// <summary>
/// One share of one layer of one image: part <paramref name="part"/> of <paramref name="parts"/>, all parts writing
/// disjoint outputs in the same <paramref name="scratch"/> (see <see cref="BatchContext.RunParts"/>).
/// </summary>
public delegate void ImagePartRunner(PackedCapsNetWeights weights, Span<float> scratch, ReadOnlySpan<float> image,
    int part, int parts, SimdTier tier);

/// <summary>
/// A fixed set of worker threads, created once, that either spread a batch over themselves (<see cref="Run"/>: each
/// worker its own scratch buffer, items taken with an interlocked counter) or split one image's layers
/// (<see cref="RunParts"/>: every worker one part, all on worker 0's scratch). Calls allocate nothing. Workers wake
/// on a per-worker event; after a job they spin for a short while (<see cref="SpinMicroseconds"/>) before blocking, so
/// that the next layer of the same image starts without a kernel wake-up; the caller spins the same way at a join.
/// One call at a time per context; use one context per concurrent caller.
/// Not shared with the trainer's <c>WorkerPool</c>: that one runs whole training steps (many milliseconds) where a plain Barrier costs nothing, and
/// serving it from here would make a general-purpose thread pool public API of this inference library.
/// </summary>
public sealed unsafe class BatchContext : IDisposable
{
    private readonly AlignedBuffer[] _scratch;
    private readonly Thread[] _workers;
    private readonly ManualResetEventSlim[] _wake;
    private readonly ManualResetEventSlim _done = new(false);
    private int _forked;   // helpers woken by the last Fork: Join waits for their one Set
    private readonly long _spinTicks;
    private int _busy;
    private volatile bool _disposed;

    // The batch being run; set by Run before the workers are released, cleared after they finished.
    private BatchItemPredictor? _predictor;
    private PackedCapsNetWeights? _weights;
    private SimdTier _tier;
    private float* _inputs;
    private float* _outputs;
    private int* _classes;
    private int _inputLength;
    private int _outputLength;
    private int _count;
    private int _next;
    private int _running;
    private Exception? _error;

    // The image job being run by RunParts (null when the job is a batch).
    private ImagePartRunner? _partRunner;
    private float* _image;
    private int _imageLength;

    /// <summary>Default spin before a waiting thread blocks: covers the gap between an image's layers.</summary>
    public const int DefaultSpinMicroseconds = 100;

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
        SpinMicroseconds = spinMicroseconds;
        _spinTicks = spinMicroseconds * Stopwatch.Frequency / 1_000_000;
        _scratch = new AlignedBuffer[workerCount];
        for (int k = 0; k < workerCount; k++) _scratch[k] = new AlignedBuffer(scratchLength);
        _wake = new ManualResetEventSlim[workerCount - 1];
        for (int k = 0; k < _wake.Length; k++) _wake[k] = new ManualResetEventSlim(false);
        // A ManualResetEventSlim allocates its lock object the first time a thread blocks on it; block once here
        // (1 ms each) so that a first block under load, later, allocates nothing on the predicting threads.
        _done.Wait(1);
        foreach (var wake in _wake) wake.Wait(1);
        _workers = new Thread[workerCount - 1];
        for (int k = 0; k < _workers.Length; k++)
        {
            int index = k + 1;
            _workers[k] = new Thread(() => WorkerLoop(index))
            {
                IsBackground = true,
                Name = $"CapsNet batch worker {index}",
            };
            _workers[k].Start();
        }
    }

    /// <summary>Threads that work on a batch, the caller's included.</summary>
    public int WorkerCount => _scratch.Length;

    /// <summary>Floats of scratch each worker has.</summary>
    public int ScratchLength { get; }

    /// <summary>How long a waiting thread spins before it blocks.</summary>
    public int SpinMicroseconds { get; }

    /// <summary>The scratch that <see cref="RunParts"/> hands every part: worker 0's (the caller's).</summary>
    public Span<float> ImageScratch
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _scratch[0].Span;
        }
    }

    /// <summary>
    /// Runs <paramref name="runner"/> once per worker, concurrently — part k on worker k, part 0 on the calling thread —
    /// with <see cref="ImageScratch"/> as everyone's scratch, and returns when all parts are done (a fork/join). The
    /// parts must write disjoint outputs. Rethrows the first part's exception.
    /// </summary>
    public void RunParts(ImagePartRunner runner, PackedCapsNetWeights weights, ReadOnlySpan<float> image, SimdTier tier)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(weights);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int parts = _scratch.Length;
        if (parts == 1)
        {
            runner(weights, _scratch[0].Span, image, 0, 1, tier);
            return;
        }

        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("this BatchContext is already running; use one context per concurrent caller");
        try
        {
            fixed (float* input = image)
            {
                _partRunner = runner;
                _weights = weights;
                _tier = tier;
                _image = input;
                _imageLength = image.Length;
                _error = null;
                Fork(_workers.Length);
                try
                {
                    runner(weights, _scratch[0].Span, image, 0, parts, tier);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _error, e, null);
                }

                Join();
                _partRunner = null;
                _weights = null;
                _image = null;
            }

            var error = _error;
            _error = null;
            if (error is not null) ExceptionDispatchInfo.Capture(error).Throw();
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

    /// <summary>Wakes the first <paramref name="helpers"/> workers for the job set up in the fields.</summary>
    private void Fork(int helpers)
    {
        _forked = helpers;
        _running = helpers;
        for (int k = 0; k < helpers; k++) _wake[k].Set();
    }

    /// <summary>Waits until every woken worker has finished: spins for a while (the parts end together), then blocks.</summary>
    /// <remarks>
    /// The last worker sets <c>_done</c> after its decrement; the caller always consumes that Set (Wait, then Reset)
    /// even when it saw the count reach zero while spinning. Otherwise a worker preempted between its decrement and
    /// its Set would set the event during the next job, and that job's Join would return before its parts are done.
    /// </remarks>
    private void Join()
    {
        if (_forked == 0) return;
        long deadline = Stopwatch.GetTimestamp() + _spinTicks;
        var spinner = new SpinWait();
        while (Volatile.Read(ref _running) != 0 && Stopwatch.GetTimestamp() < deadline) spinner.SpinOnce(sleep1Threshold: -1);
        _done.Wait();
        _done.Reset();
    }

    /// <summary>A worker's wait for its next job: spins on its event for a while, then blocks on it.</summary>
    private void WaitForJob(ManualResetEventSlim wake)
    {
        if (!wake.IsSet)
        {
            long deadline = Stopwatch.GetTimestamp() + _spinTicks;
            var spinner = new SpinWait();
            while (!wake.IsSet && Stopwatch.GetTimestamp() < deadline) spinner.SpinOnce(sleep1Threshold: -1);
            wake.Wait();
        }

        wake.Reset();
    }

    /// <summary>
    /// Runs <paramref name="predictor"/> on each of the <c>inputs.Length / inputLength</c> items; item k reads
    /// inputs[k·inputLength ..], writes outputs[k·outputLength ..] and classes[k]. Rethrows the first item's exception.
    /// </summary>
    public void Run(BatchItemPredictor predictor, PackedCapsNetWeights weights, SimdTier tier, ReadOnlySpan<float> inputs,
        int inputLength, Span<float> outputs, int outputLength, Span<int> classes)
    {
        ArgumentNullException.ThrowIfNull(predictor);
        ArgumentNullException.ThrowIfNull(weights);
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
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("this BatchContext is already running a batch; use one context per concurrent caller");
        try
        {
            fixed (float* input = inputs)
            fixed (float* output = outputs)
            fixed (int* cls = classes)
            {
                _predictor = predictor;
                _weights = weights;
                _tier = tier;
                _inputs = input;
                _outputs = output;
                _classes = cls;
                _inputLength = inputLength;
                _outputLength = outputLength;
                _count = count;
                _next = 0;
                _error = null;
                Fork(Math.Min(_workers.Length, count - 1));
                Work(0);
                Join();
                _predictor = null;
                _weights = null;
                _inputs = null;
                _outputs = null;
                _classes = null;
            }
            var error = _error;
            _error = null;
            if (error is not null) ExceptionDispatchInfo.Capture(error).Throw();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private void WorkerLoop(int index)
    {
        var wake = _wake[index - 1];
        while (true)
        {
            WaitForJob(wake);
            if (_disposed) return;
            if (_partRunner is { } runner) RunPart(runner, index);
            else Work(index);
            if (Interlocked.Decrement(ref _running) == 0) _done.Set();
        }
    }

    private void RunPart(ImagePartRunner runner, int index)
    {
        try
        {
            runner(_weights!, _scratch[0].Span, new ReadOnlySpan<float>(_image, _imageLength), index, _scratch.Length, _tier);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, e, null);
        }
    }

    /// <summary>Takes items one at a time until none is left (an image is milliseconds of work: no chunking needed).</summary>
    private void Work(int worker)
    {
        Span<float> scratch = _scratch[worker].Span;
        var predictor = _predictor!;
        var weights = _weights!;
        while (true)
        {
            int item = Interlocked.Increment(ref _next) - 1;
            if (item >= _count) return;
            try
            {
                var input = new ReadOnlySpan<float>(_inputs + (long)item * _inputLength, _inputLength);
                var output = new Span<float>(_outputs + (long)item * _outputLength, _outputLength);
                _classes[item] = predictor(weights, input, output, scratch, _tier);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
                Volatile.Write(ref _next, _count);
            }
        }
    }

    /// <summary>Stops the workers and frees the scratch buffers. Not to be called while a batch runs.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var wake in _wake) wake.Set();
        foreach (var worker in _workers) worker.Join();
        foreach (var buffer in _scratch) buffer.Dispose();
        foreach (var wake in _wake) wake.Dispose();
        _done.Dispose();
    }
}
