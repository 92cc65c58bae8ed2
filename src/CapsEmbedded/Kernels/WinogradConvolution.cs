using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CapsEmbedded.Kernels;

/// <summary>
/// A 3×3, stride-1, valid convolution on channels-last maps as Winograd F(2×2, 3×3) (Lavin &amp; Gray 2016, "Fast
/// Algorithms for Convolutional Neural Networks"): every 2×2 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A of its 4×4 input
/// tile d, so the 9 multiply-adds per output, input channel and output channel become 16 per 2×2 tile = 4: 2.25× fewer.
/// The ⊙ summed over input channels is 16 GEMMs [tiles × C]·[C × N] on <see cref="PackedGemm"/>; the transforms are
/// additions only, vectorised across channels. Efficient-CapsNet's stem.1 (22×22 out, 32→64) and stem.2 (20×20, 64→64).
/// </summary>
/// <remarks>
/// <para>Three steps, each over a range of tiles so that workers can share one layer, each a band of the map (see
/// <see cref="TransformInputTiles"/>): the input transform V[ξ][tile][c], the products M[ξ][tile][n] =
/// Σ_c V[ξ][tile][c]·U[ξ][n][c] (ξ = 4·row + column of the 4×4 transformed tile), and the output transform with bias and
/// ReLU. Output sides must be even (<see cref="Fits"/>): every tile is whole, none is padded.</para>
/// <para>Rounding: the transforms add up to 4 (input) and 9 (output) terms and U is rounded to float once, so results differ
/// from the direct convolution by a few ulp of the magnitudes Σ|w·x|, not bit for bit. Every tier does the transforms'
/// additions in the same order with the same (unfused) operations, so they agree among themselves to the GEMM's rounding.</para>
/// </remarks>
public static class WinogradConvolution
{
    /// <summary>Points of a transformed tile (4×4), one GEMM each.</summary>
    public const int Points = 16;

    /// <summary>Whether a convolution of this kernel, stride and output size runs here: 3×3, stride 1, even output sides.</summary>
    public static bool Fits(int kernel, int stride, int outputHeight, int outputWidth) =>
        kernel == 3 && stride == 1 && outputHeight > 0 && outputWidth > 0 && outputHeight % 2 == 0 && outputWidth % 2 == 0;

    /// <summary>2×2 output tiles of an outputHeight × outputWidth map.</summary>
    public static int Tiles(int outputHeight, int outputWidth) => outputHeight / 2 * (outputWidth / 2);

    /// <summary>Floats of the transformed weights: 16 packed [N][C] matrices.</summary>
    public static int PackedLength(int outputs, int channels) => Points * PackedGemm.PackedLength(outputs, channels);

    /// <summary>Floats of V [16][tiles][C].</summary>
    public static int TransformedLength(int channels, int outputHeight, int outputWidth) =>
        Points * Tiles(outputHeight, outputWidth) * channels;

    /// <summary>Floats of M [16][tiles][N].</summary>
    public static int ProductsLength(int outputs, int outputHeight, int outputWidth) =>
        Points * Tiles(outputHeight, outputWidth) * outputs;

    /// <summary>
    /// U[ξ] = G g Gᵀ of every filter g (PyTorch's [N][C][3][3]), computed in double and rounded once, each of the 16
    /// [N][C] matrices packed for <see cref="PackedGemm"/>.
    /// </summary>
    public static void PackWeights(ReadOnlySpan<float> weight, int outputs, int channels, Span<float> packed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        KernelArguments.RequireLength(weight.Length, (long)outputs * channels * 9, nameof(weight), "N·C·3·3");
        KernelArguments.RequireLength(packed.Length, PackedLength(outputs, channels), nameof(packed), "PackedLength(N, C)");
        var u = new float[Points][];
        for (int point = 0; point < Points; point++) u[point] = new float[outputs * channels];
        Span<double> gg = stackalloc double[12];
        for (int o = 0; o < outputs; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                var g = weight.Slice((o * channels + c) * 9, 9);
                for (int column = 0; column < 3; column++)
                {
                    // G g: rows g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2.
                    double g0 = g[column], g1 = g[3 + column], g2 = g[6 + column];
                    gg[column] = g0;
                    gg[3 + column] = (g0 + g1 + g2) / 2;
                    gg[6 + column] = (g0 - g1 + g2) / 2;
                    gg[9 + column] = g2;
                }

                for (int row = 0; row < 4; row++)
                {
                    // (G g) Gᵀ, the same combination along the row.
                    double t0 = gg[row * 3], t1 = gg[row * 3 + 1], t2 = gg[row * 3 + 2];
                    u[row * 4 + 0][o * channels + c] = (float)t0;
                    u[row * 4 + 1][o * channels + c] = (float)((t0 + t1 + t2) / 2);
                    u[row * 4 + 2][o * channels + c] = (float)((t0 - t1 + t2) / 2);
                    u[row * 4 + 3][o * channels + c] = (float)t2;
                }
            }
        }

        int length = PackedGemm.PackedLength(outputs, channels);
        for (int point = 0; point < Points; point++) PackedGemm.Pack(u[point], outputs, channels, packed.Slice(point * length, length));
    }

    /// <summary>
    /// The whole layer on one thread: <paramref name="input"/> [H][W][C] → <paramref name="output"/> [H−2][W−2][N],
    /// act(conv + bias); <paramref name="scratch"/> holds V and M (<see cref="TransformedLength"/> + <see cref="ProductsLength"/>).
    /// </summary>
    public static void Run(ReadOnlySpan<float> input, int channels, int height, int width, ReadOnlySpan<float> packedWeights,
        int outputs, ReadOnlySpan<float> bias, Activation activation, Span<float> output, Span<float> scratch, SimdTier tier)
    {
        int outH = height - 2, outW = width - 2;
        int transformedLength = TransformedLength(channels, outH, outW);
        KernelArguments.RequireLength(scratch.Length, (long)transformedLength + ProductsLength(outputs, outH, outW), nameof(scratch),
            "TransformedLength + ProductsLength");
        var transformed = scratch.Slice(0, transformedLength);
        var products = scratch.Slice(transformedLength, ProductsLength(outputs, outH, outW));
        int tiles = Tiles(outH, outW);
        TransformInputTiles(input, channels, height, width, transformed, tier, 0, tiles);
        MultiplyOutputTiles(transformed, channels, outH, outW, packedWeights, outputs, bias, activation, products, output, tier, 0, tiles);
    }

    /// <summary>
    /// V[ξ][tile][c] = (Bᵀ d B)[ξ], every channel, for tiles [<paramref name="tileBegin"/>, <paramref name="tileEnd"/>)
    /// (row-major over the output's 2×2 tiles) of <paramref name="input"/> ([H][W][C]); a tile reads its 4×4 window only,
    /// so parts that take disjoint tile ranges fill V together, each reading its band of the input and a 2-row halo.
    /// </summary>
    public static void TransformInputTiles(ReadOnlySpan<float> input, int channels, int height, int width, Span<float> transformed,
        SimdTier tier, int tileBegin, int tileEnd)
    {
        int outH = height - 2, outW = width - 2;
        if (!Fits(3, 1, outH, outW)) throw new ArgumentException($"a {height}×{width} input makes a {outH}×{outW} output; F(2×2, 3×3) needs even sides.");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        CheckRange(tileBegin, tileEnd, Tiles(outH, outW), nameof(tileEnd));
        SimdTiers.ThrowIfUnsupported(tier);
        KernelArguments.RequireLength(input.Length, (long)height * width * channels, nameof(input), "H·W·C");
        KernelArguments.RequireLength(transformed.Length, TransformedLength(channels, outH, outW), nameof(transformed), "TransformedLength");
        int tilesX = outW / 2, tiles = Tiles(outH, outW);
        ref float x = ref MemoryMarshal.GetReference(input);
        ref float v = ref MemoryMarshal.GetReference(transformed);
        nuint c = (nuint)channels, rowStride = (nuint)width * c, pointStride = (nuint)tiles * c;
        for (int tile = tileBegin; tile < tileEnd; tile++)
        {
            int ty = tile / tilesX, tx = tile - ty * tilesX;
            ref float d = ref Unsafe.Add(ref x, ((nuint)(2 * ty) * (nuint)width + (nuint)(2 * tx)) * c);
            ref float vTile = ref Unsafe.Add(ref v, (nuint)tile * c);
            nuint t = 0, end = c;
            if (tier == SimdTier.Vector512) t = InputLanes<Vector512<float>, F32x16>(ref d, ref vTile, c, rowStride, pointStride, t, end);
            if (tier >= SimdTier.Vector256) t = InputLanes<Vector256<float>, F32x8>(ref d, ref vTile, c, rowStride, pointStride, t, end);
            if (tier >= SimdTier.Vector128) t = InputLanes<Vector128<float>, F32x4>(ref d, ref vTile, c, rowStride, pointStride, t, end);
            for (; t < end; t++) InputScalar(ref Unsafe.Add(ref d, t), ref Unsafe.Add(ref vTile, t), c, rowStride, pointStride);
        }
    }

    /// <summary>
    /// Tiles [<paramref name="tileBegin"/>, <paramref name="tileEnd"/>), every output channel: the 16 products
    /// M[ξ] = V[ξ]·U[ξ]ᵀ of those tiles' rows on <see cref="PackedGemm.Multiply(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Activation, Span{float}, SimdTier)"/>,
    /// then Aᵀ M A + bias and the activation into their 2×2 blocks of <paramref name="output"/> [H−2][W−2][N]. Parts that
    /// cut the tiles at multiples of <see cref="PackedGemm.RowGranule"/> keep the products' row tiles as in one call, so
    /// together they write the whole layer's bits.
    /// </summary>
    public static void MultiplyOutputTiles(ReadOnlySpan<float> transformed, int channels, int outputHeight, int outputWidth,
        ReadOnlySpan<float> packedWeights, int outputs, ReadOnlySpan<float> bias, Activation activation, Span<float> products,
        Span<float> output, SimdTier tier, int tileBegin, int tileEnd)
    {
        if (!Fits(3, 1, outputHeight, outputWidth)) throw new ArgumentException($"F(2×2, 3×3) needs even output sides, not {outputHeight}×{outputWidth}.");
        if (activation is not (Activation.None or Activation.Relu)) throw new ArgumentException($"{activation} is not supported here.", nameof(activation));
        int tiles = Tiles(outputHeight, outputWidth);
        CheckRange(tileBegin, tileEnd, tiles, nameof(tileEnd));
        int gemmLength = PackedGemm.PackedLength(outputs, channels);
        KernelArguments.RequireLength(transformed.Length, TransformedLength(channels, outputHeight, outputWidth), nameof(transformed), "TransformedLength");
        KernelArguments.RequireLength(packedWeights.Length, (long)Points * gemmLength, nameof(packedWeights), "PackedLength(N, C)");
        KernelArguments.RequireLength(products.Length, ProductsLength(outputs, outputHeight, outputWidth), nameof(products), "ProductsLength");
        KernelArguments.RequireLength(output.Length, (long)outputHeight * outputWidth * outputs, nameof(output), "(H−2)·(W−2)·N");
        if (!bias.IsEmpty) KernelArguments.RequireLength(bias.Length, outputs, nameof(bias), "N");
        int count = tileEnd - tileBegin;
        for (int point = 0; point < Points; point++)
        {
            PackedGemm.Multiply(transformed.Slice((point * tiles + tileBegin) * channels, count * channels), count, channels,
                packedWeights.Slice(point * gemmLength, gemmLength), outputs, default, Activation.None,
                products.Slice((point * tiles + tileBegin) * outputs, count * outputs), tier);
        }

        int tilesX = outputWidth / 2;
        ref float m = ref MemoryMarshal.GetReference(products);
        ref float y = ref MemoryMarshal.GetReference(output);
        ref float b = ref MemoryMarshal.GetReference(bias);
        bool relu = activation == Activation.Relu, hasBias = !bias.IsEmpty;
        nuint n = (nuint)outputs, rowStride = (nuint)outputWidth * n, pointStride = (nuint)tiles * n;
        for (int tile = tileBegin; tile < tileEnd; tile++)
        {
            int ty = tile / tilesX, tx = tile - ty * tilesX;
            ref float mTile = ref Unsafe.Add(ref m, (nuint)tile * n);
            ref float yTile = ref Unsafe.Add(ref y, ((nuint)(2 * ty) * (nuint)outputWidth + (nuint)(2 * tx)) * n);
            nuint t = 0, end = n;
            if (tier == SimdTier.Vector512) t = OutputLanes<Vector512<float>, F32x16>(ref mTile, ref yTile, ref b, hasBias, relu, n, rowStride, pointStride, t, end);
            if (tier >= SimdTier.Vector256) t = OutputLanes<Vector256<float>, F32x8>(ref mTile, ref yTile, ref b, hasBias, relu, n, rowStride, pointStride, t, end);
            if (tier >= SimdTier.Vector128) t = OutputLanes<Vector128<float>, F32x4>(ref mTile, ref yTile, ref b, hasBias, relu, n, rowStride, pointStride, t, end);
            for (; t < end; t++)
            {
                OutputScalar(ref Unsafe.Add(ref mTile, t), ref Unsafe.Add(ref yTile, t), hasBias ? Unsafe.Add(ref b, t) : 0f, relu, n,
                    rowStride, pointStride);
            }
        }
    }

    private static void CheckRange(int begin, int end, int count, string name)
    {
        if (begin < 0 || end < begin || end > count)
            throw new ArgumentOutOfRangeException(name, $"[{begin}, {end}) is not a range of [0, {count}).");
    }

    /// <summary>Bᵀ d B for lanes [t, end) in whole vectors; returns the first lane not done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint InputLanes<TVec, TOps>(ref float d, ref float v, nuint c, nuint rowStride, nuint pointStride, nuint t, nuint end)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        for (; t + TOps.Count <= end; t += TOps.Count)
        {
            ref float d0 = ref Unsafe.Add(ref d, t);
            ref float d1 = ref Unsafe.Add(ref d0, rowStride);
            ref float d2 = ref Unsafe.Add(ref d1, rowStride);
            ref float d3 = ref Unsafe.Add(ref d2, rowStride);
            ref float target = ref Unsafe.Add(ref v, t);
            // Bᵀ d: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3; then the same along each row (InputRow).
            TVec a0 = TOps.Load(ref d0, 0), a1 = TOps.Load(ref d0, c), a2 = TOps.Load(ref d0, 2 * c), a3 = TOps.Load(ref d0, 3 * c);
            TVec b0 = TOps.Load(ref d1, 0), b1 = TOps.Load(ref d1, c), b2 = TOps.Load(ref d1, 2 * c), b3 = TOps.Load(ref d1, 3 * c);
            TVec e0 = TOps.Load(ref d2, 0), e1 = TOps.Load(ref d2, c), e2 = TOps.Load(ref d2, 2 * c), e3 = TOps.Load(ref d2, 3 * c);
            InputRow<TVec, TOps>(TOps.Subtract(a0, e0), TOps.Subtract(a1, e1), TOps.Subtract(a2, e2), TOps.Subtract(a3, e3), ref target, 0, pointStride);
            InputRow<TVec, TOps>(TOps.Add(b0, e0), TOps.Add(b1, e1), TOps.Add(b2, e2), TOps.Add(b3, e3), ref target, 4, pointStride);
            InputRow<TVec, TOps>(TOps.Subtract(e0, b0), TOps.Subtract(e1, b1), TOps.Subtract(e2, b2), TOps.Subtract(e3, b3), ref target, 8, pointStride);
            TVec f0 = TOps.Load(ref d3, 0), f1 = TOps.Load(ref d3, c), f2 = TOps.Load(ref d3, 2 * c), f3 = TOps.Load(ref d3, 3 * c);
            InputRow<TVec, TOps>(TOps.Subtract(b0, f0), TOps.Subtract(b1, f1), TOps.Subtract(b2, f2), TOps.Subtract(b3, f3), ref target, 12, pointStride);
        }

        return t;
    }

    /// <summary>One row of (Bᵀ d) B: t0 − t2, t1 + t2, t2 − t1, t1 − t3 into points first.. first + 3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputRow<TVec, TOps>(TVec t0, TVec t1, TVec t2, TVec t3, ref float v, nuint first, nuint pointStride)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        TOps.Store(TOps.Subtract(t0, t2), ref v, first * pointStride);
        TOps.Store(TOps.Add(t1, t2), ref v, (first + 1) * pointStride);
        TOps.Store(TOps.Subtract(t2, t1), ref v, (first + 2) * pointStride);
        TOps.Store(TOps.Subtract(t1, t3), ref v, (first + 3) * pointStride);
    }

    /// <summary>Bᵀ d B of one channel, the same additions in the same order as the vector lanes.</summary>
    private static void InputScalar(ref float d, ref float v, nuint c, nuint rowStride, nuint pointStride)
    {
        Span<float> t = stackalloc float[16];
        for (nuint j = 0; j < 4; j++)
        {
            float a = Unsafe.Add(ref d, j * c), b = Unsafe.Add(ref d, rowStride + j * c);
            float e = Unsafe.Add(ref d, 2 * rowStride + j * c), f = Unsafe.Add(ref d, 3 * rowStride + j * c);
            t[(int)j] = a - e;
            t[4 + (int)j] = b + e;
            t[8 + (int)j] = e - b;
            t[12 + (int)j] = b - f;
        }

        for (int row = 0; row < 4; row++)
        {
            nuint first = (nuint)(4 * row);
            float t0 = t[4 * row], t1 = t[4 * row + 1], t2 = t[4 * row + 2], t3 = t[4 * row + 3];
            Unsafe.Add(ref v, first * pointStride) = t0 - t2;
            Unsafe.Add(ref v, (first + 1) * pointStride) = t1 + t2;
            Unsafe.Add(ref v, (first + 2) * pointStride) = t2 - t1;
            Unsafe.Add(ref v, (first + 3) * pointStride) = t1 - t3;
        }
    }

    /// <summary>Aᵀ m A + bias, activation, for lanes [t, end) in whole vectors; returns the first lane not done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint OutputLanes<TVec, TOps>(ref float m, ref float y, ref float bias, bool hasBias, bool relu, nuint n,
        nuint rowStride, nuint pointStride, nuint t, nuint end)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        for (; t + TOps.Count <= end; t += TOps.Count)
        {
            ref float source = ref Unsafe.Add(ref m, t);
            // Aᵀ m column by column, then (Aᵀ m) A along its two rows.
            OutputColumn<TVec, TOps>(ref source, 0, pointStride, out TVec s00, out TVec s10);
            OutputColumn<TVec, TOps>(ref source, 1, pointStride, out TVec s01, out TVec s11);
            OutputColumn<TVec, TOps>(ref source, 2, pointStride, out TVec s02, out TVec s12);
            OutputColumn<TVec, TOps>(ref source, 3, pointStride, out TVec s03, out TVec s13);
            TVec b = hasBias ? TOps.Load(ref bias, t) : TOps.Zero;
            ref float y0 = ref Unsafe.Add(ref y, t);
            ref float y1 = ref Unsafe.Add(ref y0, rowStride);
            TOps.Store(Finish<TVec, TOps>(TOps.Add(TOps.Add(s00, s01), s02), b, relu), ref y0, 0);
            TOps.Store(Finish<TVec, TOps>(TOps.Subtract(TOps.Subtract(s01, s02), s03), b, relu), ref y0, n);
            TOps.Store(Finish<TVec, TOps>(TOps.Add(TOps.Add(s10, s11), s12), b, relu), ref y1, 0);
            TOps.Store(Finish<TVec, TOps>(TOps.Subtract(TOps.Subtract(s11, s12), s13), b, relu), ref y1, n);
        }

        return t;
    }

    /// <summary>Column <paramref name="j"/> of Aᵀ m: m0 + m1 + m2 and m1 − m2 − m3 over the tile's rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputColumn<TVec, TOps>(ref float m, nuint j, nuint pointStride, out TVec top, out TVec bottom)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        TVec m0 = TOps.Load(ref m, j * pointStride), m1 = TOps.Load(ref m, (4 + j) * pointStride);
        TVec m2 = TOps.Load(ref m, (8 + j) * pointStride), m3 = TOps.Load(ref m, (12 + j) * pointStride);
        top = TOps.Add(TOps.Add(m0, m1), m2);
        bottom = TOps.Subtract(TOps.Subtract(m1, m2), m3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Finish<TVec, TOps>(TVec sum, TVec bias, bool relu)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        TVec value = TOps.Add(sum, bias);
        return relu ? TOps.Relu(value) : value;
    }

    /// <summary>Aᵀ m A + bias, activation, of one output channel, in the vector lanes' order.</summary>
    private static void OutputScalar(ref float m, ref float y, float bias, bool relu, nuint n, nuint rowStride, nuint pointStride)
    {
        Span<float> s = stackalloc float[8];
        for (nuint j = 0; j < 4; j++)
        {
            float m0 = Unsafe.Add(ref m, j * pointStride), m1 = Unsafe.Add(ref m, (4 + j) * pointStride);
            float m2 = Unsafe.Add(ref m, (8 + j) * pointStride), m3 = Unsafe.Add(ref m, (12 + j) * pointStride);
            s[(int)j] = m0 + m1 + m2;
            s[4 + (int)j] = m1 - m2 - m3;
        }

        for (int row = 0; row < 2; row++)
        {
            float left = s[4 * row] + s[4 * row + 1] + s[4 * row + 2] + bias;
            float right = s[4 * row + 1] - s[4 * row + 2] - s[4 * row + 3] + bias;
            ref float target = ref Unsafe.Add(ref y, (nuint)row * rowStride);
            target = relu ? MathF.Max(left, 0f) : left;
            Unsafe.Add(ref target, n) = relu ? MathF.Max(right, 0f) : right;
        }
    }
}
