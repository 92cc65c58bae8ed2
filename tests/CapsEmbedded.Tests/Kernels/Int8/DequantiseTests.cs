using CapsEmbedded.Kernels.Int8;

namespace CapsEmbedded.Tests.Kernels.Int8;

/// <summary>Dequantise against the plain loop: one float multiply and one add per element, so the same bits on every width.</summary>
public sealed class DequantiseTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(36, 256)]
    [InlineData(5, 33)]
    public void Equals_the_scalar_rule_bit_for_bit(int rows, int n)
    {
        var random = new Random(rows * 100 + n);
        var acc = new int[rows * n];
        for (int k = 0; k < acc.Length; k++) acc[k] = random.Next(-2_000_000, 2_000_000);
        var multiplier = new float[n];
        var bias = new float[n];
        for (int j = 0; j < n; j++)
        {
            multiplier[j] = (float)(random.NextDouble() * 1e-5);
            bias[j] = (float)(random.NextDouble() - 0.5);
        }
        var output = new float[rows * n];
        Dequantise.Run(acc, rows, n, multiplier, bias, output);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
            {
                float expected = acc[r * n + j] * multiplier[j] + bias[j];
                Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(output[r * n + j]));
            }
        Assert.Throws<ArgumentException>(() => Dequantise.Run(acc, rows, n, multiplier, bias, new float[rows * n - 1]));
    }
}
