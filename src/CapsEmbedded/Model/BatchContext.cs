using System.Runtime.ExceptionServices;
using CapsEmbedded.Kernels;

namespace CapsEmbedded.Model;

/// <summary>Classifies one item of a batch: the generated model's forward pass on one image with a worker's scratch.</summary>
/// <returns>The predicted class.</returns>
public delegate int BatchItemPredictor(PackedCapsNetWeights weights, ReadOnlySpan<float> image, Span<float> lengths,
    Span<float> scratch, SimdTier tier);

/// <summary>
/// Spreads a batch over a fixed set of worker threads, each with its own scratch buffer, created once. A batch call
/// allocates nothing: the threads wait on a semaphore, take items with an interlocked counter (the caller's thread works
/// too) and the caller waits on an event. One batch at a time per context; use one context per concurrent caller.
/// </summary>
public sealed unsafe class BatchContext : IDisposable
{
    private readonly AlignedBuffer[] _scratch;
    private readonly Thread[] _workers;
    private readonly SemaphoreSlim _start = new(0);
    private readonly ManualResetEventSlim _done = new(false);
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

    /// <param name="scratchLength">Floats of scratch one item needs (the generated model's ScratchLength).</param>
    /// <param name="workerCount">Threads including the caller's; 0 = <see cref="Environment.ProcessorCount"/>.</param>
    public BatchContext(int scratchLength, int workerCount = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(scratchLength);
        ArgumentOutOfRangeException.ThrowIfNegative(workerCount);
        if (workerCount == 0) workerCount = Environment.ProcessorCount;
        ScratchLength = scratchLength;
        _scratch = new AlignedBuffer[workerCount];
        for (int k = 0; k < workerCount; k++) _scratch[k] = new AlignedBuffer(scratchLength);
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
                int helpers = Math.Min(_workers.Length, count - 1);
                _running = helpers;
                _done.Reset();
                if (helpers > 0) _start.Release(helpers);
                Work(0);
                if (helpers > 0) _done.Wait();
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
        while (true)
        {
            _start.Wait();
            if (_disposed) return;
            Work(index);
            if (Interlocked.Decrement(ref _running) == 0) _done.Set();
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
        if (_workers.Length > 0) _start.Release(_workers.Length); // Release(0) throws
        foreach (var worker in _workers) worker.Join();
        foreach (var buffer in _scratch) buffer.Dispose();
        _start.Dispose();
        _done.Dispose();
    }
}
