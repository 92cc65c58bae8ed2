using CapsEmbedded.Kernels;

namespace CapsEmbedded.TierProbe;

/// <summary>
/// The kernels that read F16 weights in place (PackedGemm's F16 panels, CapsuleTransform's F16 W, HalfPanels), from an
/// odd address, against their float32 paths on the same tier, bit for bit: with F16-exact weights the widened sums must be the same floats in
/// the same order. Run by the xunit tests per tier and by the probe (<see cref="KernelSelfCheck.RunAll"/>) in child
/// processes whose tier is lowered by DOTNET_Enable* switches.
/// </summary>
internal static class HalfWeightsSelfCheck
{
    /// <summary>GEMM shapes (m, n, k): every row tile remainder, partial and odd panel counts, k around the 256 block.</summary>
    public static readonly (int M, int N, int K)[] GemmShapes =
    [
        (0, 16, 10), (1, 1, 1), (5, 17, 255), (6, 33, 256), (7, 48, 257), (13, 16, 600), (36, 40, 2000), (1, 784, 1024), (36, 256, 700),
    ];

    /// <summary>Channels-last convolutions (C, H, W, kernel, stride, n): the primary capsules scaled down, odd sizes.</summary>
    public static readonly (int C, int H, int W, int Kernel, int Stride, int N)[] ConvShapes =
    [
        (16, 20, 20, 9, 2, 40), (32, 12, 12, 5, 2, 64), (3, 7, 5, 2, 3, 17), (256, 8, 8, 3, 2, 32),
    ];

    /// <summary>Runs every check on <paramref name="tier"/>; returns how many ran, throws on the first mismatch.</summary>
    public static int RunAll(SimdTier tier)
    {
        int checks = 0;
        Widen(tier);
        checks++;
        foreach (var (m, n, k) in GemmShapes)
        {
            foreach (double zeroShare in new[] { 0, 0.9 })
            {
                Gemm(tier, m, n, k, zeroShare, seed: (ulong)(m * 13 + n * 7 + k));
                checks++;
            }
        }

        foreach (var (c, h, w, kernel, stride, n) in ConvShapes)
        {
            Convolution(tier, c, h, w, kernel, stride, n, seed: (ulong)(c + h + kernel + n));
            checks++;
        }

        foreach (var (n, j, d, p) in KernelSelfCheck.TransformShapes)
        {
            CapsuleTransform(tier, n, j, d, p, seed: (ulong)(n + j + d + p));
            checks++;
        }

        return checks;
    }

    /// <summary>
    /// HalfPanels.Widen on <paramref name="tier"/> against <c>(float)Half</c>, bit for bit: every finite F16 value
    /// (subnormals and ±0 included), then every length 0..100 (whole vectors, the overlapping last one, the narrower
    /// tiers' and the scalar remainders) with nothing written past the end; read from an odd address, as NativeAOT places
    /// the embedded weights.
    /// </summary>
    public static void Widen(SimdTier tier)
    {
        var finite = new List<Half>();
        for (int h = 0; h < 65536; h++)
        {
            var value = BitConverter.UInt16BitsToHalf((ushort)(h * 40503)); // every value, shuffled
            if (Half.IsFinite(value)) finite.Add(value);
        }

        Half[] values = [.. finite];
        ReadOnlySpan<Half> source = OddAddress(values);
        var widened = new float[values.Length + 1];
        foreach (int length in Enumerable.Range(0, 101).Append(values.Length))
        {
            widened.AsSpan().Fill(-7f);
            HalfPanels.Widen(source.Slice(0, length), widened.AsSpan(0, length), tier);
            for (int i = 0; i < length; i++)
            {
                uint expected = BitConverter.SingleToUInt32Bits((float)values[i]);
                uint actual = BitConverter.SingleToUInt32Bits(widened[i]);
                Require(actual == expected,
                    $"HalfPanels {tier} length={length}: F16 0x{BitConverter.HalfToUInt16Bits(values[i]):X4} became 0x{actual:X8}, (float)Half is 0x{expected:X8}.");
            }

            Require(widened[length] == -7f, $"HalfPanels {tier} length={length} wrote past its output.");
        }
    }

    /// <summary>
    /// PackedGemm.MultiplyPanels with F16 panels against the float32 panels of the same values: the whole product, then
    /// the panels split in three calls sharing one widened scratch (as threads do), each the same bits.
    /// </summary>
    public static void Gemm(SimdTier tier, int m, int n, int k, double zeroShare, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] a = SparseRandom(random, m * k, zeroShare);
        float[] b = HalfExact(KernelSelfCheck.Random(random, n * k, -1f, 1f));
        float[] bias = KernelSelfCheck.Random(random, n, -1f, 1f);
        var (packed, packedHalf) = Pack(b, n, k);
        var expected = new float[m * n];
        PackedGemm.Multiply(a, m, k, packed, n, bias, Activation.Relu, expected, tier);

        int panels = PackedGemm.PanelCount(n);
        var widened = new float[PackedGemm.WidenedLength(n, k)];
        foreach (int[] cuts in new[] { new[] { 0, panels }, new[] { 0, panels / 3, 2 * panels / 3, panels } })
        {
            widened.AsSpan().Fill(float.NaN); // must be written before it is read
            var actual = new float[m * n];
            for (int part = 0; part + 1 < cuts.Length; part++)
            {
                PackedGemm.MultiplyPanels(a, m, k, OddAddress(packedHalf), n, bias, Activation.Relu, actual, tier, cuts[part], cuts[part + 1], widened);
            }

            RequireSameBits(expected, actual, $"PackedGemm F16 {tier} m={m} n={n} k={k} zeros={zeroShare} parts={cuts.Length - 1}");
        }
    }

    /// <summary>PackedGemm.ConvolveChannelsLastPanels with F16 panels against the float32 panels, in two panel ranges.</summary>
    public static void Convolution(SimdTier tier, int channels, int height, int width, int kernel, int stride, int n, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] input = SparseRandom(random, height * width * channels, 0.5); // ReLU output has zeros
        int k = kernel * kernel * channels;
        float[] b = HalfExact(KernelSelfCheck.Random(random, n * k, -1f, 1f));
        float[] bias = KernelSelfCheck.Random(random, n, -1f, 1f);
        var (packed, packedHalf) = Pack(b, n, k);
        int positions = Im2Col.OutputSize(height, kernel, stride) * Im2Col.OutputSize(width, kernel, stride);
        var expected = new float[positions * n];
        PackedGemm.ConvolveChannelsLast(input, channels, height, width, kernel, stride, packed, n, bias, Activation.None, expected, tier);

        int panels = PackedGemm.PanelCount(n);
        var widened = new float[PackedGemm.WidenedLength(n, k)];
        var actual = new float[positions * n];
        PackedGemm.ConvolveChannelsLastPanels(input, channels, height, width, kernel, stride, OddAddress(packedHalf), n, bias, Activation.None,
            actual, tier, 0, panels / 2, widened);
        PackedGemm.ConvolveChannelsLastPanels(input, channels, height, width, kernel, stride, OddAddress(packedHalf), n, bias, Activation.None,
            actual, tier, panels / 2, panels, widened);
        RequireSameBits(expected, actual, $"ConvolveChannelsLast F16 {tier} C={channels} {height}×{width} k={kernel} s={stride} n={n}");
    }

    /// <summary>CapsuleTransform.Run with F16 W against the float32 W of the same values.</summary>
    public static void CapsuleTransform(SimdTier tier, int n, int j, int d, int p, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] u = KernelSelfCheck.Random(random, n * p, -1f, 1f);
        float[] w = HalfExact(KernelSelfCheck.Random(random, n * j * d * p, -1f, 1f));
        var packed = new float[w.Length];
        Kernels.CapsuleTransform.PackWeights(w, n, j, d, p, packed);
        Half[] packedHalf = [.. packed.Select(x => (Half)x)];
        var expected = new float[n * j * d];
        Kernels.CapsuleTransform.Run(u, packed, n, j, d, p, expected, tier);
        var actual = new float[n * j * d + 1];
        actual[^1] = 3f;
        Kernels.CapsuleTransform.Run(u, OddAddress(packedHalf), n, j, d, p, actual, tier);
        Require(actual[^1] == 3f, $"CapsuleTransform F16 {tier} n={n} j={j} d={d} p={p} wrote past its output.");
        RequireSameBits(expected, actual.AsSpan(0, expected.Length), $"CapsuleTransform F16 {tier} n={n} j={j} d={d} p={p}");
    }

    /// <summary>B packed as float32 and the same packed values as F16 (exact: B is F16-exact, the padding zero).</summary>
    private static (float[] Single, Half[] Half) Pack(float[] b, int n, int k)
    {
        var packed = new float[PackedGemm.PackedLength(n, k)];
        PackedGemm.Pack(b, n, k, packed);
        return (packed, [.. packed.Select(x => (Half)x)]);
    }

    /// <summary>Values rounded to F16 and back, with small magnitudes so that some are F16 subnormals.</summary>
    private static float[] HalfExact(float[] values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            float x = i % 7 == 0 ? values[i] * 1e-4f : values[i];
            values[i] = (float)(Half)x;
        }

        return values;
    }

    /// <summary>The values copied to an odd byte address (NativeAOT embeds resources unaligned), read as F16 there.</summary>
    private static ReadOnlySpan<Half> OddAddress(Half[] values)
    {
        var bytes = new byte[2 * values.Length + 1];
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(bytes.AsSpan(1));
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(bytes.AsSpan(1));
    }

    private static float[] SparseRandom(DeterministicRandom random, int count, double zeroShare)
    {
        float[] values = KernelSelfCheck.Random(random, count, -1f, 1f);
        for (int i = 0; i < values.Length; i++)
        {
            if (random.NextDouble() < zeroShare) values[i] = 0f;
        }

        return values;
    }

    private static void RequireSameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Require(BitConverter.SingleToUInt32Bits(expected[i]) == BitConverter.SingleToUInt32Bits(actual[i]),
                $"{what}: [{i}] = {actual[i]}, the float32 path gives {expected[i]}.");
        }
    }

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new KernelCheckException(message);
    }
}
