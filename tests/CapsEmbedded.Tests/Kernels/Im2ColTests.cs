using CapsEmbedded.Kernels;
using CapsEmbedded.TierProbe;
using Xunit;

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
