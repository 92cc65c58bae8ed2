using CapsEmbedded.Kernels;

namespace CapsEmbedded.TierProbe;

/// <summary>A kernel's or the trainer's result outside its tolerance of the oracle (KernelSelfCheck, TrainingSelfCheck).</summary>
internal sealed class KernelCheckException(string message) : Exception(message);

/// <summary>
/// Every kernel against a plain double-accumulating oracle, in one place: the xunit tests call these per shape, and
/// the probe runs <see cref="RunAll"/> in child processes whose tier is limited by DOTNET_Enable* switches.
/// One source compiled into both (linked by CapsEmbedded.TierProbe and CapsEmbedded.Tests, internal to each); its
/// namespace is the probe's, which both refer to.
/// </summary>
/// <remarks>
/// Tolerances. A float dot product of length k with FMA or separate rounding has error ≤ k·ε·Σ|a_i b_i| in the worst
/// case (ε = 2⁻²⁴ ≈ 6e-8 per rounding) and about √k·ε·Σ|a_i b_i| for data like ours, whatever the summation order (tiers
/// sum in different orders: blocks of k, k unrolled into several accumulators, FMA or not). We allow
/// <see cref="GemmRelative"/>·(√k + 1)·(Σ|a_i b_i| + |bias|), about 16√k ε: loose enough for any order, tight enough that
/// one wrong or missing term (|a b| ≥ 1e-3 of the sum for our data) fails. Sigmoid (slope ≤ 1/4) adds MathF.Exp's
/// own rounding, <see cref="SigmoidAbsolute"/>.
/// </remarks>
internal static class KernelSelfCheck
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
        foreach (var (m, n, k) in Shapes(GemmRows, GemmColumns, GemmDepths))
        {
            variant++;
            Gemm(tier, m, n, k, (Activation)(variant % 3), withBias: variant % 2 == 0, seed: (ulong)variant);
            checks++;
        }

        foreach (var (m, n, k) in LargeGemmShapes)
        {
            foreach (Activation activation in Enum.GetValues<Activation>())
            {
                Gemm(tier, m, n, k, activation, withBias: true, seed: (ulong)(m * 31 + n * 7 + k));
                checks++;
            }
        }

        foreach (var (m, n, k) in LargeGemmShapes)
        {
            foreach (double zeroShare in SparseShares)
            {
                Gemm(tier, m, n, k, Activation.Relu, withBias: true, seed: (ulong)(m * 37 + k), zeroShare);
                checks++;
            }
        }

        foreach (int n in new[] { 40, 48 })
        {
            foreach (double zeroShare in new[] { 0.0, 0.5, 0.95 })
            {
                GemmColumnOrder(tier, n, zeroShare, seed: (ulong)(n + (int)(zeroShare * 100)));
                checks++;
            }
        }

        foreach (var (c, h, w, kernel, stride) in Im2ColShapes)
        {
            Im2Col(c, h, w, kernel, stride, seed: (ulong)(c + h + kernel));
            checks++;
        }

        foreach (int dims in CapsuleDims)
        {
            foreach (int count in new[] { 0, 1, 3, 1152 })
            {
                Squash(tier, count, dims, scale: 1f, seed: (ulong)(dims * 100 + count));
                Squash(tier, count, dims, scale: 0.01f, seed: (ulong)dims);
                Squash(tier, count, dims, scale: 1e17f, seed: (ulong)dims);
                CapsuleLengths(tier, count, dims, seed: (ulong)dims);
                checks += 4;
            }
        }

        foreach (var (n, j, d, p) in TransformShapes)
        {
            CapsuleTransform(tier, n, j, d, p, seed: (ulong)(n + j + d + p));
            checks++;
        }

        foreach (var (n, j, d, p, seed) in TransformCases())
        {
            QuantizedTransform(tier, n, j, d, p, seed);
            checks++;
        }

        foreach (int p in new[] { 1, 3, 8, 9 })
        {
            TransformChunks(tier, p, seed: (ulong)p);
            checks++;
        }

        foreach (var (n, j, d) in RoutingShapes)
        {
            for (int iterations = 1; iterations <= 3; iterations++)
            {
                Routing(tier, n, j, d, iterations, scale: 1f, seed: (ulong)(n + j + d + iterations));
                checks++;
            }
        }

        WidenHalf(tier);
        checks++;

        checks += HalfWeightsSelfCheck.RunAll(tier);
        checks += EfficientKernelSelfCheck.RunAll(tier);
        return checks;
    }

    /// <summary>Every (m, n, k) of the three lists, m outermost and k innermost (the order the checks' seeds follow).</summary>
    public static IEnumerable<(int M, int N, int K)> Shapes(int[] rows, int[] columns, int[] depths)
    {
        foreach (int m in rows)
        {
            foreach (int n in columns)
            {
                foreach (int k in depths)
                {
                    yield return (m, n, k);
                }
            }
        }
    }

    /// <summary>Shapes that cross several k blocks, GEMV, and the paper's layers scaled down in k.</summary>
    public static readonly (int M, int N, int K)[] LargeGemmShapes =
    [
        (36, 40, 2000), (7, 17, 2000), (13, 33, 1031), (1, 784, 1024), (1, 512, 160), (1, 100, 2000), (400, 256, 81), (36, 256, 700),
    ];

    /// <summary>Shares of zeros in A for the sparse GEMM checks (1: every column zero, the result is act(bias)).</summary>
    public static readonly double[] SparseShares = [0.5, 0.9, 1.0];

    /// <summary>Im2Col shapes: conv1 and primary capsules of the paper, the tiny network, odd sizes and strides.</summary>
    public static readonly (int C, int H, int W, int Kernel, int Stride)[] Im2ColShapes =
    [
        (1, 28, 28, 9, 1), (16, 20, 20, 9, 2), (1, 10, 10, 3, 1), (4, 8, 8, 3, 2), (3, 7, 5, 2, 3), (2, 5, 9, 5, 1), (1, 1, 1, 1, 1), (3, 6, 6, 6, 4),
    ];

    /// <summary>
    /// Random A, B, bias; compares PackedGemm.Multiply on <paramref name="tier"/> with the double oracle. With
    /// <paramref name="zeroShare"/> &gt; 0 that share of A's values is zero, and as many whole k columns are, so that the
    /// SIMD tiers take their zero-column lists (PackedGemm.ZeroColumns.cs) as they do on conv1's ReLU output.
    /// </summary>
    public static void Gemm(SimdTier tier, int m, int n, int k, Activation activation, bool withBias, ulong seed,
        double zeroShare = 0)
    {
        var random = new DeterministicRandom(seed);
        float[] a = Random(random, m * k, -1f, 1f);
        ZeroSome(a, m, k, zeroShare, random);

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

    /// <summary>
    /// The order of every tier's sums, bit for bit: on rows that fill whole register tiles (m = <see cref="PackedGemm.RowGranule"/>),
    /// each output of PackedGemm.Multiply must be one multiply-add per k column in column order from zero (fused on the
    /// SIMD tiers where the hardware fuses, as F32xN do; the scalar loop's <c>sum += a·b</c> elsewhere), then + bias, then
    /// ReLU — whatever the tile's shape, k blocks, listed zero columns (<paramref name="zeroShare"/>) or partial last panel.
    /// A tile that sums in another order (or a row through the 1-row kernel's split chains) changes bits here.
    /// </summary>
    public static void GemmColumnOrder(SimdTier tier, int n, double zeroShare, ulong seed)
    {
        const int M = PackedGemm.RowGranule, K = 600; // three k blocks, the last one partial
        var random = new DeterministicRandom(seed);
        float[] a = Random(random, M * K, -1f, 1f);
        ZeroSome(a, M, K, zeroShare, random);
        float[] b = Random(random, n * K, -1f, 1f);
        float[] bias = Random(random, n, -1f, 1f);
        var packed = new float[PackedGemm.PackedLength(n, K)];
        PackedGemm.Pack(b, n, K, packed);
        var c = new float[M * n];
        PackedGemm.Multiply(a, M, K, packed, n, bias, Activation.Relu, c, tier);
        bool fused = tier != SimdTier.Scalar && (tier != SimdTier.Vector128
            || System.Runtime.Intrinsics.Arm.AdvSimd.Arm64.IsSupported || System.Runtime.Intrinsics.X86.Fma.IsSupported);
        for (int i = 0; i < M; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0f;
                for (int kk = 0; kk < K; kk++)
                {
                    float x = a[i * K + kk], y = b[j * K + kk];
                    sum = fused ? MathF.FusedMultiplyAdd(x, y, sum) : sum + x * y;
                }

                float expected = MathF.Max(sum + bias[j], 0f);
                if (BitConverter.SingleToInt32Bits(c[i * n + j]) != BitConverter.SingleToInt32Bits(expected))
                {
                    throw new KernelCheckException($"PackedGemm {tier} m={M} n={n} k={K} zeros {zeroShare}: C[{i},{j}] = {c[i * n + j]:R}, " +
                        $"one {(fused ? "fused " : "")}multiply-add per column in column order gives {expected:R}.");
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

    /// <summary>Capsule dims: 1..20 (every remainder of 16-, 8- and 4-wide vectors) and 32.</summary>
    public static readonly int[] CapsuleDims = [.. Enumerable.Range(1, 20), 32];

    /// <summary>
    /// Zeroes about <paramref name="share"/> of the m×k matrix <paramref name="a"/>'s values, then as many of its whole k
    /// columns, drawing from <paramref name="random"/> (nothing for share 0): the zero columns the GEMMs skip (float and int8).
    /// </summary>
    public static void ZeroSome<T>(T[] a, int m, int k, double share, DeterministicRandom random) where T : struct
    {
        if (share <= 0) return;
        for (int i = 0; i < a.Length; i++)
        {
            if (random.NextDouble() < share) a[i] = default;
        }

        for (int kk = 0; kk < k; kk++)
        {
            if (random.NextDouble() >= share) continue;
            for (int i = 0; i < m; i++) a[i * k + kk] = default;
        }
    }

    /// <summary>
    /// The squash tests' grid (both squashes): every capsule dims, 0..37 vectors, and scales from |s|² subnormal (1e-20)
    /// to |s|² overflowing float (1e20, the double path), each with its seed.
    /// </summary>
    public static IEnumerable<(int Count, int Dims, float Scale, ulong Seed)> SquashCases()
    {
        foreach (int dims in CapsuleDims)
            foreach (int count in new[] { 0, 1, 2, 5, 37 })
                foreach (float scale in new[] { 1f, 0.05f, 30f, 1e-20f, 1e17f, 1e20f })
                    yield return (count, dims, scale, (ulong)(dims * 7 + count));
    }

    /// <summary>û shapes (N, J, D, P): the paper's 1152 × 10 × 16 × 8, the tiny network, odd dims.</summary>
    public static readonly (int N, int J, int D, int P)[] TransformShapes =
    [
        (1152, 10, 16, 8), (18, 3, 4, 4), (0, 10, 16, 8), (5, 2, 7, 3), (3, 4, 13, 5), (2, 3, 32, 9), (4, 1, 1, 1), (7, 5, 24, 16),
    ];

    /// <summary>The transform tests' cases (float32 W and F16 W): each of <see cref="TransformShapes"/> with its seed.</summary>
    public static IEnumerable<(int N, int J, int D, int P, ulong Seed)> TransformCases() =>
        TransformShapes.Select(s => (s.N, s.J, s.D, s.P, (ulong)(s.N * s.J + s.D * s.P)));

    /// <summary>Routing shapes (N, J, D): the paper, the tiny network, odd dims, a single capsule.</summary>
    public static readonly (int N, int J, int D)[] RoutingShapes =
    [
        (1152, 10, 16), (18, 3, 4), (0, 10, 16), (1, 1, 1), (5, 4, 7), (40, 7, 13), (100, 10, 8), (3, 2, 32),
    ];

    /// <summary>
    /// Squash (eq. 1) against the double formula. Components uniform in ±scale (a third of the vectors all zero).
    /// Tolerance 2e-6·|v|: |s|² is a sum of at most 32 squares (≤ 32ε relative), then sqrt and one division.
    /// </summary>
    /// <summary>
    /// WeightPrecision.WidenHalf on <paramref name="tier"/> against <c>(float)Half</c>, bit for bit: all 65,536 F16 values
    /// (subnormals, ±0, ±Inf, signalling and quiet NaNs) from an odd byte offset, then every length 0..100 (whole vectors,
    /// the overlapping last one, the narrower tiers' and the scalar remainders) with nothing written past the end.
    /// </summary>
    public static void WidenHalf(SimdTier tier)
    {
        var bytes = new byte[2 * 65536 + 1];
        for (int h = 0; h < 65536; h++) BitConverter.TryWriteBytes(bytes.AsSpan(1 + 2 * h), (ushort)(h * 40503)); // every value, shuffled
        var widened = new float[65536 + 1];
        foreach (int length in Enumerable.Range(0, 101).Append(65536))
        {
            widened.AsSpan().Fill(-7f);
            CapsEmbedded.Weights.WeightPrecision.WidenHalf(bytes.AsSpan(1, 2 * length), widened.AsSpan(0, length), tier);
            for (int i = 0; i < length; i++)
            {
                ushort h = BitConverter.ToUInt16(bytes, 1 + 2 * i);
                uint expected = BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf(h));
                uint actual = BitConverter.SingleToUInt32Bits(widened[i]);
                if (actual != expected)
                    throw new KernelCheckException($"WidenHalf {tier} length={length}: F16 0x{h:X4} became 0x{actual:X8}, (float)Half is 0x{expected:X8}.");
            }
            if (widened[length] != -7f) throw new KernelCheckException($"WidenHalf {tier} length={length} wrote past its output.");
        }
    }

    public static void Squash(SimdTier tier, int count, int dims, float scale, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] s = Random(random, count * dims + 1, -scale, scale);
        for (int index = 0; index < count; index += 3)
        {
            Array.Clear(s, index * dims, dims);
        }

        float canary = s[^1];
        float[] v = (float[])s.Clone();
        Kernels.Squash.Run(v, count, dims, tier);
        if (v[^1] != canary)
        {
            throw new KernelCheckException($"Squash {tier} count={count} dims={dims} wrote past its vectors.");
        }

        for (int index = 0; index < count; index++)
        {
            double squaredNorm = 0;
            for (int t = 0; t < dims; t++)
            {
                squaredNorm += (double)s[index * dims + t] * s[index * dims + t];
            }

            double factor = squaredNorm == 0 ? 0 : Math.Sqrt(squaredNorm) / (1 + squaredNorm);
            double tolerance = 2e-6 * Math.Sqrt(squaredNorm) * factor + 1e-38;
            for (int t = 0; t < dims; t++)
            {
                double expected = s[index * dims + t] * factor;
                float actual = v[index * dims + t];
                bool ok = squaredNorm == 0 ? actual == 0f : Math.Abs(actual - expected) <= tolerance;
                if (!ok)
                {
                    throw new KernelCheckException(
                        $"Squash {tier} count={count} dims={dims} scale={scale}: v[{index}][{t}] = {actual}, expected {expected} ± {tolerance}.");
                }
            }
        }
    }

    /// <summary>|v_j| against double; tolerance 1e-6 relative (a sum of ≤ 32 squares and a square root).</summary>
    public static void CapsuleLengths(SimdTier tier, int j, int d, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] v = Random(random, j * d, -1f, 1f);
        var lengths = new float[j + 1];
        lengths[^1] = 7f;
        Kernels.CapsuleLengths.Run(v, j, d, lengths, tier);
        Require(lengths[^1] == 7f, $"CapsuleLengths {tier} j={j} d={d} wrote past its output.");
        for (int capsule = 0; capsule < j; capsule++)
        {
            double squaredNorm = 0;
            for (int t = 0; t < d; t++) squaredNorm += (double)v[capsule * d + t] * v[capsule * d + t];
            double expected = Math.Sqrt(squaredNorm);
            Require(Math.Abs(lengths[capsule] - expected) <= 1e-6 * expected + 1e-38,
                $"CapsuleLengths {tier} j={j} d={d}: |v[{capsule}]| = {lengths[capsule]}, expected {expected}.");
        }
    }

    /// <summary>
    /// û_{j|i} = W_ij u_i (eq. 2) after PackWeights, against double. Tolerance as for GEMM with k = p:
    /// <see cref="GemmRelative"/>·(√p + 1)·Σ_p |W u|.
    /// </summary>
    public static void CapsuleTransform(SimdTier tier, int n, int j, int d, int p, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] u = Random(random, n * p, -1f, 1f);
        float[] w = Random(random, n * j * d * p, -1f, 1f);
        var packed = new float[w.Length];
        Kernels.CapsuleTransform.PackWeights(w, n, j, d, p, packed);
        var uHat = new float[n * j * d + 1];
        uHat[^1] = 3f;
        Kernels.CapsuleTransform.Run(u, packed, n, j, d, p, uHat, tier);
        Require(uHat[^1] == 3f, $"CapsuleTransform {tier} n={n} j={j} d={d} p={p} wrote past its output.");
        for (int i = 0; i < n; i++)
        for (int jj = 0; jj < j; jj++)
        for (int row = 0; row < d; row++)
        {
            double sum = 0, magnitude = 0;
            for (int q = 0; q < p; q++)
            {
                double product = (double)w[((i * j + jj) * d + row) * p + q] * u[i * p + q];
                sum += product;
                magnitude += Math.Abs(product);
            }

            double tolerance = GemmRelative * (Math.Sqrt(p) + 1) * magnitude + 1e-30;
            float actual = uHat[(i * j + jj) * d + row];
            Require(Math.Abs(actual - sum) <= tolerance,
                $"CapsuleTransform {tier} n={n} j={j} d={d} p={p}: û[{i}][{jj}][{row}] = {actual}, expected {sum} ± {tolerance}.");
        }
    }

    /// <summary>
    /// û with int8 W (<see cref="Kernels.Int8.QuantizedTransform"/>) against its rule, bit for bit on every tier: per output
    /// acc = fma(u[p], q[p][t], acc) over p in order from 0, then acc · s_ij. u holds zeros and values up to 1e3, q ±127.
    /// </summary>
    public static void QuantizedTransform(SimdTier tier, int n, int j, int d, int p, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] u = Random(random, n * p, -1f, 1f);
        for (int k = 0; k < u.Length; k++) u[k] = k % 5 == 0 ? 0f : k % 3 == 0 ? u[k] * 1e3f : u[k];
        float[] noise = Random(random, n * j * d * p, -127.49f, 127.49f);
        var q = new sbyte[noise.Length];
        for (int k = 0; k < q.Length; k++) q[k] = k % 11 == 0 ? (sbyte)127 : k % 13 == 0 ? (sbyte)-127 : (sbyte)MathF.Round(noise[k]);
        float[] scales = Random(random, n * j, 1e-4f, 1e-2f);
        var uHat = new float[n * j * d + 1];
        uHat[^1] = 3f;
        Kernels.Int8.QuantizedTransform.Run(u, q, scales, n, j, d, p, uHat, tier);
        Require(uHat[^1] == 3f, $"QuantizedTransform {tier} n={n} j={j} d={d} p={p} wrote past its output.");
        for (int ij = 0; ij < n * j; ij++)
        for (int t = 0; t < d; t++)
        {
            float acc = 0f;
            for (int r = 0; r < p; r++) acc = MathF.FusedMultiplyAdd(u[ij / j * p + r], q[(ij * p + r) * d + t], acc);
            float expected = acc * scales[ij];
            float actual = uHat[ij * d + t];
            Require(BitConverter.SingleToInt32Bits(actual) == BitConverter.SingleToInt32Bits(expected),
                $"QuantizedTransform {tier} n={n} j={j} d={d} p={p}: û[{ij / j}][{ij % j}][{t}] = {actual}, the rule gives {expected}.");
        }
    }

    /// <summary>
    /// CapsuleTransform (VectorMath.WeightedSum) with d = four vectors of the tier against the same W split into two halves
    /// of two vectors, bit for bit: the four-chain pass over the rows must sum each lane exactly as the two-chain pass
    /// does (the same fused multiply-adds in the same order), so the NEON û and routing keep their bits.
    /// </summary>
    public static void TransformChunks(SimdTier tier, int p, ulong seed)
    {
        int lanes = tier switch { SimdTier.Vector512 => 16, SimdTier.Vector256 => 8, SimdTier.Vector128 => 4, _ => 1 };
        int d = 4 * lanes, half = 2 * lanes, n = 3, j = 2;
        var random = new DeterministicRandom(seed);
        float[] u = Random(random, n * p, -1f, 1f);
        float[] w = Random(random, n * j * d * p, -1f, 1f);
        float[] uHat = Transform(w, d);
        float[] top = Transform(Rows(0), half), bottom = Transform(Rows(half), half);
        for (int ij = 0; ij < n * j; ij++)
        for (int row = 0; row < d; row++)
        {
            float expected = row < half ? top[ij * half + row] : bottom[ij * half + row - half];
            float actual = uHat[ij * d + row];
            Require(BitConverter.SingleToUInt32Bits(actual) == BitConverter.SingleToUInt32Bits(expected),
                $"CapsuleTransform {tier} d={d} p={p}: û[{ij}][{row}] = {actual}, the two-vector halves give {expected}.");
        }

        float[] Rows(int first) // W_ij's rows first..first+half, every ij, in PackWeights' input layout
        {
            var rows = new float[n * j * half * p];
            for (int ij = 0; ij < n * j; ij++)
            {
                w.AsSpan((ij * d + first) * p, half * p).CopyTo(rows.AsSpan(ij * half * p));
            }

            return rows;
        }

        float[] Transform(float[] weights, int dims)
        {
            var packed = new float[weights.Length];
            Kernels.CapsuleTransform.PackWeights(weights, n, j, dims, p, packed);
            var result = new float[n * j * dims];
            Kernels.CapsuleTransform.Run(u, packed, n, j, dims, p, result, tier);
            return result;
        }
    }

    /// <summary>
    /// Routing (Procedure 1) against a double implementation of the same procedure, û uniform in ±scale/√d.
    /// Tolerance on v and c: 2e-6·√N per iteration + 1e-6. s_j sums N float terms (error ~√N ε relative to Σ|c û|),
    /// squash keeps it, and each agreement update carries it into the next iteration's logits and couplings.
    /// </summary>
    public static void Routing(SimdTier tier, int n, int j, int d, int iterations, float scale, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float bound = scale / MathF.Sqrt(d);
        float[] uHat = Random(random, n * j * d, -bound, bound);
        RoutingWith(tier, uHat, n, j, d, iterations);
    }

    /// <summary>Routing on the given û against the double oracle (see <see cref="Routing"/>).</summary>
    public static void RoutingWith(SimdTier tier, float[] uHat, int n, int j, int d, int iterations)
    {
        var logits = new float[n * j];
        var coupling = new float[n * j + 1];
        var v = new float[j * d + 1];
        coupling[^1] = 5f;
        v[^1] = 5f;
        Kernels.Routing.Run(uHat, n, j, d, iterations, logits, coupling, v, tier);
        Require(coupling[^1] == 5f && v[^1] == 5f, $"Routing {tier} n={n} j={j} d={d} wrote past its outputs.");

        var (expectedV, expectedC) = RoutingOracle(uHat, n, j, d, iterations);
        double tolerance = 2e-6 * Math.Sqrt(n) * iterations + 1e-6;
        for (int t = 0; t < j * d; t++)
        {
            Require(Math.Abs(v[t] - expectedV[t]) <= tolerance,
                $"Routing {tier} n={n} j={j} d={d} r={iterations}: v[{t / d}][{t % d}] = {v[t]}, expected {expectedV[t]} ± {tolerance}.");
        }

        for (int t = 0; t < n * j; t++)
        {
            Require(Math.Abs(coupling[t] - expectedC[t]) <= tolerance,
                $"Routing {tier} n={n} j={j} d={d} r={iterations}: c[{t / j}][{t % j}] = {coupling[t]}, expected {expectedC[t]} ± {tolerance}.");
        }
    }

    /// <summary>Procedure 1 in double, written as plainly as the paper states it.</summary>
    public static (double[] V, double[] C) RoutingOracle(float[] uHat, int n, int j, int d, int iterations)
    {
        var b = new double[n * j];
        var c = new double[n * j];
        var v = new double[j * d];
        for (int r = 0; r < iterations; r++)
        {
            for (int i = 0; i < n; i++)
            {
                double max = double.NegativeInfinity, sum = 0;
                for (int jj = 0; jj < j; jj++) max = Math.Max(max, b[i * j + jj]);
                for (int jj = 0; jj < j; jj++) sum += c[i * j + jj] = Math.Exp(b[i * j + jj] - max);
                for (int jj = 0; jj < j; jj++) c[i * j + jj] /= sum;
            }

            Array.Clear(v);
            for (int i = 0; i < n; i++)
            for (int jj = 0; jj < j; jj++)
            for (int t = 0; t < d; t++)
                v[jj * d + t] += c[i * j + jj] * uHat[(i * j + jj) * d + t];

            for (int jj = 0; jj < j; jj++)
            {
                double squaredNorm = 0;
                for (int t = 0; t < d; t++) squaredNorm += v[jj * d + t] * v[jj * d + t];
                double factor = squaredNorm == 0 ? 0 : Math.Sqrt(squaredNorm) / (1 + squaredNorm);
                for (int t = 0; t < d; t++) v[jj * d + t] *= factor;
            }

            if (r == iterations - 1) break;
            for (int i = 0; i < n; i++)
            for (int jj = 0; jj < j; jj++)
            for (int t = 0; t < d; t++)
                b[i * j + jj] += uHat[(i * j + jj) * d + t] * v[jj * d + t];
        }

        return (v, c);
    }

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new KernelCheckException(message);
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
