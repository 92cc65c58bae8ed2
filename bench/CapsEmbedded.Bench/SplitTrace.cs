using System.Diagnostics;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;
using CapsEmbedded.Threading;

namespace CapsEmbedded.Bench;

/// <summary>
/// `split-trace [ROUNDS] [paper|efficient|both]`: where the time of one image split over 2 threads goes. Per network,
/// rounds alternate the one-thread Predict and the split Predict (wall per call, process CPU per image), then one traced
/// pass of the split (<see cref="PartTrace"/>: which thread ran each part, when it was claimed, started and ended) over
/// the fixture's 200 digits. From the trace, per image: the time outside the fork/joins (the caller alone), fork/joins,
/// the worker's wake-up (publish to its first claim), the parts' work on each thread, the waits at barriers, the caller's
/// wait at the join, and the sum of all parts' work (against the one-thread wall: the work the split adds).
/// </summary>
public static class SplitTrace
{
    private const int Images = 200;

    public static void Run(TextWriter output, int rounds, string network)
    {
        var digits = Peers.PeerBenchmark.Digits(Images);
        if (network is "paper" or "both") Run(output, CompiledModel.Mnist, "MnistCapsNet", digits, rounds);
        if (network is "efficient" or "both") Run(output, CompiledModel.MnistEfficient, "MnistEfficientCapsNet", digits, rounds);
    }

    private static void Run(TextWriter output, CompiledModel model, string name, float[] digits, int rounds)
    {
        using var session = model.Open(weightsPath: null);
        using var context = session.CreateBatchContext(2);
        int inputLength = session.Shape.InputLength;
        var lengths = new float[session.Shape.Classes];
        void One(int k) => session.Predict(digits.AsSpan(k % Images * inputLength, inputLength), lengths);
        void Split(int k) => session.Predict(context, digits.AsSpan(k % Images * inputLength, inputLength), lengths);

        // Warm-up by time: the JIT's tier-1 code settles after a few hundred calls.
        var warm = Stopwatch.StartNew();
        for (int k = 0; warm.Elapsed < TimeSpan.FromSeconds(3); k++)
        {
            One(k);
            Split(k);
        }

        var oneWall = new List<double>();
        var splitWall = new List<double>();
        double oneCpu = 0, splitCpu = 0;
        for (int round = 0; round < rounds; round++)
        {
            oneCpu += Time(One, oneWall);
            splitCpu += Time(Split, splitWall);
        }

        // The traced pass.
        var trace = new PartTrace(jobs: 4 * Images, parts: 64 * Images);
        var imageStart = new long[Images];
        var imageEnd = new long[Images];
        var jobOfImage = new int[Images + 1];
        context.Trace = trace;
        for (int k = 0; k < Images; k++)
        {
            jobOfImage[k] = trace.Jobs;
            imageStart[k] = Stopwatch.GetTimestamp();
            Split(k);
            imageEnd[k] = Stopwatch.GetTimestamp();
        }
        jobOfImage[Images] = trace.Jobs;
        context.Trace = null;

        double Ms(long ticks) => ticks * 1e3 / Stopwatch.Frequency;
        int jobs = trace.Jobs;
        var phasesOfJob = new int[jobs];
        for (int j = 0; j < jobs; j++) phasesOfJob[j] = trace.Job(j).Phases;
        // Per job: each thread's work, barrier waits, last end; the worker's first claim.
        var work = new double[jobs, 2];
        var barrier = new double[jobs, 2];
        var lastEnd = new long[jobs, 2];
        var firstClaim = new long[jobs];
        var partsOn = new int[jobs, 2];
        int maxPhases = phasesOfJob.Length == 0 ? 1 : phasesOfJob.Max();
        var phaseWork = new double[maxPhases];
        // A part's band is the same part of the phase before: on the same thread, it reads what that thread wrote.
        var threadOfPart = new Dictionary<(int Job, int Part), int>();
        for (int p = 0; p < trace.Parts; p++) threadOfPart[(trace.Part(p).Job, trace.Part(p).Part)] = trace.Part(p).Thread;
        int laterParts = 0, sameThread = 0;
        for (int p = 0; p < trace.Parts; p++)
        {
            var (job, part, thread, claimed, started, ended) = trace.Part(p);
            int phaseParts = trace.Job(job).PhaseParts;
            if (part >= phaseParts && threadOfPart.TryGetValue((job, part - phaseParts), out int before))
            {
                laterParts++;
                if (before == thread) sameThread++;
            }
            int t = Math.Min(thread, 1);
            work[job, t] += Ms(ended - started);
            barrier[job, t] += Ms(started - claimed);
            lastEnd[job, t] = Math.Max(lastEnd[job, t], ended);
            partsOn[job, t]++;
            if (t == 1 && (firstClaim[job] == 0 || claimed < firstClaim[job])) firstClaim[job] = claimed;
            phaseWork[Math.Min(maxPhases - 1, part / trace.Job(job).PhaseParts)] += Ms(ended - started);
        }

        // Per image sums.
        var outside = new List<double>();
        var wakes = new List<double>();
        double callerWork = 0, workerWork = 0, callerBarrier = 0, workerBarrier = 0, callerJoin = 0, forkJoin = 0;
        int jobsWithoutWorker = 0, callerParts = 0, workerParts = 0;
        for (int k = 0; k < Images; k++)
        {
            double inside = 0;
            for (int j = jobOfImage[k]; j < jobOfImage[k + 1]; j++)
            {
                var (published, joined, _, _) = trace.Job(j);
                inside += Ms(joined - published);
                callerWork += work[j, 0];
                workerWork += work[j, 1];
                callerBarrier += barrier[j, 0];
                workerBarrier += barrier[j, 1];
                callerParts += partsOn[j, 0];
                workerParts += partsOn[j, 1];
                if (lastEnd[j, 0] > 0) callerJoin += Ms(joined - lastEnd[j, 0]);
                if (firstClaim[j] == 0) jobsWithoutWorker++;
                else wakes.Add(Ms(firstClaim[j] - published));
            }

            forkJoin += inside;
            outside.Add(Ms(imageEnd[k] - imageStart[k]) - inside);
        }

        oneWall.Sort();
        splitWall.Sort();
        wakes.Sort();
        outside.Sort();
        int calls = oneWall.Count;
        double P(List<double> v, double q) => v.Count == 0 ? double.NaN : v[Math.Min(v.Count - 1, (int)(q * v.Count))];
        string F(double v) => v.ToString("F4", System.Globalization.CultureInfo.InvariantCulture);
        output.WriteLine($"## {name}, batch 1: one thread against one image split over 2 threads ({rounds} rounds x {Images} digits each, alternated; {session.Tier})");
        output.WriteLine($"one thread: wall p50 {F(P(oneWall, 0.5))} ms, p99 {F(P(oneWall, 0.99))} ms, CPU {F(oneCpu / calls)} ms/image");
        output.WriteLine($"split:      wall p50 {F(P(splitWall, 0.5))} ms, p99 {F(P(splitWall, 0.99))} ms, CPU {F(splitCpu / calls)} ms/image (p99/p50 {F(P(splitWall, 0.99) / P(splitWall, 0.5))})");
        output.WriteLine($"traced split, per image (means over {Images}; {jobs / (double)Images:F1} fork/joins per image, {trace.DroppedParts} parts dropped):");
        output.WriteLine($"| caller alone, outside the fork/joins (p50) | {F(P(outside, 0.5))} ms |");
        output.WriteLine($"| inside the fork/joins | {F(forkJoin / Images)} ms |");
        output.WriteLine($"| worker's wake-up, publish to first claim (p50 / p90) | {F(P(wakes, 0.5))} / {F(P(wakes, 0.9))} ms; {jobsWithoutWorker} of {jobs} fork/joins without the worker |");
        output.WriteLine($"| parts run, caller / worker | {callerParts / (double)Images:F2} / {workerParts / (double)Images:F2} |");
        output.WriteLine($"| work in parts, caller / worker | {F(callerWork / Images)} / {F(workerWork / Images)} ms |");
        output.WriteLine($"| waits at barriers, caller / worker | {F(callerBarrier / Images)} / {F(workerBarrier / Images)} ms |");
        output.WriteLine($"| caller's wait at the join (its last part's end to the join's return) | {F(callerJoin / Images)} ms |");
        output.WriteLine($"| all parts' work + caller alone (p50) / one-thread wall p50 | {F((callerWork + workerWork) / Images + P(outside, 0.5))} / {F(P(oneWall, 0.5))} ms |");
        if (laterParts > 0)
            output.WriteLine($"| parts after the first phase on the thread that ran the same part of the phase before | {sameThread} of {laterParts} |");
        output.Write("| parts' work by phase (all threads) |");
        for (int p = 0; p < maxPhases; p++) output.Write($" {F(phaseWork[p] / Images)}");
        output.WriteLine(" ms |");
        if (jobOfImage[1] - jobOfImage[0] > 1)
        {
            output.Write("| work by fork/join within the image (all threads) |");
            int perImage = jobOfImage[1] - jobOfImage[0];
            var byJob = new double[perImage];
            for (int k = 0; k < Images; k++)
                for (int j = jobOfImage[k]; j < jobOfImage[k + 1]; j++) byJob[Math.Min(perImage - 1, j - jobOfImage[k])] += work[j, 0] + work[j, 1];
            foreach (double v in byJob) output.Write($" {F(v / Images)}");
            output.WriteLine(" ms |");
        }
        output.WriteLine();
    }

    /// <summary>Calls <paramref name="call"/> on the 200 digits; adds each call's wall ms to <paramref name="walls"/>; returns the process CPU ms.</summary>
    private static double Time(Action<int> call, List<double> walls)
    {
        var cpu0 = Environment.CpuUsage.TotalTime;
        for (int k = 0; k < Images; k++)
        {
            long t0 = Stopwatch.GetTimestamp();
            call(k);
            walls.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        return (Environment.CpuUsage.TotalTime - cpu0).TotalMilliseconds;
    }
}
