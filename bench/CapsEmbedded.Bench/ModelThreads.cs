using System.Diagnostics;
using CapsEmbedded.Kernels;
using CapsEmbedded.Models;

namespace CapsEmbedded.Bench;

/// <summary>
/// `model-threads ROUNDS`: the one-thread Predict's best-of-rounds CPU time per call, then, interleaved round by round in
/// this process, wall time per call of: one-thread Predict, one image split over 2 workers (spinning the default 1 ms before
/// blocking, and blocking at once), and a batch of 64 over 2 workers. On a shared machine quote the ratios.
/// </summary>
public static class ModelThreads
{
    public static void Run(TextWriter output, int rounds)
    {
        var weights = MnistCapsNet.Weights.Embedded;
        using var workspace = new MnistCapsNet.Workspace();
        var random = new DeterministicRandom(2017);
        var image = new float[MnistCapsNet.InputLength];
        for (int i = 0; i < image.Length; i++) image[i] = random.NextDouble() < 0.2 ? (float)random.NextDouble() : 0f;
        var lengths = new float[MnistCapsNet.Classes];
        for (int i = 0; i < 200; i++) MnistCapsNet.Predict(weights, workspace, image, lengths);
        using var process = Process.GetCurrentProcess();
        double bestCpu = double.MaxValue;
        var walls = new List<double>();
        for (int round = 0; round < 15; round++)
        {
            process.Refresh();
            TimeSpan cpu0 = process.TotalProcessorTime;
            int calls = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalMilliseconds < 200)
            {
                long t0 = Stopwatch.GetTimestamp();
                MnistCapsNet.Predict(weights, workspace, image, lengths);
                walls.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                calls++;
            }
            process.Refresh();
            bestCpu = Math.Min(bestCpu, (process.TotalProcessorTime - cpu0).TotalMilliseconds / calls);
        }
        walls.Sort();
        output.WriteLine(FormattableString.Invariant($"one-thread Predict: best CPU {bestCpu:F3} ms/call, wall p50 {walls[walls.Count / 2]:F3} ms, min {walls[0]:F3} ms ({walls.Count} calls)"));
        if (rounds == 0) return;

        // Interleaved: one thread, one image split over 2 workers (default spin / 0), batch of 64 over 2 workers.
        using var spin = new CapsEmbedded.Runtime.BatchContext(MnistCapsNet.ScratchLength, 2);
        using var block = new CapsEmbedded.Runtime.BatchContext(MnistCapsNet.ScratchLength, 2, spinMicroseconds: 0);
        var images = new float[64 * MnistCapsNet.InputLength];
        for (int k = 0; k < 64; k++) image.CopyTo(images, k * MnistCapsNet.InputLength);
        var batchLengths = new float[64 * MnistCapsNet.Classes];
        var classes = new int[64];
        var samples = new List<double>[4];
        for (int v = 0; v < 4; v++) samples[v] = new List<double>();
        Action[] variants =
        {
            () => MnistCapsNet.Predict(weights, workspace, image, lengths),
            () => MnistCapsNet.Predict(weights, spin, image, lengths),
            () => MnistCapsNet.Predict(weights, block, image, lengths),
            () => MnistCapsNet.PredictBatch(weights, images, batchLengths, classes, spin),
        };
        foreach (var call in variants) for (int i = 0; i < 20; i++) call();
        for (int round = 0; round < rounds; round++)
        {
            for (int v = 0; v < 4; v++)
            {
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed.TotalMilliseconds < 150)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    variants[v]();
                    samples[v].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
            }
        }
        // The fork/join alone: RunParts with parts that do nothing, with and without the spin.
        using var tiny = CapsEmbedded.Runtime.PackedCapsNetWeights.Pack(CapsEmbedded.Weights.CapsNetWeights.CreateRandom(CapsEmbedded.CapsNetArchitecture.Tiny, 1));
        foreach (var (name, context) in new[] { ("default spin", spin), ("no spin", block) })
        {
            var forks = new List<double>();
            for (int i = 0; i < 2000; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                context.RunParts(s_nothing, tiny, default, SimdTier.Scalar);
                forks.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds * 1e3);
            }
            output.WriteLine(FormattableString.Invariant($"empty fork/join over 2, {name}: p50 {Median(forks):F1} us, p90 {Percentile(forks, 0.9):F1} us"));
        }

        string[] names = { "1 thread", "split over 2, default spin", "split over 2, no spin", "batch 64 over 2" };
        double p50One = Median(samples[0]);
        for (int v = 0; v < 4; v++)
        {
            double p50 = Median(samples[v]);
            string extra = v == 3 ? FormattableString.Invariant($", {64 / (p50 / 1e3):F0} images/s") : FormattableString.Invariant($", 1-thread p50 / this p50 = {p50One / p50:F2}");
            output.WriteLine(FormattableString.Invariant($"{names[v]}: wall p50 {p50:F3} ms, p10 {Percentile(samples[v], 0.1):F3} ms ({samples[v].Count} calls){extra}"));
        }
    }

    private static readonly CapsEmbedded.Runtime.ImagePartRunner s_nothing = (_, _, _, _, _, _) => { };

    private static double Median(List<double> values) => Percentile(values, 0.5);

    private static double Percentile(List<double> values, double q)
    {
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return sorted[(int)(q * (sorted.Length - 1))];
    }
}
