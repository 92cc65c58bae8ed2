using BenchmarkDotNet.Attributes;
using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using CapsEmbedded.Reference;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Bench;

/// <summary>
/// Batch-1, single-thread latency of the generated paper model (weights/mnist.safetensors) end to end and per layer,
/// against the scalar ReferenceModel. 406 MFLOP per image with the decoder (203 M multiply-adds); see bench/RESULTS-model.md.
/// Per-layer benchmarks run one layer on a workspace that already holds the previous layers' output.
/// </summary>
[MemoryDiagnoser]
public class ModelBenchmarks
{
    private MnistCapsNet.Weights _weights = null!;
    private MnistCapsNet.Workspace _workspace = null!;
    private CapsNetWeights _referenceWeights = null!;
    private readonly float[] _image = new float[MnistCapsNet.InputLength];
    private readonly float[] _lengths = new float[MnistCapsNet.Classes];
    private readonly float[] _capsules = new float[MnistCapsNet.DecoderInput];
    private readonly float[] _reconstruction = new float[MnistCapsNet.DecoderOutput];
    private SimdTier _tier = SimdTiers.Best;

    /// <summary>The tier the model runs with (the best one unless ModelCpuTime sets another).</summary>
    public SimdTier Tier { get => _tier; set => _tier = value; }

    [GlobalSetup]
    public void Setup()
    {
        _weights = MnistCapsNet.Weights.Embedded;
        _workspace = new MnistCapsNet.Workspace();
        _referenceWeights = CapsNetWeightsFile.Load(FindWeights());
        // The fixture's first MNIST test digit (a 7): the primary conv skips conv1's zero columns, so the time depends on
        // the image; the peers benchmark and `capsnet bench --data mnist` average over many digits.
        Peers.PeerBenchmark.Digits(1).CopyTo(_image, 0);
        MnistCapsNet.Predict(_weights, _workspace, _image, _lengths, _capsules, _reconstruction, _tier);
    }

    [GlobalCleanup]
    public void Cleanup() => _workspace.Dispose();

    private static string FindWeights()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "weights", "mnist.safetensors");
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException("weights/mnist.safetensors not found above " + AppContext.BaseDirectory);
    }

    [Benchmark(Description = "Reference.Forward (scalar, with decoder)")]
    public float Reference() => ReferenceModel.Forward(_referenceWeights, _image).Lengths[0];

    [Benchmark(Baseline = true, Description = "Predict (class + lengths)")]
    public int Predict() => MnistCapsNet.Predict(_weights, _workspace, _image, _lengths, default, default, _tier);

    [Benchmark(Description = "Predict + capsules + reconstruction")]
    public int PredictWithReconstruction()
        => MnistCapsNet.Predict(_weights, _workspace, _image, _lengths, _capsules, _reconstruction, _tier);

    [Benchmark(Description = "layer conv1 (im2col + GEMM ReLU)")]
    public void Conv1() => MnistCapsNet.Layers.Conv1(_weights, _workspace, _image, _tier);

    [Benchmark(Description = "layer primary caps (transpose + im2col + GEMM + squash)")]
    public void PrimaryCapsules() => MnistCapsNet.Layers.PrimaryCaps(_weights, _workspace, _tier);

    [Benchmark(Description = "layer u_hat (capsule transform)")]
    public void CapsuleTransform() => MnistCapsNet.Layers.CapsuleTransform(_weights, _workspace, _tier);

    [Benchmark(Description = "layer routing (r = 3)")]
    public void Route() => MnistCapsNet.Layers.Route(_workspace, _tier);

    [Benchmark(Description = "layer decoder (mask + 3 GEMMs m = 1)")]
    public void Decoder() => MnistCapsNet.Layers.Decoder(_weights, _workspace, 3, _reconstruction, _tier);
}

/// <summary>
/// `dotnet run -c Release -- model-cputime`: Predict latency per tier as best-of-7 wall time and process CPU time per
/// call (single-threaded, so CPU time is what one core spends even when a shared machine preempts us).
/// </summary>
public static class ModelCpuTime
{
    public static void Run(TextWriter output)
    {
        const double flopsWithDecoder = 406.4e6, flopsWithout = 403.6e6;
        output.WriteLine("| tier | benchmark | wall ms | CPU ms | CPU GFLOP/s |");
        output.WriteLine("|---|---|---:|---:|---:|");
        var bench = new ModelBenchmarks();
        bench.Setup();
        foreach (SimdTier tier in SimdTiers.Supported)
        {
            bench.Tier = tier;
            Measure(output, tier, "Predict (class + lengths)", () => bench.Predict(), flopsWithout);
            Measure(output, tier, "Predict + capsules + reconstruction", () => bench.PredictWithReconstruction(), flopsWithDecoder);
            Measure(output, tier, "layer primary caps", () => bench.PrimaryCapsules(), 382.2e6);
        }
        bench.Cleanup();
    }

    private static void Measure(TextWriter output, SimdTier tier, string name, Action call, double flops)
    {
        for (int i = 0; i < 5; i++) call();
        double bestWall = double.MaxValue, bestCpu = double.MaxValue;
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        for (int round = 0; round < 7; round++)
        {
            process.Refresh();
            TimeSpan cpu0 = process.TotalProcessorTime;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            int calls = 0;
            while (clock.Elapsed.TotalMilliseconds < 300) { call(); calls++; }
            double wall = clock.Elapsed.TotalSeconds / calls;
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds / calls;
            bestWall = Math.Min(bestWall, wall);
            bestCpu = Math.Min(bestCpu, cpu);
        }
        output.WriteLine(FormattableString.Invariant(
            $"| {tier} | {name} | {bestWall * 1e3:F2} | {bestCpu * 1e3:F2} | {flops / bestCpu / 1e9:F1} |"));
    }
}
