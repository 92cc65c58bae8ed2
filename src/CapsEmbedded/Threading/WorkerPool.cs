using System.Diagnostics;

namespace CapsEmbedded.Threading;

/// <summary>
/// The one worker pool of the project: a fixed set of threads, created once, that run one job together (a fork/join of
/// parts claimed, not assigned). <see cref="Run(Action{int}, int)"/> publishes job(0..parts−1) and the calling thread
/// starts on it at once: every thread, the caller's included, takes the next unclaimed part with one interlocked
/// compare-exchange until none is left, so a worker that has not woken yet (a loaded machine) costs the caller nothing —
/// the caller runs its parts itself and returns; the worker, when it wakes, finds the job taken. The join waits only
/// for parts a worker has actually started. Workers that finish a job spin for a short while
/// (<see cref="SpinMicroseconds"/>) before they block, so that a job that follows at once (the next layer of the same
/// image) finds them awake; the caller spins the same way at the join. <see cref="Run(Action{int}, int, int)"/> runs
/// several such jobs in a row (phases, the layers of one image) under one fork/join, with a barrier between them. A call
/// allocates nothing. Used by <c>BatchContext</c> (inference) and the trainer. One call at a time; a job must not call Run.
/// </summary>
/// <remarks>
/// A job is a generation: the caller writes the job, the part count and the claim word (generation in the high 32 bits,
/// next part in the low 32), then the generation; a thread claims part i of generation g only by moving the claim word
/// from (g, i) to (g, i + 1). When all parts have finished the caller closes the word ((g, int.MaxValue), an interlocked
/// exchange) before it touches the fields again, so a late worker that read g's job either claims while the fields are
/// still g's or fails its compare-exchange; it never runs a part of another job. A phased job numbers its parts phase by
/// phase (part i is in phase i / parts per phase); a thread claims them in that order and, before it runs a part of phase
/// p, waits until every part of phases &lt; p has finished. Every part with a lower number is claimed by then, so the lowest
/// unfinished part can always run: the barrier waits only for threads that are working, never for one that has not woken.
/// </remarks>
public sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _workers;
    private readonly ManualResetEventSlim[] _wake;
    private readonly ManualResetEventSlim _done = new(false);
    private readonly long _spinTicks;

    // The job in flight: written by the caller before the claim word and the generation that publish it.
    private Action<int>? _job;
    private int _parts;       // all parts of the job, every phase's
    private int _phaseParts;  // parts per phase (= _parts for a job of one phase)
    private long _claims;     // (generation << 32) | next unclaimed part
    private int _finished;    // parts of this generation run to their end (or their exception)
    private int _generation;  // the job's number; workers wait for it to change
    private Exception? _failure;
    private volatile bool _disposed;
    // Tracing (a benchmark's): the trace and this job's record number, published with the job.
    private PartTrace? _jobTrace;
    private int _traceJob;

    /// <summary>
    /// Default spin before a waiting thread blocks: covers the gap between an image's layers and between the images of
    /// a caller that predicts one after another (the paper network's caller runs routing alone between two fork/joins).
    /// A worker that blocked wakes through the kernel, on a core that may have run something else meanwhile, which shows
    /// in the split image's p99 (bench/RESULTS.md, "The split image by bands of the map"). The price: an idle context's
    /// workers burn up to 1 ms of CPU after each call (pass a smaller spin to the constructor to trade it).
    /// </summary>
    public const int DefaultSpinMicroseconds = 1000;

    /// <param name="threads">Threads including the caller's (at least 1).</param>
    /// <param name="spinMicroseconds">How long a waiting thread spins before it blocks (0 = block at once).</param>
    /// <param name="name">Thread names: "<paramref name="name"/> k".</param>
    public WorkerPool(int threads, int spinMicroseconds = DefaultSpinMicroseconds, string name = "capsnet worker")
        : this(threads, spinMicroseconds, name, startWorkers: true)
    {
    }

    /// <summary>As the public constructor; tests pass <paramref name="startWorkers"/> = false to play workers that have not woken yet.</summary>
    internal WorkerPool(int threads, int spinMicroseconds, string name, bool startWorkers)
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
            int index = k;
            _workers[k] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"{name} {index + 1}" };
        }

        if (startWorkers) StartWorkers();
    }

    /// <summary>Starts the worker threads not started yet (the constructor does, unless a test asked it not to).</summary>
    internal void StartWorkers()
    {
        foreach (var worker in _workers)
            if (worker.ThreadState.HasFlag(System.Threading.ThreadState.Unstarted)) worker.Start();
    }

    /// <summary>Threads that run a job, the caller's included.</summary>
    public int Count { get; }

    /// <summary>How long a waiting thread spins before it blocks.</summary>
    public int SpinMicroseconds { get; }

    /// <summary>Where to record each job's parts (thread, claim, start, end), or null (the default) to record nothing. Set between jobs.</summary>
    public PartTrace? Trace { get; set; }

    /// <summary>Runs job(0..Count−1), one part per thread when every worker is awake, and returns when all are done.</summary>
    public void Run(Action<int> job) => Run(job, Count);

    /// <summary>
    /// Runs job(0..<paramref name="parts"/>−1), each part exactly once, and returns when all are done. Which thread runs
    /// a part is not fixed: the caller and the awake workers claim parts in index order, so the caller may run them all
    /// (parts must not depend on the thread that runs them, nor wait for one another). An exception in any part is
    /// rethrown after all parts have finished, wrapped in an <see cref="AggregateException"/>.
    /// </summary>
    public void Run(Action<int> job, int parts) => Run(job, parts, phases: 1);

    /// <summary>
    /// Runs job(0..<paramref name="phases"/>·<paramref name="parts"/>−1), each part exactly once, in phases of
    /// <paramref name="parts"/> parts: part i belongs to phase i / <paramref name="parts"/>, and no part of a phase starts
    /// before every part of the phase before has finished (a barrier, where the threads spin: the parts they wait for are
    /// running). One fork/join for the whole job: the layers of one image, each split over the threads, without waking
    /// the workers once per layer. Otherwise as <see cref="Run(Action{int}, int)"/>: the caller may run every part alone,
    /// and an exception is rethrown at the end (the later phases still run).
    /// </summary>
    public void Run(Action<int> job, int parts, int phases)
    {
        ArgumentNullException.ThrowIfNull(job);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parts);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(phases);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((long)parts * phases, int.MaxValue - 1, nameof(phases));
        int phaseParts = parts;
        parts *= phases;
        _job = job;
        _parts = parts;
        _phaseParts = phaseParts;
        _finished = 0;
        _failure = null;
        var trace = _jobTrace = Trace;
        _traceJob = trace?.BeginJob(phaseParts, phases) ?? -1;
        int generation = _generation + 1;
        Volatile.Write(ref _claims, (long)generation << 32);
        Volatile.Write(ref _generation, generation);
        // Set is one compare-exchange when the worker is spinning; a blocked worker gets a kernel wake-up.
        for (int k = 0, helpers = Math.Min(parts - 1, _wake.Length); k < helpers; k++) _wake[k].Set();
        RunParts(generation, job, parts, phaseParts, thread: 0);
        Join(parts);
        trace?.EndJob(_traceJob);
        // Closed before the fields change: a worker still holding this generation's claim word fails its
        // compare-exchange, so it never runs a part with the next job's fields (the exchange is a full fence).
        Interlocked.Exchange(ref _claims, ((long)generation << 32) | int.MaxValue);
        _job = null;
        var failure = _failure;
        _failure = null;
        if (failure is not null) throw new AggregateException("a worker thread failed: " + failure.Message, failure);
    }

    /// <summary>
    /// Claims and runs parts of <paramref name="generation"/> until none is left (or the job has moved on); a worker that
    /// finishes the job's last part wakes the caller. <paramref name="thread"/>: 0 for the caller, k for worker k.
    /// </summary>
    private void RunParts(int generation, Action<int> job, int parts, int phaseParts, int thread)
    {
        // Read with the job's other fields: a claim of this generation succeeds only while they are still its own.
        var trace = _jobTrace;
        int traceJob = _traceJob;
        while (true)
        {
            long claims = Volatile.Read(ref _claims);
            int part = (int)claims;
            if ((int)(claims >> 32) != generation || part >= parts) return;
            if (Interlocked.CompareExchange(ref _claims, claims + 1, claims) != claims) continue;
            long claimed = trace is null ? 0 : Stopwatch.GetTimestamp();
            // The barrier: the earlier phases' parts are all claimed (claims go in order), so they are running or done.
            int earlier = part - part % phaseParts;
            if (earlier > 0) WaitForFinished(earlier);
            long started = trace is null ? 0 : Stopwatch.GetTimestamp();
            try { job(part); }
            catch (Exception e) { Interlocked.CompareExchange(ref _failure, e, null); }
            trace?.AddPart(traceJob, part, thread, claimed, started, Stopwatch.GetTimestamp());
            if (Interlocked.Increment(ref _finished) == parts && thread > 0) _done.Set();
        }
    }

    /// <summary>Spins until <paramref name="count"/> parts of the job in flight have finished: they are running on awake threads.</summary>
    private void WaitForFinished(int count)
    {
        var spinner = new SpinWait();
        while (Volatile.Read(ref _finished) < count) spinner.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>Waits until every claimed part has finished: spins for a while (a started part ends soon), then blocks.</summary>
    /// <remarks>
    /// A worker's Set can arrive late (it was preempted between its increment and its Set) and wake a later job's Join:
    /// hence the loop, which resets the event before it checks the count and blocks only while parts are unfinished.
    /// </remarks>
    private void Join(int parts)
    {
        if (Volatile.Read(ref _finished) == parts) return;
        long deadline = Stopwatch.GetTimestamp() + _spinTicks;
        var spinner = new SpinWait();
        while (Volatile.Read(ref _finished) != parts && Stopwatch.GetTimestamp() < deadline) spinner.SpinOnce(sleep1Threshold: -1);
        while (Volatile.Read(ref _finished) != parts)
        {
            _done.Reset();
            if (Volatile.Read(ref _finished) == parts) break;
            _done.Wait();
        }
    }

    /// <summary>
    /// A worker's wait for a generation after <paramref name="seen"/>: spins on the generation for a while, then blocks on
    /// its event (reset first, the generation checked again, so a Set between the two is not lost).
    /// </summary>
    private int WaitForJob(ManualResetEventSlim wake, int seen)
    {
        long deadline = Stopwatch.GetTimestamp() + _spinTicks;
        var spinner = new SpinWait();
        int generation;
        while ((generation = Volatile.Read(ref _generation)) == seen && Stopwatch.GetTimestamp() < deadline)
            spinner.SpinOnce(sleep1Threshold: -1);
        while (generation == seen && !_disposed)
        {
            wake.Reset();
            if ((generation = Volatile.Read(ref _generation)) != seen) break;
            wake.Wait();
            generation = Volatile.Read(ref _generation);
        }

        return generation;
    }

    private void WorkerLoop(int index)
    {
        var wake = _wake[index];
        int seen = 0;
        while (true)
        {
            seen = WaitForJob(wake, seen);
            if (_disposed) return;
            // The job and part count are this generation's unless the caller has closed its claims since (Run): then
            // every compare-exchange in RunParts fails and these reads go unused.
            var job = _job;
            int parts = _parts, phaseParts = _phaseParts;
            if (job is not null) RunParts(seen, job, parts, phaseParts, thread: index + 1);
        }
    }

    /// <summary>Stops the workers. Not to be called while a job runs.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Interlocked.Increment(ref _generation);
        foreach (var wake in _wake) wake.Set();
        foreach (var worker in _workers)
            if (!worker.ThreadState.HasFlag(System.Threading.ThreadState.Unstarted)) worker.Join();
        foreach (var wake in _wake) wake.Dispose();
        _done.Dispose();
    }
}
