using CapsEmbedded.Kernels;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>Im2Col against direct indexing; exact, since it only copies.</summary>
public sealed class Im2ColTests
{
    public static TheoryData<int, int, int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int, int, int>();
        foreach (var (c, h, w, kernel, stride) in KernelSelfCheck.Im2ColShapes)
        {
            data.Add(c, h, w, kernel, stride);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Rows_are_receptive_fields_in_channel_ky_kx_order(int channels, int height, int width, int kernel, int stride) =>
        KernelSelfCheck.Im2Col(channels, height, width, kernel, stride, seed: 5);

    [Fact]
    public void Paper_shapes_have_the_expected_sizes()
    {
        Assert.Equal(400 * 81, Im2Col.PatchesLength(1, 28, 28, 9, 1));
        Assert.Equal(36 * 20736, Im2Col.PatchesLength(256, 20, 20, 9, 2));
    }

    [Fact]
    public void Wrong_lengths_and_sizes_throw()
    {
        var shortInput = Assert.Throws<ArgumentException>(() => Im2Col.Run(new float[99], 1, 10, 10, 3, 1, new float[64 * 9]));
        Assert.Contains("100", shortInput.Message);
        var shortPatches = Assert.Throws<ArgumentException>(() => Im2Col.Run(new float[100], 1, 10, 10, 3, 1, new float[64 * 9 - 1]));
        Assert.Contains((64 * 9).ToString(), shortPatches.Message);
        Assert.Throws<ArgumentException>(() => Im2Col.Run(new float[4], 1, 2, 2, 3, 1, new float[9]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Im2Col.Run(new float[100], 1, 10, 10, 3, 0, new float[64 * 9]));
    }

    [Fact]
    public void Run_allocates_nothing()
    {
        float[] input = new float[16 * 20 * 20], patches = new float[Im2Col.PatchesLength(16, 20, 20, 9, 2)];
        Allocations.AssertNone(() => Im2Col.Run(input, 16, 20, 20, 9, 2, patches));
    }
}

/// <summary>The channels-last Im2Col and its weight permutation: each patch-row · weight-row product equals the
/// channels-first one (same terms, another order: compared in double, exactly).</summary>
public sealed class Im2ColChannelsLastTests
{
    /// <summary>The int8 model runs the same generic kernel on u7 bytes: its rows are the float rows' values, byte for byte.</summary>
    [Theory]
    [InlineData(4, 8, 8, 3, 2)]
    [InlineData(256, 20, 20, 9, 2)]
    public void On_bytes_the_rows_hold_the_same_values_as_on_floats(int channels, int height, int width, int kernel, int stride)
    {
        var random = new Random(channels);
        var bytes = new byte[channels * height * width];
        random.NextBytes(bytes);
        for (int k = 0; k < bytes.Length; k++) bytes[k] &= 127;
        var floats = Array.ConvertAll(bytes, b => (float)b);
        int rows = ((height - kernel) / stride + 1) * ((width - kernel) / stride + 1), rowLength = channels * kernel * kernel;
        var bytePatches = new byte[rows * rowLength];
        var floatPatches = new float[rows * rowLength];
        Im2Col.RunChannelsLast<byte>(bytes, channels, height, width, kernel, stride, bytePatches, 1, rows - 1);
        Im2Col.RunChannelsLast(floats, channels, height, width, kernel, stride, floatPatches, 1, rows - 1);
        Assert.Equal(floatPatches, Array.ConvertAll(bytePatches, b => (float)b));
        Assert.All(bytePatches.AsSpan(0, rowLength).ToArray(), b => Assert.Equal(0, b)); // row 0 was not asked for
    }

    [Theory]
    [InlineData(1, 28, 28, 9, 1)]
    [InlineData(16, 20, 20, 9, 2)]
    [InlineData(3, 7, 5, 2, 3)]
    [InlineData(4, 8, 8, 3, 2)]
    [InlineData(2, 5, 9, 5, 1)]
    public void Rows_are_receptive_fields_in_ky_kx_channel_order(int channels, int height, int width, int kernel, int stride)
    {
        var random = new DeterministicRandom(11);
        float[] chw = CapsEmbedded.TierProbe.KernelSelfCheck.Random(random, channels * height * width, -1f, 1f);
        float[] hwc = new float[chw.Length];
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    hwc[(y * width + x) * channels + c] = chw[(c * height + y) * width + x];

        int outH = (height - kernel) / stride + 1, outW = (width - kernel) / stride + 1, rowLength = channels * kernel * kernel;
        var patches = new float[outH * outW * rowLength + 1];
        patches[^1] = 9f;
        Im2Col.RunChannelsLast(hwc, channels, height, width, kernel, stride, patches);
        Assert.Equal(9f, patches[^1]);
        for (int oy = 0; oy < outH; oy++)
            for (int ox = 0; ox < outW; ox++)
                for (int ky = 0; ky < kernel; ky++)
                    for (int kx = 0; kx < kernel; kx++)
                        for (int c = 0; c < channels; c++)
                            Assert.Equal(chw[(c * height + oy * stride + ky) * width + ox * stride + kx],
                                patches[(oy * outW + ox) * rowLength + (ky * kernel + kx) * channels + c]);

        // The permuted weights pair each tap with the same pixel as the PyTorch layout does with channels-first patches.
        const int outputs = 3;
        float[] weight = CapsEmbedded.TierProbe.KernelSelfCheck.Random(random, outputs * rowLength, -1f, 1f);
        var permuted = new float[weight.Length];
        Im2Col.PermuteWeightsToChannelsLast(weight, outputs, channels, kernel, permuted);
        var chwPatches = new float[outH * outW * rowLength];
        Im2Col.Run(chw, channels, height, width, kernel, stride, chwPatches);
        for (int position = 0; position < outH * outW; position++)
        {
            for (int o = 0; o < outputs; o++)
            {
                double first = 0, last = 0;
                for (int t = 0; t < rowLength; t++)
                {
                    first += (double)chwPatches[position * rowLength + t] * weight[o * rowLength + t];
                    last += (double)patches[position * rowLength + t] * permuted[o * rowLength + t];
                }

                Assert.Equal(first, last, 1e-9);
            }
        }
    }

    [Theory]
    [InlineData(1, 28, 28, 9, 1, 0, 198)]
    [InlineData(1, 28, 28, 9, 1, 198, 1000)]
    [InlineData(16, 20, 20, 9, 2, 7, 11)]
    [InlineData(4, 8, 8, 3, 2, 9, 0)]
    [InlineData(4, 8, 8, 3, 2, 50, 3)]
    public void A_row_range_writes_those_rows_as_the_whole_run_does_and_nothing_else(int channels, int height, int width,
        int kernel, int stride, int firstRow, int rowCount)
    {
        var random = new DeterministicRandom(12);
        float[] input = CapsEmbedded.TierProbe.KernelSelfCheck.Random(random, channels * height * width, -1f, 1f);
        int rows = Im2Col.OutputSize(height, kernel, stride) * Im2Col.OutputSize(width, kernel, stride);
        int rowLength = channels * kernel * kernel;
        int end = Math.Min(rows, firstRow + rowCount), begin = Math.Min(firstRow, rows);
        foreach (bool channelsLast in new[] { false, true })
        {
            var whole = new float[rows * rowLength];
            var part = new float[rows * rowLength];
            part.AsSpan().Fill(float.NaN);
            if (channelsLast)
            {
                Im2Col.RunChannelsLast(input, channels, height, width, kernel, stride, whole);
                Im2Col.RunChannelsLast(input, channels, height, width, kernel, stride, part, firstRow, rowCount);
            }
            else
            {
                Im2Col.Run(input, channels, height, width, kernel, stride, whole);
                Im2Col.Run(input, channels, height, width, kernel, stride, part, firstRow, rowCount);
            }

            for (int t = 0; t < part.Length; t++)
            {
                int row = t / rowLength;
                if (row >= begin && row < end) Assert.Equal(whole[t], part[t]);
                else Assert.True(float.IsNaN(part[t]), $"row {row} outside [{begin}, {end}) was written");
            }
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => Im2Col.Run(input, channels, height, width, kernel, stride, new float[rows * rowLength], -1, 1));
    }

    [Fact]
    public void Wrong_lengths_throw()
    {
        var shortInput = Assert.Throws<ArgumentException>(() => Im2Col.RunChannelsLast(new float[99], 1, 10, 10, 3, 1, new float[64 * 9]));
        Assert.Contains("100", shortInput.Message);
        Assert.Throws<ArgumentException>(() => Im2Col.RunChannelsLast(new float[100], 1, 10, 10, 3, 1, new float[64 * 9 - 1]));
        Assert.Throws<ArgumentException>(() => Im2Col.PermuteWeightsToChannelsLast(new float[17], 2, 1, 3, new float[18]));
    }
}
