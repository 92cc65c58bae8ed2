using CapsEmbedded.Kernels;

namespace CapsEmbedded.TierProbe;

/// <summary>A kernel result outside its tolerance of the double-precision oracle.</summary>
public sealed class KernelCheckException(string message) : Exception(message);

/// <summary>
/// Every kernel against a plain double-accumulating oracle, in one place: the xunit tests call these per shape, and
/// the probe runs <see cref="RunAll"/> in child processes whose tier is limited by DOTNET_Enable* switches.
/// </summary>
/// <remarks>
/// Tolerances. A float dot product of length k with FMA or separate rounding has error ≤ k·ε·Σ|a_i b_i| in the worst
/// case (ε = 2⁻²⁴ ≈ 6e-8 per rounding) and about √k·ε·Σ|a_i b_i| for data like ours, whatever the summation order (tiers
/// sum in different orders: blocks of k, k unrolled into several accumulators, FMA or not). We allow
/// <see cref="GemmRelative"/>·(√k + 1)·(Σ|a_i b_i| + |bias|), about 16√k ε: loose enough for any order, tight enough that
/// one wrong or missing term (|a b| ≥ 1e-3 of the sum for our data) fails. Sigmoid (slope ≤ 1/4) adds MathF.Exp's
/// own rounding, <see cref="SigmoidAbsolute"/>.
/// </remarks>
public static class KernelSelfCheck
{
    /// <summary>Relative GEMM tolerance per √k, see remarks.</summary>
    public const double GemmRelative = 1e-6;

    /// <summary>Extra absolute tolerance after a sigmoid.</summary>
    public const double SigmoidAbsolute = 1e-6;

    /// <summary>m values of <see cref="RunAll"/>: 0..13 (every remainder of the 6-, 4- and 1-row kernels) and the primary-capsule 36.</summary>
    public static readonly int[] GemmRows = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 36];

    /// <summary>n values: partial panels, exact panels, odd panel counts for the two-panel kernel.</summary>
    public static readonly int[] GemmColumns = [1, 2, 7, 15, 16, 17, 31, 32, 33, 40, 48, 64];

    /// <summary>k values: tiny, unroll remainders, around the 256 k block.</summary>
    public static readonly int[] GemmDepths = [0, 1, 2, 3, 5, 8, 31, 100, 255, 256, 257, 600];

    /// <summary>Runs every self-check on <paramref name="tier"/> and returns how many ran; throws on the first failure.</summary>
    public static int RunAll(SimdTier tier)
    {
        int checks = 0;
        int variant = 0;
        foreach (int m in GemmRows)
        {
            foreach (int n in GemmColumns)
            {
                foreach (int k in GemmDepths)
                {
                    variant++;
                    Gemm(tier, m, n, k, (Activation)(variant % 3), withBias: variant % 2 == 0, seed: (ulong)variant);
                    checks++;
                }
            }
        }

        foreach (var (m, n, k) in LargeGemmShapes)
        {
            foreach (Activation activation in Enum.GetValues<Activation>())
            {
                Gemm(tier, m, n, k, activation, withBias: true, seed: (ulong)(m * 31 + n * 7 + k));
                checks++;
            }
        }

        foreach (var (c, h, w, kernel, stride) in Im2ColShapes)
        {
            Im2Col(c, h, w, kernel, stride, seed: (ulong)(c + h + kernel));
            checks++;
        }

        return checks;
    }

    /// <summary>Shapes that cross several k blocks, GEMV, and the paper's layers scaled down in k.</summary>
    public static readonly (int M, int N, int K)[] LargeGemmShapes =
    [
        (36, 40, 2000), (7, 17, 2000), (13, 33, 1031), (1, 784, 1024), (1, 512, 160), (1, 100, 2000), (400, 256, 81), (36, 256, 700),
    ];

    /// <summary>Im2Col shapes: conv1 and primary capsules of the paper, the tiny network, odd sizes and strides.</summary>
    public static readonly (int C, int H, int W, int Kernel, int Stride)[] Im2ColShapes =
    [
        (1, 28, 28, 9, 1), (16, 20, 20, 9, 2), (1, 10, 10, 3, 1), (4, 8, 8, 3, 2), (3, 7, 5, 2, 3), (2, 5, 9, 5, 1), (1, 1, 1, 1, 1), (3, 6, 6, 6, 4),
    ];

    /// <summary>Random A, B, bias; compares PackedGemm.Multiply on <paramref name="tier"/> with the double oracle.</summary>
    public static void Gemm(SimdTier tier, int m, int n, int k, Activation activation, bool withBias, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] a = Random(random, m * k, -1f, 1f);
        float[] b = Random(random, n * k, -1f, 1f);
        float[] bias = withBias ? Random(random, n, -1f, 1f) : [];
        GemmWith(tier, a, b, bias, m, n, k, activation);
    }

    /// <summary>Compares PackedGemm.Multiply on <paramref name="tier"/> with the double oracle for the given data.</summary>
    public static void GemmWith(SimdTier tier, float[] a, float[] b, float[] bias, int m, int n, int k, Activation activation)
    {
        var packed = new float[PackedGemm.PackedLength(n, k) + 3]; // + 3: Multiply must not need an exact length
        PackedGemm.Pack(b, n, k, packed);
        const float Canary = 12345.678f;
        var c = new float[m * n + 5];
        Array.Fill(c, float.NaN, 0, m * n); // Multiply must overwrite, never read, previous contents
        Array.Fill(c, Canary, m * n, 5);
        PackedGemm.Multiply(a, m, k, packed, n, bias, activation, c, tier);
        for (int i = m * n; i < c.Length; i++)
        {
            if (c[i] != Canary)
            {
                throw new KernelCheckException($"PackedGemm {tier} m={m} n={n} k={k} wrote past C at {i}.");
            }
        }

        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0, magnitude = 0;
                for (int kk = 0; kk < k; kk++)
                {
                    double product = (double)a[i * k + kk] * b[j * k + kk];
                    sum += product;
                    magnitude += Math.Abs(product);
                }

                if (bias.Length > 0)
                {
                    sum += bias[j];
                    magnitude += Math.Abs(bias[j]);
                }

                double tolerance = GemmRelative * (Math.Sqrt(k) + 1) * magnitude + 1e-30;
                double expected = activation switch
                {
                    Activation.Relu => Math.Max(sum, 0),
                    Activation.Sigmoid => 1 / (1 + Math.Exp(-sum)),
                    _ => sum,
                };
                if (activation == Activation.Sigmoid)
                {
                    tolerance = tolerance / 4 + SigmoidAbsolute;
                }

                float actual = c[i * n + j];
                if (!(Math.Abs(actual - expected) <= tolerance))
                {
                    throw new KernelCheckException(
                        $"PackedGemm {tier} m={m} n={n} k={k} {activation} bias={bias.Length > 0}: C[{i},{j}] = {actual}, " +
                        $"expected {expected} ± {tolerance}.");
                }
            }
        }
    }

    /// <summary>Im2Col against direct indexing (exact: it only copies).</summary>
    public static void Im2Col(int channels, int height, int width, int kernel, int stride, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] input = Random(random, channels * height * width, -1f, 1f);
        int outH = (height - kernel) / stride + 1;
        int outW = (width - kernel) / stride + 1;
        int rowLength = channels * kernel * kernel;
        var patches = new float[outH * outW * rowLength + 1];
        patches[^1] = 42f;
        Kernels.Im2Col.Run(input, channels, height, width, kernel, stride, patches);
        if (patches[^1] != 42f)
        {
            throw new KernelCheckException($"Im2Col {channels}×{height}×{width} k={kernel} s={stride} wrote past its output.");
        }

        for (int oy = 0; oy < outH; oy++)
        for (int ox = 0; ox < outW; ox++)
        for (int c = 0; c < channels; c++)
        for (int ky = 0; ky < kernel; ky++)
        for (int kx = 0; kx < kernel; kx++)
        {
            float expected = input[(c * height + oy * stride + ky) * width + ox * stride + kx];
            float actual = patches[(oy * outW + ox) * rowLength + (c * kernel + ky) * kernel + kx];
            if (actual != expected)
            {
                throw new KernelCheckException(
                    $"Im2Col {channels}×{height}×{width} k={kernel} s={stride}: patch ({oy},{ox}) c={c} ky={ky} kx={kx} = {actual}, expected {expected}.");
            }
        }
    }

    /// <summary>n uniform values in [low, high).</summary>
    public static float[] Random(DeterministicRandom random, int count, float low, float high)
    {
        var values = new float[count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = random.NextUniform(low, high);
        }

        return values;
    }
}
