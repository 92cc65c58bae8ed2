using CapsEmbedded.Kernels;
using CapsEmbedded.Reference;

namespace CapsEmbedded.TierProbe;

/// <summary>
/// Efficient-CapsNet's kernels (WinogradConvolution, DepthwiseConvolution, EfficientSquash, SelfAttentionRouting) against oracles, per tier:
/// the xunit tests call these per shape and <see cref="KernelSelfCheck.RunAll"/> runs <see cref="RunAll"/>, so the
/// forced-tier child processes and the qemu arm64 probe check them too. Tolerances are stated per check.
/// </summary>
internal static class EfficientKernelSelfCheck
{
    /// <summary>(C, side, K): channel counts with every vector tail (16/8/4 lanes), K = side, and the MNIST 9×9×128 layer.</summary>
    public static readonly (int Channels, int Side, int Kernel)[] DepthwiseShapes =
        [(1, 1, 1), (3, 5, 3), (8, 4, 3), (17, 6, 2), (33, 3, 3), (20, 10, 9), (128, 9, 9)];

    /// <summary>
    /// (C, H, W, N) of Winograd F(2×2, 3×3): channel counts with every vector tail, one output tile, non-square maps, output
    /// channels past a panel, and MNIST's stem.1 (24×24×32 → 64) and stem.2 (22×22×64 → 64).
    /// </summary>
    public static readonly (int Channels, int Height, int Width, int Outputs)[] WinogradShapes =
        [(1, 4, 4, 1), (3, 6, 8, 5), (8, 4, 10, 16), (17, 8, 6, 33), (4, 10, 4, 20), (32, 24, 24, 64), (64, 22, 22, 64)];

    /// <summary>(N, D_in, J, D_out): Tiny, MNIST, odd sizes.</summary>
    public static readonly (int Capsules, int Dims, int Classes, int ClassDims)[] RoutingShapes =
        [(4, 8, 3, 4), (16, 8, 10, 16), (5, 3, 2, 7), (1, 1, 1, 1), (16, 8, 10, 17), (7, 5, 4, 33)];

    /// <summary>Runs every check on <paramref name="tier"/>; returns how many ran, throws on the first failure.</summary>
    public static int RunAll(SimdTier tier)
    {
        int checks = 0;
        foreach (var (c, h, w, n) in WinogradShapes)
        {
            Winograd(tier, c, h, w, n, seed: (ulong)(c * 131 + h * 17 + w * 5 + n));
            checks++;
        }

        foreach (var (c, side, k) in DepthwiseShapes)
        {
            Depthwise(tier, c, side, k, seed: (ulong)(c * 31 + side * 7 + k));
            checks++;
        }

        foreach (int dims in KernelSelfCheck.CapsuleDims)
        {
            foreach (int count in new[] { 0, 1, 3, 37 })
            {
                foreach (float scale in new[] { 1f, 0.05f, 30f, 1e20f })
                {
                    Squash(tier, count, dims, scale, seed: (ulong)(dims * 100 + count));
                    checks++;
                }
            }
        }

        foreach (var (n, d, j, o) in RoutingShapes)
        {
            Routing(tier, n, d, j, o, seed: (ulong)(n * 1000 + d * 100 + j * 10 + o));
            checks++;
        }

        return checks;
    }

    /// <summary>
    /// Winograd F(2×2, 3×3) vs the direct convolution in double, with a bias, ReLU and a quarter of the inputs zero (as after a
    /// ReLU): the transforms add up to 4 inputs and 9 products and U is rounded once, so the bound is 4× the direct GEMM's,
    /// 4e-6·(9C + 1)·(Σ|w x| + |b|). The same layer in three parts (tile ranges, as a split image's workers take them) is
    /// the same bits, and nothing past the output is written.
    /// </summary>
    public static void Winograd(SimdTier tier, int channels, int height, int width, int outputs, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        int outH = height - 2, outW = width - 2;
        float[] input = KernelSelfCheck.Random(random, height * width * channels, -1f, 1f);
        for (int i = 0; i < input.Length; i += 4) input[i] = 0f;
        float[] weight = KernelSelfCheck.Random(random, outputs * channels * 9, -1f, 1f); // PyTorch [N][C][3][3]
        float[] bias = KernelSelfCheck.Random(random, outputs, -1f, 1f);
        float[] packed = new float[WinogradConvolution.PackedLength(outputs, channels)];
        WinogradConvolution.PackWeights(weight, outputs, channels, packed);
        int transformedLength = WinogradConvolution.TransformedLength(channels, outH, outW);
        int productsLength = WinogradConvolution.ProductsLength(outputs, outH, outW);
        float[] scratch = new float[transformedLength + productsLength];
        float[] output = new float[outH * outW * outputs + 1];
        float canary = output[^1] = 12345f;
        WinogradConvolution.Run(input, channels, height, width, packed, outputs, bias, Activation.Relu, output.AsSpan(0, output.Length - 1),
            scratch, tier);
        if (output[^1] != canary) throw new KernelCheckException($"Winograd {tier} C={channels} N={outputs} wrote past its output.");
        for (int y = 0; y < outH; y++)
        for (int x = 0; x < outW; x++)
        for (int o = 0; o < outputs; o++)
        {
            double sum = bias[o], magnitude = Math.Abs(bias[o]);
            for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++)
            for (int c = 0; c < channels; c++)
            {
                double term = (double)weight[((o * channels + c) * 3 + ky) * 3 + kx] * input[((y + ky) * width + x + kx) * channels + c];
                sum += term;
                magnitude += Math.Abs(term);
            }

            double expected = Math.Max(sum, 0), tolerance = 4 * KernelSelfCheck.GemmRelative * (9 * channels + 1) * magnitude;
            float actual = output[(y * outW + x) * outputs + o];
            if (!(Math.Abs(actual - expected) <= tolerance))
                throw new KernelCheckException(
                    $"Winograd {tier} C={channels} {height}x{width} N={outputs}: out[{y},{x},{o}] = {actual}, expected {expected} ± {tolerance}.");
        }

        // Parts as a split image's workers run them: each takes a tile range (a band of the map) through the input
        // transform, the products and the output transform; later parts first, so that a part that wrote outside its
        // tiles would be overwritten or leave NaN. Cut at RowGranule, as the generated stems cut.
        float[] split = new float[outH * outW * outputs];
        split.AsSpan().Fill(float.NaN);
        var transformed = scratch.AsSpan(0, transformedLength);
        var products = scratch.AsSpan(transformedLength, productsLength);
        transformed.Fill(float.NaN);
        products.Fill(float.NaN);
        int tiles = WinogradConvolution.Tiles(outH, outW);
        for (int part = 2; part >= 0; part--)
        {
            var (first, end) = CapsEmbedded.Runtime.BatchContext.PartRange(tiles, PackedGemm.RowGranule, part, 3);
            WinogradConvolution.TransformInputTiles(input, channels, height, width, transformed, tier, first, end);
            WinogradConvolution.MultiplyOutputTiles(transformed, channels, outH, outW, packed, outputs, bias, Activation.Relu, products, split,
                tier, first, end);
        }
        for (int t = 0; t < split.Length; t++)
            if (BitConverter.SingleToInt32Bits(split[t]) != BitConverter.SingleToInt32Bits(output[t]))
                throw new KernelCheckException($"Winograd {tier} C={channels} N={outputs}: the three-part layer differs at {t}: {split[t]} vs {output[t]}.");
    }

    /// <summary>
    /// Depthwise conv vs a double oracle on channels-last data; tolerance as <see cref="KernelSelfCheck.GemmRelative"/>
    /// (a K²-term dot product in any order): 1e-6·(K + 1)·(Σ|w x| + |b|).
    /// </summary>
    public static void Depthwise(SimdTier tier, int channels, int side, int kernel, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] input = KernelSelfCheck.Random(random, side * side * channels, -1f, 1f);
        float[] weight = KernelSelfCheck.Random(random, channels * kernel * kernel, -1f, 1f); // PyTorch [C][1][K][K]
        float[] bias = KernelSelfCheck.Random(random, channels, -1f, 1f);
        float[] packed = new float[weight.Length];
        DepthwiseConvolution.PackWeights(weight, channels, kernel, packed);
        int outSide = side - kernel + 1;
        float[] output = new float[outSide * outSide * channels + 1];
        float canary = output[^1] = 12345f;
        DepthwiseConvolution.Run(input, channels, side, kernel, packed, bias, output.AsSpan(0, output.Length - 1), tier);
        if (output[^1] != canary) throw new KernelCheckException($"Depthwise {tier} C={channels} wrote past its output.");
        for (int y = 0; y < outSide; y++)
        for (int x = 0; x < outSide; x++)
        for (int c = 0; c < channels; c++)
        {
            double sum = bias[c], magnitude = Math.Abs(bias[c]);
            for (int ky = 0; ky < kernel; ky++)
            for (int kx = 0; kx < kernel; kx++)
            {
                double term = (double)weight[(c * kernel + ky) * kernel + kx] * input[((y + ky) * side + x + kx) * channels + c];
                sum += term;
                magnitude += Math.Abs(term);
            }

            double tolerance = KernelSelfCheck.GemmRelative * (kernel + 1) * magnitude;
            float actual = output[(y * outSide + x) * channels + c];
            if (!(Math.Abs(actual - sum) <= tolerance))
                throw new KernelCheckException(
                    $"Depthwise {tier} C={channels} side={side} K={kernel}: out[{y},{x},{c}] = {actual}, expected {sum} ± {tolerance}.");
        }
    }

    /// <summary>
    /// Efficient squash vs the reference's float formula on the double-accumulated norm. Tiers sum ‖s‖² in other orders
    /// (a few ulp of ‖s‖), which moves e^‖s‖ by an ulp: 4e-6 relative plus 1.2e-7·|s_t|/‖s‖ (one ulp of 1 − 1/e^‖s‖).
    /// </summary>
    public static void Squash(SimdTier tier, int count, int dims, float scale, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] s = KernelSelfCheck.Random(random, count * dims + 1, -scale, scale);
        for (int index = 0; index < count; index += 3) Array.Clear(s, index * dims, dims);
        float canary = s[^1];
        float[] v = (float[])s.Clone();
        EfficientSquash.Run(v, count, dims, tier);
        if (v[^1] != canary) throw new KernelCheckException($"EfficientSquash {tier} count={count} dims={dims} wrote past its vectors.");
        for (int index = 0; index < count; index++)
        {
            double squaredNorm = 0;
            for (int t = 0; t < dims; t++) squaredNorm += (double)s[index * dims + t] * s[index * dims + t];
            double norm = Math.Sqrt(squaredNorm);
            float length = (float)norm;
            double factor = double.IsInfinity((float)squaredNorm)
                ? 1.0 / norm
                : (1f - 1f / (MathF.Exp(length) + EfficientSquash.Epsilon)) / (length + EfficientSquash.Epsilon);
            for (int t = 0; t < dims; t++)
            {
                double component = s[index * dims + t];
                double expected = component * factor;
                double tolerance = 4e-6 * Math.Abs(expected) + (norm > 0 ? 1.2e-7 * Math.Abs(component) / norm : 0) + 1e-38;
                float actual = v[index * dims + t];
                bool ok = squaredNorm == 0 ? actual == 0f : Math.Abs(actual - expected) <= tolerance;
                if (!ok)
                    throw new KernelCheckException(
                        $"EfficientSquash {tier} count={count} dims={dims} scale={scale}: v[{index}][{t}] = {actual}, expected {expected} ± {tolerance}.");
            }
        }
    }

    /// <summary>
    /// Self-attention routing vs <see cref="EfficientReferenceModel.SelfAttentionRouting"/> (float, plain loops). The tiers
    /// and the reference sum û, Σ_k û and the agreements in other orders; the agreements (|a| ≲ 10 for this data) carry
    /// ~1e-6 relative error into the softmax: v within 2e-5 absolute (|v| &lt; 1), c within 2e-5.
    /// </summary>
    public static void Routing(SimdTier tier, int capsules, int dims, int classes, int classDims, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        float[] x = KernelSelfCheck.Random(random, capsules * dims, -0.5f, 0.5f);
        float[] w = KernelSelfCheck.Random(random, classes * capsules * dims * classDims, -0.5f, 0.5f);
        float[] b = KernelSelfCheck.Random(random, classes * capsules, -0.2f, 0.2f);
        float[] expectedCoupling = new float[capsules * classes];
        float[] expected = new float[classes * classDims];
        EfficientReferenceModel.SelfAttentionRouting(x, w, b, capsules, dims, classes, classDims, expectedCoupling, expected);

        float[] scratch = new float[SelfAttentionRouting.ScratchLength(capsules, classes, classDims)];
        float[] actual = new float[classes * classDims];
        SelfAttentionRouting.Run(x, w, b, capsules, dims, classes, classDims, scratch, actual, tier);
        for (int k = 0; k < actual.Length; k++)
        {
            if (!(Math.Abs(actual[k] - expected[k]) <= 2e-5))
                throw new KernelCheckException(
                    $"SelfAttentionRouting {tier} N={capsules} D={dims} J={classes} O={classDims}: v[{k}] = {actual[k]}, expected {expected[k]} ± 2e-5.");
        }

        int couplingStart = classes * capsules * classDims;
        for (int k = 0; k < expectedCoupling.Length; k++)
        {
            if (!(Math.Abs(scratch[couplingStart + k] - expectedCoupling[k]) <= 2e-5))
                throw new KernelCheckException(
                    $"SelfAttentionRouting {tier} N={capsules} J={classes}: c[{k}] = {scratch[couplingStart + k]}, expected {expectedCoupling[k]} ± 2e-5.");
        }
    }
}
