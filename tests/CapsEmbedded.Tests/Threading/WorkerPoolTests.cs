using CapsEmbedded.TestSupport;
using CapsEmbedded.Threading;

namespace CapsEmbedded.Tests.Threading;

/// <summary>
/// The pool's fork/join: every part runs exactly once whoever claims it, a worker that has not woken costs the caller
/// nothing (it runs every part itself), a worker that wakes late runs no part of a finished job, failures come back,
/// and a warm call allocates nothing on any thread.
/// </summary>
public sealed class WorkerPoolTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(2, 4)]
    [InlineData(3, 7)]
    [InlineData(3, 64)]
    public void Every_part_runs_exactly_once_in_every_job(int threads, int parts)
    {
        using var pool = new WorkerPool(threads);
        var runs = new int[parts];
        for (int job = 1; job <= 300; job++)
        {
            pool.Run(part => Interlocked.Increment(ref runs[part]), parts);
            // Run returns only when every part has finished: the counts are exact after each job, not eventually.
            Assert.All(runs, count => Assert.Equal(job, count));
        }
    }

    [Fact]
    public void Run_returns_only_after_parts_running_on_workers_have_finished()
    {
        // Parts that take a while (1 ms each), so workers claim some and are still inside them when the caller runs out
        // of parts: a join that returned before the claimed parts finished would leave counts short here.
        const int Parts = 4;
        using var pool = new WorkerPool(2);
        int caller = Environment.CurrentManagedThreadId, onWorkers = 0;
        var runs = new int[Parts];
        for (int job = 1; job <= 100; job++)
        {
            pool.Run(part =>
            {
                Thread.Sleep(1);
                if (Environment.CurrentManagedThreadId != caller) Interlocked.Increment(ref onWorkers);
                Interlocked.Increment(ref runs[part]);
            }, Parts);
            Assert.All(runs, count => Assert.Equal(job, count));
        }
        Assert.True(onWorkers > 0, "no part ran on a worker, so the join was never tested");
    }

    [Fact]
    public void Run_without_a_part_count_runs_one_part_per_thread()
    {
        using var pool = new WorkerPool(3);
        var seen = new int[3];
        pool.Run(t => Interlocked.Increment(ref seen[t]));
        pool.Run(t => Interlocked.Increment(ref seen[t]));
        Assert.Equal(new[] { 2, 2, 2 }, seen);
    }

    [Fact]
    public void A_worker_that_never_wakes_leaves_the_caller_to_run_every_part_alone()
    {
        using var pool = new WorkerPool(2, WorkerPool.DefaultSpinMicroseconds, "test", startWorkers: false);
        int caller = Environment.CurrentManagedThreadId;
        var threadOf = new int[8];
        for (int job = 0; job < 20; job++)
        {
            Array.Clear(threadOf);
            pool.Run(part => threadOf[part] = Environment.CurrentManagedThreadId, threadOf.Length);
            Assert.All(threadOf, thread => Assert.Equal(caller, thread));
        }
    }

    [Fact]
    public void A_worker_that_wakes_after_many_jobs_runs_no_part_of_them_and_then_helps()
    {
        using var pool = new WorkerPool(2, WorkerPool.DefaultSpinMicroseconds, "test", startWorkers: false);
        var runs = new int[6];
        for (int job = 0; job < 50; job++) pool.Run(part => Interlocked.Increment(ref runs[part]), runs.Length);
        int caller = Environment.CurrentManagedThreadId;
        int helped = 0;
        // Part 0 wakes the worker (it starts now, 50 generations late) and holds the caller until another thread has
        // taken a part: the late worker joins the job in flight, and no part of the 50 finished jobs runs again.
        pool.Run(part =>
        {
            Interlocked.Increment(ref runs[part]);
            if (Environment.CurrentManagedThreadId != caller) Interlocked.Exchange(ref helped, 1);
            if (part != 0) return;
            pool.StartWorkers();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (Volatile.Read(ref helped) == 0 && DateTime.UtcNow < deadline) Thread.Sleep(1);
        }, runs.Length);
        Assert.Equal(1, helped);
        Assert.All(runs, count => Assert.Equal(51, count));
        for (int job = 0; job < 200; job++) pool.Run(part => Interlocked.Increment(ref runs[part]), runs.Length);
        Assert.All(runs, count => Assert.Equal(251, count));
    }

    [Theory]
    [InlineData(2, 1, 3)]
    [InlineData(2, 2, 3)]
    [InlineData(2, 4, 3)]
    [InlineData(3, 5, 4)]
    public void A_phased_job_runs_every_part_once_and_no_phase_before_the_last_one_finished(int threads, int parts, int phases)
    {
        // Each part checks, when it starts, that every part of the phase before has finished, and that no part of its own
        // phase's successor has started: the barrier, checked from both sides.
        using var pool = new WorkerPool(threads);
        var runs = new int[parts * phases];
        var finished = new int[phases];
        var started = new int[phases];
        int violations = 0;
        for (int job = 1; job <= 300; job++)
        {
            Array.Clear(finished);
            Array.Clear(started);
            pool.Run(index =>
            {
                int phase = index / parts;
                Interlocked.Increment(ref started[phase]);
                if (phase > 0 && Volatile.Read(ref finished[phase - 1]) != parts) Interlocked.Increment(ref violations);
                if (phase + 1 < phases && Volatile.Read(ref started[phase + 1]) != 0) Interlocked.Increment(ref violations);
                Interlocked.Increment(ref runs[index]);
                Interlocked.Increment(ref finished[phase]);
            }, parts, phases);
            Assert.All(runs, count => Assert.Equal(job, count));
        }
        Assert.Equal(0, violations);
    }

    [Fact]
    public void A_thread_ahead_waits_at_the_barrier_for_a_part_of_the_phase_before()
    {
        // Two parts per phase, two phases. Part 0 holds the caller until the worker has run part 1, then stays 50 ms
        // more: the worker, done with phase 0, claims part 2 (phase 1) at once and must wait at the barrier for part 0.
        // A barrier that did not wait would run part 2 while part 0 is still sleeping.
        using var pool = new WorkerPool(2);
        int caller = Environment.CurrentManagedThreadId;
        for (int job = 0; job < 5; job++)
        {
            int part1Done = 0, part0Done = 0, part2SawPart0 = -1, phase1OnWorker = 0;
            pool.Run(index =>
            {
                switch (index)
                {
                    case 0:
                        var deadline = DateTime.UtcNow.AddSeconds(30);
                        while (Volatile.Read(ref part1Done) == 0 && DateTime.UtcNow < deadline) Thread.Sleep(1);
                        Thread.Sleep(50);
                        Volatile.Write(ref part0Done, 1);
                        break;
                    case 1:
                        Volatile.Write(ref part1Done, 1);
                        break;
                    default:
                        if (index == 2) Volatile.Write(ref part2SawPart0, Volatile.Read(ref part0Done));
                        if (Environment.CurrentManagedThreadId != caller) Interlocked.Exchange(ref phase1OnWorker, 1);
                        break;
                }
            }, parts: 2, phases: 2);
            Assert.Equal(1, part1Done); // the worker ran part 1: the caller was held in part 0, so two threads were in phase 0
            Assert.Equal(1, phase1OnWorker);
            Assert.Equal(1, part2SawPart0);
        }
    }

    [Fact]
    public void A_phased_job_with_a_worker_that_never_wakes_runs_on_the_caller_in_order()
    {
        using var pool = new WorkerPool(2, WorkerPool.DefaultSpinMicroseconds, "test", startWorkers: false);
        var order = new List<int>();
        pool.Run(order.Add, parts: 3, phases: 4);
        Assert.Equal(Enumerable.Range(0, 12), order);
    }

    [Fact]
    public void A_failing_part_is_rethrown_after_every_other_part_ran_and_the_pool_still_works()
    {
        using var pool = new WorkerPool(3);
        var runs = new int[9];
        var e = Assert.Throws<AggregateException>(() => pool.Run(part =>
        {
            Interlocked.Increment(ref runs[part]);
            if (part == 4) throw new InvalidOperationException("part 4 failed");
        }, runs.Length));
        Assert.Contains("part 4 failed", e.Message);
        Assert.IsType<InvalidOperationException>(e.InnerException);
        Assert.All(runs, count => Assert.Equal(1, count));
        pool.Run(part => Interlocked.Increment(ref runs[part]), runs.Length);
        Assert.All(runs, count => Assert.Equal(2, count));
    }

    [Fact]
    public void Arguments_and_disposal_are_checked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(0));
        var pool = new WorkerPool(2);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Run(_ => { }, 0));
        Assert.Throws<ArgumentNullException>(() => pool.Run(null!, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Run(_ => { }, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Run(_ => { }, 1 << 16, 1 << 16));
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Run(_ => { }, 1));
        using var unstarted = new WorkerPool(3, 0, "test", startWorkers: false); // disposes without threads to join
    }

    [Fact]
    public void A_warm_call_allocates_nothing_on_the_caller()
    {
        using var pool = new WorkerPool(2);
        var sums = new long[4];
        Action<int> job = part => sums[part] += part;
        Assert.Equal(0, Allocations.OnThisThread(20, 200, _ => pool.Run(job, sums.Length)));
    }

    [Fact]
    public void A_warm_call_allocates_nothing_on_the_workers()
    {
        // Each part notes its thread's allocation counter; between the first and the last warm job a thread that ran
        // parts (the worker's wait, claim and wake-up loop included) must not have allocated.
        const int Jobs = 400, Parts = 4;
        using var pool = new WorkerPool(3, spinMicroseconds: 20);
        var thread = new int[Jobs * Parts];
        var allocated = new long[Jobs * Parts];
        int job = 0;
        Action<int> note = part =>
        {
            int slot = Volatile.Read(ref job) * Parts + part;
            thread[slot] = Environment.CurrentManagedThreadId;
            allocated[slot] = GC.GetAllocatedBytesForCurrentThread();
        };
        for (int k = 0; k < 50; k++) pool.Run(note, Parts); // warm-up: slots of job 0 rewritten each time
        for (job = 0; job < Jobs; job++) pool.Run(note, Parts);
        var byThread = thread.Zip(allocated).GroupBy(p => p.First);
        Assert.All(byThread, g => Assert.Equal(0, g.Max(p => p.Second) - g.Min(p => p.Second)));
    }
}
