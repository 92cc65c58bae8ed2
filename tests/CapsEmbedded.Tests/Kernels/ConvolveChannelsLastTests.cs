using CapsEmbedded.Kernels;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>
/// PackedGemm.ConvolveChannelsLast (the implicit GEMM: patches read in place) against im2col followed by the GEMM it
/// replaces, on every tier: the same bits, for blocks read in place and blocks gathered alike.
/// </summary>
public sealed class ConvolveChannelsLastTests
{
    // (C, H, W, K, stride, n): the primary capsules (C = 256 = KBlock, 6 positions a row: every block read in place);
    // a 7-wide output (tiles cross output rows: gathered); C = 300 (k blocks cross window rows); tiny C (a k block
    // spans many window rows); 1×1 kernels; one output position; a partial last panel.
    public static readonly (int C, int H, int W, int K, int Stride, int N)[] Shapes =
    {
        (256, 20, 20, 9, 2, 32), (5, 9, 9, 3, 1, 16), (300, 6, 8, 2, 2, 20), (3, 12, 10, 5, 1, 37),
        (17, 4, 4, 1, 1, 16), (8, 3, 3, 3, 1, 8), (64, 13, 11, 3, 2, 48),
    };

    [Theory]
    [AllTiers]
    public void Same_bits_as_im2col_then_multiply_for_every_shape_activation_panel_range_and_row_range(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => Run(tier, Shapes[1], Activation.None, 0, seed: 1))) return;
        ulong seed = 1;
        foreach (var shape in Shapes)
        {
            foreach (Activation activation in Enum.GetValues<Activation>())
            {
                Run(tier, shape, activation, parts: 1, seed++);
                Run(tier, shape, activation, parts: 3, seed++);
                Run(tier, shape, activation, parts: 3, seed++, byRows: true);
            }
        }
    }

    [Theory]
    [AllTiers]
    public void Convolve_allocates_nothing(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => Run(tier, Shapes[1], Activation.None, 0, seed: 1))) return;
        var (c, h, w, k, s, n) = Shapes[2];
        float[] input = new float[h * w * c], packed = new float[PackedGemm.PackedLength(n, k * k * c)], bias = new float[n];
        float[] output = new float[Im2Col.OutputSize(h, k, s) * Im2Col.OutputSize(w, k, s) * n];
        Allocations.AssertNone(() =>
            PackedGemm.ConvolveChannelsLast(input, c, h, w, k, s, packed, n, bias, Activation.Relu, output, tier));
    }

    [Fact]
    public void Wrong_arguments_throw_naming_the_problem()
    {
        float[] packed = new float[PackedGemm.PackedLength(16, 3 * 3 * 2)], output = new float[4 * 16];
        var shortInput = Assert.Throws<ArgumentException>(() =>
            PackedGemm.ConvolveChannelsLast(new float[4 * 4 * 2 - 1], 2, 4, 4, 3, 1, packed, 16, default, Activation.None, output, SimdTier.Scalar));
        Assert.Contains("H·W·C = 4·4·2 = 32", shortInput.Message);
        var shortOutput = Assert.Throws<ArgumentException>(() =>
            PackedGemm.ConvolveChannelsLast(new float[32], 2, 4, 4, 3, 1, packed, 16, default, Activation.None, new float[63], SimdTier.Scalar));
        Assert.Contains("m·n = 64", shortOutput.Message);
        var shortWeights = Assert.Throws<ArgumentException>(() =>
            PackedGemm.ConvolveChannelsLast(new float[32], 2, 4, 4, 3, 1, new float[10], 16, default, Activation.None, output, SimdTier.Scalar));
        Assert.Contains("PackedLength(n, k)", shortWeights.Message);
        Assert.Throws<ArgumentException>(() =>
            PackedGemm.ConvolveChannelsLast(new float[32], 2, 4, 4, 5, 1, packed, 16, default, Activation.None, output, SimdTier.Scalar));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            PackedGemm.ConvolveChannelsLast(new float[32], 0, 4, 4, 3, 1, packed, 16, default, Activation.None, output, SimdTier.Scalar));
        var outsideRows = Assert.Throws<ArgumentOutOfRangeException>(() =>
            PackedGemm.ConvolveChannelsLastRows(new float[32], 2, 4, 4, 3, 1, packed, 16, default, Activation.None, output, SimdTier.Scalar, 2, 5));
        Assert.Contains("[2, 5) is not inside the 4 output positions", outsideRows.Message);
        var shortRowsOutput = Assert.Throws<ArgumentException>(() =>
            PackedGemm.ConvolveChannelsLastRows(new float[32], 2, 4, 4, 3, 1, packed, 16, default, Activation.None, new float[63], SimdTier.Scalar, 0, 1));
        Assert.Contains("outH·outW·n", shortRowsOutput.Message);
    }

    /// <summary>
    /// One shape: the implicit GEMM (whole, or in <paramref name="parts"/> panel ranges, or position ranges cut at
    /// <see cref="PackedGemm.RowGranule"/> as a split Efficient-CapsNet stem cuts them) against im2col + Multiply.
    /// </summary>
    private static void Run(SimdTier tier, (int C, int H, int W, int K, int Stride, int N) shape, Activation activation, int parts, ulong seed,
        bool byRows = false)
    {
        var (channels, height, width, kernel, stride, n) = shape;
        var random = new DeterministicRandom(seed);
        int positions = Im2Col.OutputSize(height, kernel, stride) * Im2Col.OutputSize(width, kernel, stride);
        int k = kernel * kernel * channels;
        float[] input = KernelSelfCheck.Random(random, height * width * channels, -1f, 1f);
        float[] weights = KernelSelfCheck.Random(random, n * k, -1f, 1f);
        float[] bias = KernelSelfCheck.Random(random, n, -1f, 1f);
        var packed = new float[PackedGemm.PackedLength(n, k)];
        PackedGemm.Pack(weights, n, k, packed);

        var patches = new float[positions * k];
        Im2Col.RunChannelsLast(input, channels, height, width, kernel, stride, patches);
        var expected = new float[positions * n];
        PackedGemm.Multiply(patches, positions, k, packed, n, bias, activation, expected, tier);

        var actual = new float[positions * n];
        actual.AsSpan().Fill(float.NaN);
        if (parts <= 1)
        {
            PackedGemm.ConvolveChannelsLast(input, channels, height, width, kernel, stride, packed, n, bias, activation, actual, tier);
        }
        else if (byRows)
        {
            // The later parts first: a part must write its own positions only.
            for (int part = parts - 1; part >= 0; part--)
            {
                var (first, end) = CapsEmbedded.Runtime.BatchContext.PartRange(positions, PackedGemm.RowGranule, part, parts);
                PackedGemm.ConvolveChannelsLastRows(input, channels, height, width, kernel, stride, packed, n, bias,
                    activation, actual, tier, first, end);
            }
        }
        else
        {
            int panels = PackedGemm.PanelCount(n), begin = 0;
            for (int part = 0; part < parts; part++)
            {
                int end = panels * (part + 1) / parts;
                PackedGemm.ConvolveChannelsLastPanels(input, channels, height, width, kernel, stride, packed, n, bias,
                    activation, actual, tier, begin, end);
                begin = end;
            }
        }

        FloatBits.AssertSame(expected, actual, $"C{channels} {height}x{width} K{kernel}/{stride} n{n} {activation} {tier} parts {parts}");
    }
}
