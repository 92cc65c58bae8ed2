using System.Diagnostics;

namespace CapsEmbedded.Threading;

/// <summary>
/// What a <see cref="WorkerPool"/> did with its jobs, for a benchmark that wants to see the fork/join: per job, when it
/// was published and when its join returned; per part, which thread claimed it, when, when it started (after its
/// barrier) and when it ended (<see cref="Stopwatch"/> ticks). Set <see cref="WorkerPool.Trace"/> (or
/// <c>BatchContext.Trace</c>) to record; entries past the capacity are dropped, counted in <see cref="DroppedParts"/>.
/// Recording allocates nothing; it costs one interlocked increment and three timestamps per part.
/// </summary>
public sealed class PartTrace
{
    private readonly long[] _published, _joined;
    private readonly int[] _jobParts, _jobPhases;
    private readonly int[] _job, _part, _thread;
    private readonly long[] _claimed, _started, _ended;
    private int _jobs, _parts, _dropped;

    /// <param name="jobs">Jobs to record (fork/joins).</param>
    /// <param name="parts">Parts to record, all jobs together.</param>
    public PartTrace(int jobs, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(jobs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parts);
        _published = new long[jobs];
        _joined = new long[jobs];
        _jobParts = new int[jobs];
        _jobPhases = new int[jobs];
        _job = new int[parts];
        _part = new int[parts];
        _thread = new int[parts];
        _claimed = new long[parts];
        _started = new long[parts];
        _ended = new long[parts];
    }

    /// <summary>Jobs recorded.</summary>
    public int Jobs => Math.Min(Volatile.Read(ref _jobs), _published.Length);

    /// <summary>Parts recorded.</summary>
    public int Parts => Math.Min(Volatile.Read(ref _parts), _job.Length);

    /// <summary>Parts not recorded for want of room.</summary>
    public int DroppedParts => Volatile.Read(ref _dropped);

    /// <summary>Forgets everything recorded (not while a job runs).</summary>
    public void Clear()
    {
        _jobs = 0;
        _parts = 0;
        _dropped = 0;
    }

    /// <summary>Job <paramref name="index"/>: published and joined (ticks), parts per phase and phases.</summary>
    public (long Published, long Joined, int PhaseParts, int Phases) Job(int index) =>
        (_published[index], _joined[index], _jobParts[index], _jobPhases[index]);

    /// <summary>
    /// Part record <paramref name="index"/>: its job, its part number within the job, the thread that ran it (0 = the
    /// caller, k = worker k), and when it was claimed, started (after the barrier) and ended (ticks).
    /// </summary>
    public (int Job, int Part, int Thread, long Claimed, long Started, long Ended) Part(int index) =>
        (_job[index], _part[index], _thread[index], _claimed[index], _started[index], _ended[index]);

    /// <summary>Called by the pool as it publishes a job; returns the job's record number (or −1 when full).</summary>
    internal int BeginJob(int phaseParts, int phases)
    {
        int job = _jobs++;
        if (job >= _published.Length) return -1;
        _jobParts[job] = phaseParts;
        _jobPhases[job] = phases;
        _published[job] = Stopwatch.GetTimestamp();
        return job;
    }

    /// <summary>Called by the pool when the job's join returns.</summary>
    internal void EndJob(int job)
    {
        if (job >= 0) _joined[job] = Stopwatch.GetTimestamp();
    }

    /// <summary>Called by the thread that ran a part, after it ended.</summary>
    internal void AddPart(int job, int part, int thread, long claimed, long started, long ended)
    {
        if (job < 0) return;
        int index = Interlocked.Increment(ref _parts) - 1;
        if (index >= _job.Length)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }

        _job[index] = job;
        _part[index] = part;
        _thread[index] = thread;
        _claimed[index] = claimed;
        _started[index] = started;
        _ended[index] = ended;
    }
}
