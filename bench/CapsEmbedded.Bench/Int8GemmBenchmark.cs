using System.Diagnostics;
using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;

namespace CapsEmbedded.Bench;

/// <summary>
/// `int8-gemm [ROUNDS]`: the primary-capsule GEMM (36 × 20736 × 256, 94 % of the network's multiply-adds) as float32
/// PackedGemm on Vector256 (AVX2 + FMA3) against QuantizedGemm on each supported x64 int8 tier, interleaved round by
/// round in one process (each round: every variant for ~100 ms, in rotating order). Reports each variant's best and
/// median CPU time per call and the float/int8 ratio of the medians; on a shared machine only the ratios mean much.
/// </summary>
public static class Int8GemmBenchmark
{
    public static void Run(TextWriter output, int rounds)
    {
        const int m = 36, k = 20736, n = 256;
        var random = new DeterministicRandom(12);
        float[] aFloat = new float[m * k];
        byte[] aInt8 = new byte[m * k];
        for (int i = 0; i < aInt8.Length; i++)
        {
            aInt8[i] = (byte)random.NextInt(128);
            aFloat[i] = aInt8[i] / 127f;
        }

        float[] bFloat = new float[n * k];
        sbyte[] bInt8 = new sbyte[n * k];
        for (int i = 0; i < bInt8.Length; i++)
        {
            bInt8[i] = (sbyte)(random.NextInt(255) - 127);
            bFloat[i] = bInt8[i] / 127f;
        }

        float[] packedFloat = new float[PackedGemm.PackedLength(n, k)];
        PackedGemm.Pack(bFloat, n, k, packedFloat);
        sbyte[] packedInt8 = new sbyte[QuantizedGemm.PackedLength(n, k)];
        QuantizedGemm.Pack(bInt8, n, k, packedInt8);
        float[] cFloat = new float[m * n];
        int[] cInt8 = new int[m * n];

        var variants = new List<(string Name, Action Call)>();
        if (SimdTiers.IsSupported(SimdTier.Vector256))
        {
            variants.Add(("float32 PackedGemm Vector256", () => PackedGemm.Multiply(aFloat, m, k, packedFloat, n, [], Activation.None, cFloat, SimdTier.Vector256)));
        }
        else
        {
            variants.Add(($"float32 PackedGemm {SimdTiers.Best}", () => PackedGemm.Multiply(aFloat, m, k, packedFloat, n, [], Activation.None, cFloat, SimdTiers.Best)));
        }

        foreach (Int8Tier tier in Int8Tiers.Supported.Where(tier => tier != Int8Tier.Scalar))
        {
            variants.Add(($"int8 QuantizedGemm {tier}", () => QuantizedGemm.Multiply(aInt8, m, k, packedInt8, n, cInt8, tier)));
        }

        output.WriteLine($"primary-capsule GEMM {m}x{k}x{n}, {rounds} interleaved rounds; int8 best tier here: {Int8Tiers.Best}");
        var samples = variants.Select(_ => new List<double>()).ToArray();
        foreach (var (_, call) in variants) for (int i = 0; i < 10; i++) call();
        using var process = Process.GetCurrentProcess();
        for (int round = 0; round < rounds; round++)
        {
            for (int step = 0; step < variants.Count; step++)
            {
                int v = (round + step) % variants.Count;
                process.Refresh();
                TimeSpan cpu0 = process.TotalProcessorTime;
                int calls = 0;
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed.TotalMilliseconds < 100) { variants[v].Call(); calls++; }
                process.Refresh();
                samples[v].Add((process.TotalProcessorTime - cpu0).TotalMilliseconds / calls);
            }
        }

        double floatMedian = Median(samples[0]);
        output.WriteLine("| kernel | best CPU ms | median CPU ms | float32 median / this median | GMAC/s (best) |");
        output.WriteLine("|---|---:|---:|---:|---:|");
        for (int v = 0; v < variants.Count; v++)
        {
            double best = samples[v].Min(), median = Median(samples[v]);
            output.WriteLine(FormattableString.Invariant(
                $"| {variants[v].Name} | {best:F3} | {median:F3} | {floatMedian / median:F2} | {(double)m * k * n / best / 1e6:F1} |"));
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
