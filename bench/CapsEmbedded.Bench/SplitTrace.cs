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
        for (int p = 0; p < trace.Parts; p++)
        {
            var (job, part, thread, claimed, started, ended) = trace.Part(p);
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

/// <summary>
/// `stem-parts [REPEATS]`: MnistEfficientCapsNet's Winograd stems (stem.1, stem.2) cut into output-panel parts and run one
/// after another on one thread, as the split Predict's parts would be: whole, 4 parts of one panel, 2 parts of two
/// panels. Per digit the minimum over the repeats (robust to preemption on a loaded machine), summed over 200 digits.
/// Shows the work a cut adds (a part of one panel runs PackedGemm without its zero-column skip).
/// </summary>
public static class StemParts
{
    public static void Run(TextWriter output, int repeats)
    {
        using var packed = CapsEmbedded.Runtime.PackedEfficientCapsNetWeights.Pack(
            CapsEmbedded.Weights.EfficientCapsNetWeightsFile.Load(Peers.PeerBenchmark.FindRepositoryFile("weights", "mnist-efficient.safetensors")));
        var tier = CapsEmbedded.Kernels.SimdTiers.Best;
        var digits = Peers.PeerBenchmark.Digits(200);
        var scratch = new float[MnistEfficientCapsNet.ScratchLength];
        (int Begin, int End)[][] cuts = [[(0, 4)], [(0, 1), (1, 2), (2, 3), (3, 4)], [(0, 2), (2, 4)]];
        string[] names = ["whole (1 part, 4 panels)", "4 parts of 1 panel", "2 parts of 2 panels"];
        var sums = new double[3, cuts.Length];
        (int Begin, int End)[][] stem0Cuts = [[(0, 2)], [(0, 1), (1, 2)], [(0, 2)]];
        for (int d = 0; d < 200; d++)
        {
            Stems(packed, scratch, digits.AsSpan(d * 784, 784), tier, stem: 0, 0, 4);
            for (int stem = 1; stem <= 3; stem++)
            {
                for (int c = 0; c < cuts.Length; c++)
                {
                    long best = long.MaxValue;
                    for (int r = 0; r < repeats; r++)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        foreach (var (begin, end) in stem == 3 ? stem0Cuts[c] : cuts[c]) Stems(packed, scratch, default, tier, stem, begin, end);
                        best = Math.Min(best, Stopwatch.GetTimestamp() - t0);
                    }
                    sums[stem - 1, c] += best * 1e3 / Stopwatch.Frequency;
                }
            }
        }
        output.WriteLine($"MnistEfficientCapsNet Winograd stems cut into panel parts, one thread, {tier}: min of {repeats} per digit, mean ms per image over 200 digits");
        output.WriteLine("| cut | stem.1 | stem.2 | stem.0 GEMM + stem.1 input transform (2 panels: whole, 2 parts of 1) |");
        output.WriteLine("|---|---:|---:|---:|");
        for (int c = 0; c < cuts.Length; c++)
            output.WriteLine(FormattableString.Invariant($"| {names[c]} | {sums[0, c] / 200:F4} | {sums[1, c] / 200:F4} | {sums[2, c] / 200:F4} |"));
    }

    /// <summary>stem.0 whole (with stem.1's input transform) when <paramref name="stem"/> is 0; else stem.1 or stem.2's panels [begin, end) as the generated parts run them.</summary>
    private static void Stems(CapsEmbedded.Runtime.PackedEfficientCapsNetWeights w, Span<float> s, ReadOnlySpan<float> image, CapsEmbedded.Kernels.SimdTier tier,
        int stem, int begin, int end)
    {
        const int C0 = MnistEfficientCapsNet.Stem0Channels, C1 = MnistEfficientCapsNet.Stem1Channels, C2 = MnistEfficientCapsNet.Stem2Channels;
        const int S0 = MnistEfficientCapsNet.Stem0OutputSize, S1 = MnistEfficientCapsNet.Stem1OutputSize, S2 = MnistEfficientCapsNet.Stem2OutputSize;
        var transformed1 = s.Slice(MnistEfficientCapsNet.ScratchWinograd1TransformedOffset, 16 * MnistEfficientCapsNet.Stem1Tiles * C0);
        var transformed2 = s.Slice(MnistEfficientCapsNet.ScratchWinograd2TransformedOffset, 16 * MnistEfficientCapsNet.Stem2Tiles * C1);
        var products = s.Slice(MnistEfficientCapsNet.ScratchWinogradProductsOffset, 16 * MnistEfficientCapsNet.Stem1Tiles * C1);
        var stem0 = s.Slice(MnistEfficientCapsNet.ScratchStem0Offset, S0 * S0 * C0);
        var stem1 = s.Slice(MnistEfficientCapsNet.ScratchStem1Offset, S1 * S1 * C1);
        var stem2 = s.Slice(MnistEfficientCapsNet.ScratchStem2Offset, S2 * S2 * C2);
        if (stem == 0)
        {
            var patches = s.Slice(MnistEfficientCapsNet.ScratchPatchesOffset, MnistEfficientCapsNet.Stem0Pixels * MnistEfficientCapsNet.Stem0PatchLength);
            CapsEmbedded.Kernels.Im2Col.Run(image, 1, 28, 28, MnistEfficientCapsNet.Stem0Kernel, MnistEfficientCapsNet.Stem0Stride, patches);
            CapsEmbedded.Kernels.PackedGemm.Multiply(patches, MnistEfficientCapsNet.Stem0Pixels, MnistEfficientCapsNet.Stem0PatchLength, w.StemWeight(0), C0,
                w.StemBias(0), CapsEmbedded.Kernels.Activation.Relu, stem0, tier);
            CapsEmbedded.Kernels.WinogradConvolution.TransformInput(stem0, C0, S0, S0, transformed1, tier, 0, C0);
            CapsEmbedded.Kernels.WinogradConvolution.MultiplyOutput(transformed1, C0, S1, S1, w.StemWeight(1), C1, w.StemBias(1),
                CapsEmbedded.Kernels.Activation.Relu, products, stem1, tier, 0, 4);
            CapsEmbedded.Kernels.WinogradConvolution.TransformInput(stem1, C1, S1, S1, transformed2, tier, 0, C1);
        }
        else if (stem == 3)
        {
            var patches = s.Slice(MnistEfficientCapsNet.ScratchPatchesOffset, MnistEfficientCapsNet.Stem0Pixels * MnistEfficientCapsNet.Stem0PatchLength);
            CapsEmbedded.Kernels.PackedGemm.MultiplyPanels(patches, MnistEfficientCapsNet.Stem0Pixels, MnistEfficientCapsNet.Stem0PatchLength, w.StemWeight(0), C0,
                w.StemBias(0), CapsEmbedded.Kernels.Activation.Relu, stem0, tier, begin, end);
            CapsEmbedded.Kernels.WinogradConvolution.TransformInput(stem0, C0, S0, S0, transformed1, tier, begin * 16, end * 16);
        }
        else if (stem == 1)
        {
            CapsEmbedded.Kernels.WinogradConvolution.MultiplyOutput(transformed1, C0, S1, S1, w.StemWeight(1), C1, w.StemBias(1),
                CapsEmbedded.Kernels.Activation.Relu, products, stem1, tier, begin, end);
        }
        else
        {
            CapsEmbedded.Kernels.WinogradConvolution.MultiplyOutput(transformed2, C1, S2, S2, w.StemWeight(2), C2, w.StemBias(2),
                CapsEmbedded.Kernels.Activation.Relu, products, stem2, tier, begin, end);
        }
    }
}
