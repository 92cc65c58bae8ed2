using System.Diagnostics;
using CapsEmbedded.Weights;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp;

/// <summary>Timings of one configuration: per batch (median and mean) and images per second (from the median).</summary>
public readonly record struct TorchBenchResult(double MedianMs, double MeanMs, double ImagesPerSecond);

/// <summary>
/// The TorchSharp module as a benchmark peer: inference (capsule lengths, no decoder, no_grad, as the runtime's
/// Predict) or training steps, on deterministic pseudo-random images in [0, 1). The caller sets the thread count
/// (<see cref="TorchCli.OpenDevice"/>).
/// </summary>
public static class TorchBench
{
    public static TorchBenchResult Run(CapsNetWeights weights, Device device, int batch, int warmup, int runs, bool train)
    {
        var a = weights.Architecture;
        var random = new DeterministicRandom(7);
        var images = new float[batch * a.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = (float)random.NextDouble();
        var labels = Enumerable.Range(0, batch).Select(k => k % a.Classes).ToArray();
        using var trainer = new TorchTrainer(weights, device);
        var times = new double[runs];
        using var x = trainer.Images(images, batch);
        for (int r = -warmup; r < runs; r++)
        {
            var clock = Stopwatch.StartNew();
            if (train) trainer.TrainStep(images, labels, batch, 1e-6);
            else
            {
                using var _ = no_grad();
                using var lengths = trainer.Model.forward(x);
                using var cpu = lengths.cpu(); // waits for the device
            }
            if (r >= 0) times[r] = clock.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        double median = runs % 2 == 1 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
        return new TorchBenchResult(median, times.Average(), batch * 1000.0 / median);
    }
}
