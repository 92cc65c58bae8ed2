using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using CapsEmbedded;
using CapsEmbedded.Kernels;

namespace CapsEmbedded.Bench;

/// <summary>The paper network's GEMMs: the primary-capsule conv (94 % of the multiply-adds), conv1 and the largest decoder GEMV.</summary>
public static class GemmShapes
{
    public const string Primary = "primary 36x20736x256";
    public const string Conv1 = "conv1 400x81x256";
    public const string Fc3 = "fc3 1x1024x784";

    /// <summary>(m, k, n) of a shape name.</summary>
    public static (int M, int K, int N) Parse(string shape)
    {
        string[] sizes = shape.Split(' ')[1].Split('x');
        return (int.Parse(sizes[0]), int.Parse(sizes[1]), int.Parse(sizes[2]));
    }

    /// <summary>2·m·n·k floating-point operations (a multiply-add counts as two).</summary>
    public static double Flops(string shape)
    {
        var (m, k, n) = Parse(shape);
        return 2.0 * m * n * k;
    }
}

/// <summary>PackedGemm per tier and shape; the GFLOP/s column is 2·m·n·k / mean time.</summary>
[MemoryDiagnoser]
[Config(typeof(GflopsConfig))]
public class PackedGemmBenchmarks
{
    private float[] _a = [], _packed = [], _bias = [], _c = [];
    private int _m, _k, _n;

    public static IEnumerable<SimdTier> Tiers => SimdTiers.Supported.Where(tier => tier != SimdTier.Scalar);

    [ParamsSource(nameof(Tiers))]
    public SimdTier Tier { get; set; }

    [Params(GemmShapes.Primary, GemmShapes.Conv1, GemmShapes.Fc3)]
    public string Shape { get; set; } = GemmShapes.Primary;

    [GlobalSetup]
    public void Setup()
    {
        (_m, _k, _n) = GemmShapes.Parse(Shape);
        var random = new DeterministicRandom(1);
        _a = Filled(random, _m * _k);
        float[] b = Filled(random, _n * _k);
        _packed = new float[PackedGemm.PackedLength(_n, _k)];
        PackedGemm.Pack(b, _n, _k, _packed);
        _bias = Filled(random, _n);
        _c = new float[_m * _n];
    }

    [Benchmark]
    public void Multiply() => PackedGemm.Multiply(_a, _m, _k, _packed, _n, _bias, Activation.Relu, _c, Tier);

    internal static float[] Filled(DeterministicRandom random, int count)
    {
        var values = new float[count];
        for (int i = 0; i < values.Length; i++) values[i] = random.NextUniform(-1f, 1f);
        return values;
    }
}

/// <summary>The other per-image kernels at the paper's sizes, per tier.</summary>
[MemoryDiagnoser]
public class CapsuleKernelBenchmarks
{
    private readonly float[] _conv1Output = new float[256 * 20 * 20];
    private readonly float[] _conv1Digits = new float[DigitCount * 256 * 20 * 20];
    private int _nextDigit;
    private readonly float[] _patches = new float[36 * 20736];
    private readonly float[] _primary = new float[1152 * 8];
    private readonly float[] _digitWeights = new float[1152 * 10 * 16 * 8];
    private readonly float[] _uHat = new float[1152 * 10 * 16];
    private readonly float[] _logits = new float[1152 * 10];
    private readonly float[] _coupling = new float[1152 * 10];
    private readonly float[] _v = new float[160];
    private readonly float[] _primaryWeights = new float[PackedGemm.PackedLength(256, 20736)];
    private readonly float[] _primaryBias = new float[256];
    private readonly float[] _primaryOutput = new float[36 * 256];

    public static IEnumerable<SimdTier> Tiers => SimdTiers.Supported.Where(tier => tier != SimdTier.Scalar);

    [ParamsSource(nameof(Tiers))]
    public SimdTier Tier { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new DeterministicRandom(2);
        PackedGemmBenchmarks.Filled(random, _conv1Output.Length).CopyTo(_conv1Output, 0);
        PackedGemmBenchmarks.Filled(random, _primary.Length).CopyTo(_primary, 0);
        float[] w = PackedGemmBenchmarks.Filled(random, _digitWeights.Length);
        for (int i = 0; i < w.Length; i++) w[i] *= 0.1f;
        CapsuleTransform.PackWeights(w, 1152, 10, 16, 8, _digitWeights);
        CapsuleTransform.Run(_primary, _digitWeights, 1152, 10, 16, 8, _uHat, SimdTier.Scalar);
        PackedGemm.Pack(PackedGemmBenchmarks.Filled(random, 256 * 20736), 256, 20736, _primaryWeights);
        Conv1OfDigits(_conv1Digits);
    }

    /// <summary>Test digits the digit benchmark cycles through (the fixture's first ones).</summary>
    private const int DigitCount = 16;

    /// <summary>
    /// conv1's ReLU output, channels last, of the fixture's first test digits under the trained weights
    /// (weights/mnist.safetensors): what the primary conv really reads, 87 % zeros on average.
    /// </summary>
    private static void Conv1OfDigits(float[] target)
    {
        var weights = Weights.CapsNetWeightsFile.Load(Peers.PeerBenchmark.FindRepositoryFile("weights", "mnist.safetensors"));
        float[] digits = Peers.PeerBenchmark.Digits(DigitCount);
        var chw = new float[256 * 400];
        for (int d = 0; d < DigitCount; d++)
        {
            Reference.ReferenceModel.Conv2d<float>(digits.AsSpan(d * 784, 784), 1, 28, 28, weights.Conv1Weight, weights.Conv1Bias, 256, 9, 1, chw);
            Reference.ReferenceModel.Relu<float>(chw);
            for (int c = 0; c < 256; c++)
                for (int p = 0; p < 400; p++) target[(d * 400 + p) * 256 + c] = chw[c * 400 + p];
        }
    }

    [Benchmark(Description = "Im2Col primary 256x20x20 k9 s2")]
    public void Im2ColPrimary() => Im2Col.Run(_conv1Output, 256, 20, 20, 9, 2, _patches);

    [Benchmark(Description = "Im2Col channels-last primary 20x20x256 k9 s2")]
    public void Im2ColChannelsLastPrimary() => Im2Col.RunChannelsLast(_conv1Output, 256, 20, 20, 9, 2, _patches);

    [Benchmark(Description = "Primary conv as implicit GEMM 20x20x256 k9 s2 -> 36x256 (no im2col)")]
    public void PrimaryConvImplicit() =>
        PackedGemm.ConvolveChannelsLast(_conv1Output, 256, 20, 20, 9, 2, _primaryWeights, 256, _primaryBias, Activation.None, _primaryOutput, Tier);

    [Benchmark(Description = "Primary conv as implicit GEMM on test digits' conv1 output (mostly zeros: zero columns skipped)")]
    public void PrimaryConvImplicitDigits()
    {
        _nextDigit = (_nextDigit + 1) % DigitCount;
        PackedGemm.ConvolveChannelsLast(_conv1Digits.AsSpan(_nextDigit * 256 * 400, 256 * 400), 256, 20, 20, 9, 2, _primaryWeights,
            256, _primaryBias, Activation.None, _primaryOutput, Tier);
    }

    [Benchmark(Description = "Squash 1152x8")]
    public void SquashPrimary() => Squash.Run(_primary, 1152, 8, Tier);

    [Benchmark(Description = "CapsuleTransform 1152x10x16x8")]
    public void Transform() => CapsuleTransform.Run(_primary, _digitWeights, 1152, 10, 16, 8, _uHat, Tier);

    [Benchmark(Description = "Routing 1152x10x16 r3")]
    public void Route() => Routing.Run(_uHat, 1152, 10, 16, 3, _logits, _coupling, _v, Tier);
}

/// <summary>Adds the GFLOP/s column to <see cref="PackedGemmBenchmarks"/>.</summary>
public sealed class GflopsConfig : ManualConfig
{
    public GflopsConfig() => AddColumn(new GflopsColumn());
}

/// <summary>2·m·n·k / mean time, from the Shape parameter.</summary>
public sealed class GflopsColumn : IColumn
{
    public string Id => nameof(GflopsColumn);
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "2·m·n·k / mean time (a multiply-add counts as two operations)";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var statistics = summary[benchmarkCase]?.ResultStatistics;
        if (statistics is null || benchmarkCase.Parameters["Shape"] is not string shape) return "-";
        return (GemmShapes.Flops(shape) / statistics.Mean).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// A BenchmarkDotNet-free measurement for busy shared machines: per tier, the best of several 200 ms rounds of wall time
/// and of this process's CPU time per call (CPU time excludes the time the scheduler gave to other processes).
/// </summary>
public static class CpuTimeTable
{
    public static void Run(TextWriter output)
    {
        output.WriteLine("| kernel | tier | wall ms | CPU ms | CPU GFLOP/s |");
        output.WriteLine("|---|---|---:|---:|---:|");
        foreach (string shape in new[] { GemmShapes.Primary, GemmShapes.Conv1, GemmShapes.Fc3 })
        {
            foreach (SimdTier tier in PackedGemmBenchmarks.Tiers)
            {
                var bench = new PackedGemmBenchmarks { Shape = shape, Tier = tier };
                bench.Setup();
                var (wall, cpu) = Measure(bench.Multiply);
                double flops = GemmShapes.Flops(shape);
                output.WriteLine(FormattableString.Invariant(
                    $"| PackedGemm {shape} | {tier} | {wall * 1e3:F3} | {cpu * 1e3:F3} | {flops / cpu / 1e9:F1} |"));
            }
        }

        foreach (SimdTier tier in CapsuleKernelBenchmarks.Tiers)
        {
            var bench = new CapsuleKernelBenchmarks { Tier = tier };
            bench.Setup();
            foreach (var (name, call) in new (string, Action)[]
            {
                ("Im2Col primary 256x20x20 k9 s2", bench.Im2ColPrimary),
                ("Im2Col channels-last primary 20x20x256 k9 s2", bench.Im2ColChannelsLastPrimary), ("Squash 1152x8", bench.SquashPrimary),
                ("CapsuleTransform 1152x10x16x8", bench.Transform), ("Routing 1152x10x16 r3", bench.Route),
            })
            {
                var (wall, cpu) = Measure(call);
                output.WriteLine(FormattableString.Invariant($"| {name} | {tier} | {wall * 1e3:F3} | {cpu * 1e3:F3} | |"));
            }
        }
    }

    private static (double Wall, double Cpu) Measure(Action call)
    {
        for (int i = 0; i < 5; i++) call();
        double bestWall = double.MaxValue, bestCpu = double.MaxValue;
        using var process = Process.GetCurrentProcess();
        for (int round = 0; round < 7; round++)
        {
            process.Refresh();
            TimeSpan cpu0 = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            int calls = 0;
            while (clock.Elapsed.TotalMilliseconds < 200) { call(); calls++; }
            double wall = clock.Elapsed.TotalSeconds / calls;
            process.Refresh();
            bestWall = Math.Min(bestWall, wall);
            bestCpu = Math.Min(bestCpu, (process.TotalProcessorTime - cpu0).TotalSeconds / calls);
        }

        return (bestWall, bestCpu);
    }
}
