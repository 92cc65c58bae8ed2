using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Models;
using CapsEmbedded.Quantization;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet bench --precision int8 --weights F.int8.safetensors [--batch N --threads N]</c>: the int8 model and the
/// compiled float32 model (embedded weights) timed interleaved in one run, so machine noise hits both alike; reports the
/// ratio. A batch is split over the threads by images (each model's session over its BatchContext); at batch 1 both
/// models split the one image over the threads.
/// </summary>
internal static class Int8Bench
{
    /// <param name="path">The quantised weight file (--weights).</param>
    /// <param name="settings">Warm-up, runs, threads, batch and float tier.</param>
    /// <param name="images">The pool both models take their batches from in turn (a whole number of batches).</param>
    /// <param name="imagesName">What the pool is, for the report ("synthetic", "mnist test").</param>
    internal static string Run(string? path, BenchCommand.BenchSettings settings, float[] images, string imagesName)
    {
        if (path is null) throw new CliException("--precision int8 needs --weights with a quantised file (write one with capsnet quantize)");
        using var int8Session = QuantizedSession.Load(path);
        if (int8Session.Model.Architecture != MnistCapsNet.Architecture)
            throw new CliException($"{path} holds {int8Session.Model.Architecture}; the float32 model it is timed against is {MnistCapsNet.Architecture}");
        int count = settings.Batch;
        using var floatSession = CompiledModel.Mnist.Open(weightsPath: null);
        // Both take the pool's batches in the same order: the two models see the same images, call by call.
        using var int8Model = new BenchCommand.ModelCall(int8Session, settings, images);
        using var floatModel = new BenchCommand.ModelCall(floatSession, settings, images);
        var int8Ticks = new long[settings.Runs];
        var floatTicks = new long[settings.Runs];
        // The process's CPU time per call (TimeSpan ticks, all its threads): on a shared machine the wall time is half waiting.
        var int8Cpu = new long[settings.Runs];
        var floatCpu = new long[settings.Runs];
        Int8Tier int8Tier = int8Session.Int8Tier;
        bool single = floatModel.Single;

        for (int i = 0; i < settings.Warmup; i++)
        {
            int8Model.Call();
            floatModel.Call();
        }
        _ = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp());
        long allocatedBefore = BenchCommand.AllocatedBytes(single);
        for (int i = 0; i < settings.Runs; i++)
        {
            long cpu0 = Environment.CpuUsage.TotalTime.Ticks;
            long t0 = Stopwatch.GetTimestamp();
            int8Model.Call();
            long t1 = Stopwatch.GetTimestamp();
            long cpu1 = Environment.CpuUsage.TotalTime.Ticks;
            floatModel.Call();
            floatTicks[i] = Stopwatch.GetTimestamp() - t1;
            floatCpu[i] = Environment.CpuUsage.TotalTime.Ticks - cpu1;
            int8Ticks[i] = t1 - t0;
            int8Cpu[i] = cpu1 - cpu0;
        }
        long allocated = BenchCommand.AllocatedBytes(single) - allocatedBefore;

        Array.Sort(floatTicks);
        Array.Sort(int8Ticks);
        Array.Sort(floatCpu);
        Array.Sort(int8Cpu);
        double fCpu = CpuMedian(floatCpu), qCpu = CpuMedian(int8Cpu);
        double f50 = BenchCommand.Milliseconds(floatTicks, 0.5), f90 = BenchCommand.Milliseconds(floatTicks, 0.9);
        double q50 = BenchCommand.Milliseconds(int8Ticks, 0.5), q90 = BenchCommand.Milliseconds(int8Ticks, 0.9);
        var inv = CultureInfo.InvariantCulture;
        return string.Join(Environment.NewLine,
            $"model      int8 {QuantizedCapsNetWeights.Scheme} ({path}) vs compiled float32 MnistCapsNet (embedded), interleaved",
            $"runtime    {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSArchitecture}, {Environment.ProcessorCount} cores, float tier {settings.Tier}, int8 tier {int8Tier}",
            $"settings   batch {count}, threads {settings.Threads}, {settings.Warmup} warm-up + {settings.Runs} timed calls of each, {imagesName} images"
                + (count == 1 && settings.Threads > 1 ? " (each model splits the image over the threads)" : ""),
            string.Create(inv, $"float32    p50 {f50:F3} ms, p90 {f90:F3} ms, {count * 1e3 / f50:F1} images/s at p50"),
            string.Create(inv, $"int8       p50 {q50:F3} ms, p90 {q90:F3} ms, {count * 1e3 / q50:F1} images/s at p50"),
            string.Create(inv, $"ratio      int8 / float32 = {q50 / f50:F3} at p50"),
            string.Create(inv, $"cpu time   p50 float32 {fCpu:F3} ms, int8 {qCpu:F3} ms per call, int8 / float32 = {qCpu / fCpu:F3} (the process's threads, spinning included)"),
            string.Create(inv, $"allocated  {(double)allocated / (2.0 * settings.Runs * count):F1} bytes per image ({(single ? "this thread" : "all threads")})"));
    }

    private static double CpuMedian(long[] sortedTicks) => sortedTicks[(sortedTicks.Length - 1) / 2] / (double)TimeSpan.TicksPerMillisecond;
}
