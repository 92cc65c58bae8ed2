using System.Diagnostics;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// Timings of one configuration: per batch (median, 90th percentile and mean), images per second (from the median) and
/// over the whole timed run (as bench/peers counts them), and per CPU-second.
/// </summary>
public readonly record struct TorchBenchResult(double MedianMs, double P90Ms, double MeanMs, double ImagesPerSecond,
    double ImagesPerCpuSecond, double ImagesPerWallSecond);

/// <summary>
/// The TorchSharp module as a benchmark peer: inference (capsule lengths, no decoder, no_grad, as the runtime's
/// Predict) or training steps, on deterministic pseudo-random images in [0, 1). The caller sets the thread count
/// (<see cref="TorchCli.OpenDevice"/>).
/// </summary>
public static class TorchBench
{
    public static TorchBenchResult Run(CapsNetWeights weights, Device device, int batch, int warmup, int runs, bool train)
    {
        using var trainer = new TorchTrainer(weights, device);
        var (images, labels) = Inputs(weights.Architecture, batch);
        using var x = trainer.Images(images, batch);
        return Time(warmup, runs, batch, () =>
        {
            if (train) trainer.TrainStep(images, labels, batch, 1e-6);
            else
            {
                using var _ = no_grad();
                using var lengths = trainer.Model.forward(x);
                using var cpu = lengths.cpu(); // waits for the device
            }
        });
    }

    /// <summary>Efficient-CapsNet (<see cref="TorchEfficientCapsNet"/>, seed 1): inference in eval mode, or training steps.</summary>
    public static TorchBenchResult RunEfficient(Device device, int batch, int warmup, int runs, bool train)
    {
        using var trainer = new TorchEfficientTrainer(1, device);
        var (images, labels) = Inputs(CapsNetArchitecture.Paper, batch); // the same 28×28 input, 10 classes
        using var x = TorchTrainer.Images(images, batch, 1, 28, device);
        if (!train) trainer.Model.eval();
        return Time(warmup, runs, batch, () =>
        {
            if (train) trainer.TrainStep(images, labels, 1, null, batch, 1e-6);
            else
            {
                using var _ = no_grad();
                using var lengths = trainer.Model.forward(x);
                using var cpu = lengths.cpu();
            }
        });
    }

    /// <summary>The C# trainer's step (capsnet train's <see cref="CapsNetTrainer{T}"/>), timed the same way, for side-by-side runs.</summary>
    public static TorchBenchResult RunCSharpTrainer(CapsNetWeights weights, int threads, int batch, int warmup, int runs)
    {
        using var trainer = new CapsNetTrainer<float>(weights, threads, groupSize: 8);
        var (images, labels) = Inputs(weights.Architecture, batch);
        return Time(warmup, runs, batch, () => trainer.TrainStep(images, labels, batch, 1e-6));
    }

    private static (float[] Images, int[] Labels) Inputs(CapsNetArchitecture a, int batch)
    {
        var random = new DeterministicRandom(7);
        var images = new float[batch * a.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = (float)random.NextDouble();
        var labels = Enumerable.Range(0, batch).Select(k => k % a.Classes).ToArray();
        return (images, labels);
    }

    private static TorchBenchResult Time(int warmup, int runs, int batch, Action step)
    {
        var times = new double[runs];
        for (int r = 0; r < warmup; r++) step();
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuStart = process.TotalProcessorTime;
        for (int r = 0; r < runs; r++)
        {
            var clock = Stopwatch.StartNew();
            step();
            times[r] = clock.Elapsed.TotalMilliseconds;
        }
        process.Refresh();
        double cpuSeconds = (process.TotalProcessorTime - cpuStart).TotalSeconds;
        Array.Sort(times);
        double median = runs % 2 == 1 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
        double p90 = times[Math.Min(runs - 1, (int)Math.Ceiling(0.9 * runs) - 1)]; // the same quantile as bench/peers
        return new TorchBenchResult(median, p90, times.Average(), batch * 1000.0 / median, (double)batch * runs / cpuSeconds,
            batch * runs * 1000.0 / times.Sum());
    }
}
