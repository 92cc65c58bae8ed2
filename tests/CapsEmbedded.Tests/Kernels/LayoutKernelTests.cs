using CapsEmbedded.Kernels;
using Xunit;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>The data-movement kernels between layers: exact, since they only copy.</summary>
public sealed class LayoutKernelTests
{
    [Theory]
    [InlineData(0, 5)]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(16, 16)]
    [InlineData(17, 33)]
    [InlineData(400, 256)]
    public void Transpose_swaps_rows_and_columns(int rows, int columns)
    {
        float[] source = Enumerable.Range(0, rows * columns).Select(index => (float)index).ToArray();
        var destination = new float[rows * columns + 1];
        destination[^1] = -1f;
        Transpose.Run(source, rows, columns, destination);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                Assert.Equal(source[r * columns + c], destination[c * rows + r]);
            }
        }

        Assert.Equal(-1f, destination[^1]);
    }

    [Fact]
    public void Regroup_numbers_capsules_type_major_with_channel_k_as_type_k_div_dims()
    {
        // Paper: 36 positions, 32 types × 8 dims. channelsLast[pos][k] = pos·1000 + k.
        const int positions = 36, types = 32, dims = 8;
        float[] channelsLast = new float[positions * types * dims];
        for (int pos = 0; pos < positions; pos++)
            for (int k = 0; k < types * dims; k++)
                channelsLast[pos * types * dims + k] = pos * 1000 + k;
        var capsules = new float[channelsLast.Length];
        CapsuleRegroup.Run(channelsLast, positions, types, dims, capsules);
        for (int i = 0; i < types * positions; i++)
        {
            int type = i / positions, pos = i % positions;
            for (int t = 0; t < dims; t++)
            {
                Assert.Equal(pos * 1000 + type * dims + t, capsules[i * dims + t]);
            }
        }
    }

    [Fact]
    public void Wrong_lengths_throw_naming_the_expected_length()
    {
        var shortSource = Assert.Throws<ArgumentException>(() => Transpose.Run(new float[11], 3, 4, new float[12]));
        Assert.Contains("12", shortSource.Message);
        Assert.Throws<ArgumentException>(() => Transpose.Run(new float[12], 3, 4, new float[11]));
        var shortCapsules = Assert.Throws<ArgumentException>(() => CapsuleRegroup.Run(new float[64], 4, 2, 8, new float[63]));
        Assert.Contains("64", shortCapsules.Message);
    }

    [Fact]
    public void Layout_kernels_allocate_nothing()
    {
        float[] a = new float[400 * 256], b = new float[400 * 256];
        Allocations.AssertNone(() => Transpose.Run(a, 400, 256, b));
        Allocations.AssertNone(() => CapsuleRegroup.Run(a, 36, 32, 8, b));
    }
}
