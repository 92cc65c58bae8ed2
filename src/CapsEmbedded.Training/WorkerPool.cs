namespace CapsEmbedded.Training;

/// <summary>
/// A fixed set of threads that run one job (job(threadIndex)) together and wait for each other: thread 0 is the caller.
/// Started once; a step allocates nothing. An exception in any thread is rethrown to the caller after all have finished.
/// Not the inference library's <c>BatchContext</c>: that one spins on per-worker events to join sub-millisecond layer
/// parts of the model's own delegates; a training step's jobs last many milliseconds, where a Barrier is simpler and its wake-up cost is lost in the noise.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _threads;
    private readonly Barrier _start, _done;
    private Action<int>? _job;
    private Exception? _failure;
    private volatile bool _stopping;

    public WorkerPool(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), $"thread count must be at least 1, got {threads}");
        Count = threads;
        _start = new Barrier(threads);
        _done = new Barrier(threads);
        _threads = new Thread[threads - 1];
        for (int t = 1; t < threads; t++)
        {
            int index = t;
            _threads[t - 1] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"capsnet-train-{index}" };
            _threads[t - 1].Start();
        }
    }

    public int Count { get; }

    private void Loop(int index)
    {
        while (true)
        {
            _start.SignalAndWait();
            if (_stopping) return;
            RunGuarded(index);
            _done.SignalAndWait();
        }
    }

    private void RunGuarded(int index)
    {
        try { _job!(index); }
        catch (Exception e) { Interlocked.CompareExchange(ref _failure, e, null); }
    }

    /// <summary>Runs job(0..Count−1) on the pool's threads and returns when all are done.</summary>
    public void Run(Action<int> job)
    {
        if (_stopping) throw new ObjectDisposedException(nameof(WorkerPool));
        _job = job;
        _failure = null;
        if (Count > 1) _start.SignalAndWait();
        RunGuarded(0);
        if (Count > 1) _done.SignalAndWait();
        _job = null;
        if (_failure is not null) throw new AggregateException("a training thread failed: " + _failure.Message, _failure);
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        if (Count > 1) _start.SignalAndWait();
        foreach (var t in _threads) t.Join();
        _start.Dispose();
        _done.Dispose();
    }
}
