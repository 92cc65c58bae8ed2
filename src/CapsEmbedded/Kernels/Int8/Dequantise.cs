using System.Numerics;

namespace CapsEmbedded.Kernels.Int8;

/// <summary>
/// The int8 GEMM's exact int32 sums back to float conv outputs: output[r][j] = acc[r][j] · multiplier[j] + bias[j]
/// (multiplier = s_a·s_w[j]). One multiply and one add per element in every path, so rows split over threads give the
/// same bits.
/// </summary>
public static class Dequantise
{
    /// <summary>Dequantises <paramref name="rows"/> rows of <paramref name="n"/> sums.</summary>
    public static void Run(ReadOnlySpan<int> acc, int rows, int n, ReadOnlySpan<float> multiplier, ReadOnlySpan<float> bias,
        Span<float> output)
    {
        KernelArguments.RequireLength(acc.Length, (long)rows * n, nameof(acc), "rows·n");
        KernelArguments.RequireLength(output.Length, (long)rows * n, nameof(output), "rows·n");
        KernelArguments.RequireLength(multiplier.Length, n, nameof(multiplier), "n");
        KernelArguments.RequireLength(bias.Length, n, nameof(bias), "n");
        for (int r = 0; r < rows; r++)
        {
            var a = acc.Slice(r * n, n);
            var o = output.Slice(r * n, n);
            int j = 0;
            if (Vector.IsHardwareAccelerated)
                for (; j <= n - Vector<int>.Count; j += Vector<int>.Count)
                    (Vector.ConvertToSingle(new Vector<int>(a[j..])) * new Vector<float>(multiplier[j..]) + new Vector<float>(bias[j..])).CopyTo(o[j..]);
            for (; j < n; j++) o[j] = a[j] * multiplier[j] + bias[j];
        }
    }
}
