using System.Diagnostics;

namespace CapsEmbedded.Threading;

/// <summary>
/// The one worker pool of the project: a fixed set of threads, created once, that run one job together (a fork/join):
/// job(k) on worker k, job(0) on the calling thread. A call allocates nothing. Workers wake on a per-worker event; after
/// a job they spin for a short while (<see cref="SpinMicroseconds"/>) before blocking, so that a job that follows at once
/// (the next layer of the same image, Adam after a training step's backward) starts without a kernel wake-up; the
/// caller spins the same way at the join. Used by <c>BatchContext</c> (inference) and the trainer. One call at a time.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _workers;
    private readonly ManualResetEventSlim[] _wake;
    private readonly ManualResetEventSlim _done = new(false);
    private readonly long _spinTicks;
    private Action<int>? _job;
    private int _forked;   // helpers woken by the last Fork: Join waits for their one Set
    private int _running;
    private Exception? _failure;
    private volatile bool _disposed;

    /// <summary>Default spin before a waiting thread blocks: covers the gap between an image's layers.</summary>
    public const int DefaultSpinMicroseconds = 100;

    /// <param name="threads">Threads including the caller's (at least 1).</param>
    /// <param name="spinMicroseconds">How long a waiting thread spins before it blocks (0 = block at once).</param>
    /// <param name="name">Thread names: "<paramref name="name"/> k".</param>
    public WorkerPool(int threads, int spinMicroseconds = DefaultSpinMicroseconds, string name = "capsnet worker")
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), $"thread count must be at least 1, got {threads}");
        ArgumentOutOfRangeException.ThrowIfNegative(spinMicroseconds);
        Count = threads;
        SpinMicroseconds = spinMicroseconds;
        _spinTicks = spinMicroseconds * Stopwatch.Frequency / 1_000_000;
        _wake = new ManualResetEventSlim[threads - 1];
        for (int k = 0; k < _wake.Length; k++) _wake[k] = new ManualResetEventSlim(false);
        // A ManualResetEventSlim allocates its lock object the first time a thread blocks on it; block once here
        // (1 ms each) so that a first block under load, later, allocates nothing on the calling threads.
        _done.Wait(1);
        foreach (var wake in _wake) wake.Wait(1);
        _workers = new Thread[threads - 1];
        for (int k = 0; k < _workers.Length; k++)
        {
            int index = k + 1;
            _workers[k] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"{name} {index}" };
            _workers[k].Start();
        }
    }

    /// <summary>Threads that run a job, the caller's included.</summary>
    public int Count { get; }

    /// <summary>How long a waiting thread spins before it blocks.</summary>
    public int SpinMicroseconds { get; }

    /// <summary>Runs job(0..Count−1) and returns when all are done.</summary>
    public void Run(Action<int> job) => Run(job, Count);

    /// <summary>
    /// Runs job(0..<paramref name="parties"/>−1) — job(k) on worker k, job(0) on the calling thread — and returns when all
    /// are done. An exception in any part is rethrown after all have finished, wrapped in an <see cref="AggregateException"/>.
    /// </summary>
    public void Run(Action<int> job, int parties)
    {
        ArgumentNullException.ThrowIfNull(job);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (parties < 1 || parties > Count) throw new ArgumentOutOfRangeException(nameof(parties), parties, $"not 1..{Count}");
        _job = job;
        _failure = null;
        Fork(parties - 1);
        RunGuarded(job, 0);
        Join();
        _job = null;
        var failure = _failure;
        _failure = null;
        if (failure is not null) throw new AggregateException("a worker thread failed: " + failure.Message, failure);
    }

    private void RunGuarded(Action<int> job, int index)
    {
        try { job(index); }
        catch (Exception e) { Interlocked.CompareExchange(ref _failure, e, null); }
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

    private void WorkerLoop(int index)
    {
        var wake = _wake[index - 1];
        while (true)
        {
            WaitForJob(wake);
            if (_disposed) return;
            RunGuarded(_job!, index);
            if (Interlocked.Decrement(ref _running) == 0) _done.Set();
        }
    }

    /// <summary>Stops the workers. Not to be called while a job runs.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var wake in _wake) wake.Set();
        foreach (var worker in _workers) worker.Join();
        foreach (var wake in _wake) wake.Dispose();
        _done.Dispose();
    }
}
