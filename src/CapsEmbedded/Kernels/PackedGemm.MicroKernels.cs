// The register tiles, written once over the vector type and specialised per tier by the JIT (generic arguments that are
// structs get their own code, and the F32xN members inline to single instructions); the loop nest around them is
// PackedGemm.Drive. Each accumulator is its own local so that the JIT keeps all of them in registers.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CapsEmbedded.Kernels;

public static partial class PackedGemm
{
    /// <summary>
    /// AVX-512, 6×32 register tile over two adjacent panels (twelve 16-wide accumulators). A lone last panel and the
    /// leftover rows use the AVX2 forms of <see cref="Gemm6x16Fma3"/>: every lane sums in the same order either way.
    /// </summary>
    internal readonly struct Gemm6x32Avx512 : IGemmMicroKernel<Gemm6x32Avx512>
    {
        public static int Rows => 6;

        public static int Panels => 2;

        public static bool WideScan => true;

        public static void Tile<TColumns>(ref float a, nuint lda, ref float b, nuint panelStride, ref int columns, nuint count,
            ref float c, nuint ldc, ref float bias, BlockFlags flags) where TColumns : struct, IKColumns =>
            Gemm6x2v<Vector512<float>, F32x16, TColumns>(ref a, lda, ref b, panelStride, ref columns, count, ref c, ldc, ref bias, flags);

        public static void TileOnePanel<TColumns>(ref float a, nuint lda, ref float b, ref int columns, nuint count,
            ref float c, nuint ldc, ref float bias, BlockFlags flags) where TColumns : struct, IKColumns =>
            Gemm6x16Fma3.TileOnePanel<TColumns>(ref a, lda, ref b, ref columns, count, ref c, ldc, ref bias, flags);

        public static void Row(ref float a, ref float b, nuint kc, ref float c, ref float bias, BlockFlags flags) =>
            Gemm6x16Fma3.Row(ref a, ref b, kc, ref c, ref bias, flags);
    }

    /// <summary>AVX2 + FMA3, 6×16 register tile: one panel as two 8-wide halves (m = 36 = 6 × 6 in the primary capsules).</summary>
    internal readonly struct Gemm6x16Fma3 : IGemmMicroKernel<Gemm6x16Fma3>
    {
        public static int Rows => 6;

        public static bool WideScan => true;

        public static void TileOnePanel<TColumns>(ref float a, nuint lda, ref float b, ref int columns, nuint count,
            ref float c, nuint ldc, ref float bias, BlockFlags flags) where TColumns : struct, IKColumns =>
            Gemm6x2v<Vector256<float>, F32x8, TColumns>(ref a, lda, ref b, 8, ref columns, count, ref c, ldc, ref bias, flags);

        public static void Row(ref float a, ref float b, nuint kc, ref float c, ref float bias, BlockFlags flags) =>
            Gemm1x2v<Vector256<float>, F32x8>(ref a, ref b, kc, ref c, ref bias, flags);
    }

    /// <summary>
    /// 128-bit (NEON on ARM64, SSE on x64), 2×32 register tile over two adjacent panels (sixteen 4-wide accumulators). Two
    /// rows, not four: the primary conv skips a column only where every row of the tile is zero, which on digits leaves
    /// 2-row tiles far fewer columns per row than 4-row ones (bench/arm/README.md), while two panels keep 16 multiply-adds
    /// per column for the eight B loads. A lone last panel takes the 2×16 form; every lane sums in the same order either way.
    /// </summary>
    internal readonly struct Gemm2x32Simd128 : IGemmMicroKernel<Gemm2x32Simd128>
    {
        public static int Rows => 2;

        public static int Panels => 2;

        public static void Tile<TColumns>(ref float a, nuint lda, ref float b, nuint panelStride, ref int columns, nuint count,
            ref float c, nuint ldc, ref float bias, BlockFlags flags) where TColumns : struct, IKColumns =>
            Gemm2x8v<Vector128<float>, F32x4, TColumns>(ref a, lda, ref b, panelStride, ref columns, count, ref c, ldc, ref bias, flags);

        public static void TileOnePanel<TColumns>(ref float a, nuint lda, ref float b, ref int columns, nuint count,
            ref float c, nuint ldc, ref float bias, BlockFlags flags) where TColumns : struct, IKColumns =>
            Gemm2x4v<Vector128<float>, F32x4, TColumns>(ref a, lda, ref b, ref columns, count, ref c, ldc, ref bias, flags);

        public static void Row(ref float a, ref float b, nuint kc, ref float c, ref float bias, BlockFlags flags) =>
            Gemm1x4v<Vector128<float>, F32x4>(ref a, ref b, kc, ref c, ref bias, flags);
    }

    /// <summary>
    /// C[6 × 2 vectors] (+)= A[6 × kc] · B[kc × 2 vectors] over the <paramref name="count"/> k columns
    /// <typeparamref name="TColumns"/> names (all kc of the block, or the ones where A is not zero): per column kk two
    /// loads of B's panel row kk (the second <paramref name="bSecond"/> floats after the first: the next half of a panel,
    /// or the next panel), six broadcasts of A[i][kk] and twelve multiply-adds into the accumulators c{row}_{vector}.
    /// C and the bias hold the two vectors contiguously.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gemm6x2v<TVec, TOps, TColumns>(ref float a, nuint lda, ref float b, nuint bSecond,
        ref int columns, nuint count, ref float c, nuint ldc, ref float bias, BlockFlags flags)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
        where TColumns : struct, IKColumns
    {
        nuint w = TOps.Count;
        ref float cRow0 = ref c;
        ref float cRow1 = ref Unsafe.Add(ref c, 1 * ldc);
        ref float cRow2 = ref Unsafe.Add(ref c, 2 * ldc);
        ref float cRow3 = ref Unsafe.Add(ref c, 3 * ldc);
        ref float cRow4 = ref Unsafe.Add(ref c, 4 * ldc);
        ref float cRow5 = ref Unsafe.Add(ref c, 5 * ldc);
        TVec c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1;
        if (flags.First)
        {
            c0_0 = c0_1 = c1_0 = c1_1 = c2_0 = c2_1 = c3_0 = c3_1 = c4_0 = c4_1 = c5_0 = c5_1 = TOps.Zero;
        }
        else
        {
            c0_0 = TOps.Load(ref cRow0, 0); c0_1 = TOps.Load(ref cRow0, w);
            c1_0 = TOps.Load(ref cRow1, 0); c1_1 = TOps.Load(ref cRow1, w);
            c2_0 = TOps.Load(ref cRow2, 0); c2_1 = TOps.Load(ref cRow2, w);
            c3_0 = TOps.Load(ref cRow3, 0); c3_1 = TOps.Load(ref cRow3, w);
            c4_0 = TOps.Load(ref cRow4, 0); c4_1 = TOps.Load(ref cRow4, w);
            c5_0 = TOps.Load(ref cRow5, 0); c5_1 = TOps.Load(ref cRow5, w);
        }

        ref float aRow0 = ref a;
        ref float aRow1 = ref Unsafe.Add(ref a, 1 * lda);
        ref float aRow2 = ref Unsafe.Add(ref a, 2 * lda);
        ref float aRow3 = ref Unsafe.Add(ref a, 3 * lda);
        ref float aRow4 = ref Unsafe.Add(ref a, 4 * lda);
        ref float aRow5 = ref Unsafe.Add(ref a, 5 * lda);
        for (nuint j = 0; j < count; j++)
        {
            // One line per tile row: broadcast A[row][kk], multiply-add it with both B vectors of panel row kk.
            nuint kk = TColumns.At(ref columns, j);
            ref float bRow = ref Unsafe.Add(ref b, kk * PanelWidth);
            TVec b0 = TOps.Load(ref bRow, 0), b1 = TOps.Load(ref bRow, bSecond);
            TVec a0 = TOps.Broadcast(Unsafe.Add(ref aRow0, kk)); c0_0 = TOps.MultiplyAdd(a0, b0, c0_0); c0_1 = TOps.MultiplyAdd(a0, b1, c0_1);
            TVec a1 = TOps.Broadcast(Unsafe.Add(ref aRow1, kk)); c1_0 = TOps.MultiplyAdd(a1, b0, c1_0); c1_1 = TOps.MultiplyAdd(a1, b1, c1_1);
            TVec a2 = TOps.Broadcast(Unsafe.Add(ref aRow2, kk)); c2_0 = TOps.MultiplyAdd(a2, b0, c2_0); c2_1 = TOps.MultiplyAdd(a2, b1, c2_1);
            TVec a3 = TOps.Broadcast(Unsafe.Add(ref aRow3, kk)); c3_0 = TOps.MultiplyAdd(a3, b0, c3_0); c3_1 = TOps.MultiplyAdd(a3, b1, c3_1);
            TVec a4 = TOps.Broadcast(Unsafe.Add(ref aRow4, kk)); c4_0 = TOps.MultiplyAdd(a4, b0, c4_0); c4_1 = TOps.MultiplyAdd(a4, b1, c4_1);
            TVec a5 = TOps.Broadcast(Unsafe.Add(ref aRow5, kk)); c5_0 = TOps.MultiplyAdd(a5, b0, c5_0); c5_1 = TOps.MultiplyAdd(a5, b1, c5_1);
        }

        if (flags.Last)
        {
            TVec bias0 = TOps.Load(ref bias, 0);
            TVec bias1 = TOps.Load(ref bias, w);
            c0_0 = TOps.Add(c0_0, bias0); c0_1 = TOps.Add(c0_1, bias1);
            c1_0 = TOps.Add(c1_0, bias0); c1_1 = TOps.Add(c1_1, bias1);
            c2_0 = TOps.Add(c2_0, bias0); c2_1 = TOps.Add(c2_1, bias1);
            c3_0 = TOps.Add(c3_0, bias0); c3_1 = TOps.Add(c3_1, bias1);
            c4_0 = TOps.Add(c4_0, bias0); c4_1 = TOps.Add(c4_1, bias1);
            c5_0 = TOps.Add(c5_0, bias0); c5_1 = TOps.Add(c5_1, bias1);
            if (flags.Relu)
            {
                c0_0 = TOps.Relu(c0_0); c0_1 = TOps.Relu(c0_1);
                c1_0 = TOps.Relu(c1_0); c1_1 = TOps.Relu(c1_1);
                c2_0 = TOps.Relu(c2_0); c2_1 = TOps.Relu(c2_1);
                c3_0 = TOps.Relu(c3_0); c3_1 = TOps.Relu(c3_1);
                c4_0 = TOps.Relu(c4_0); c4_1 = TOps.Relu(c4_1);
                c5_0 = TOps.Relu(c5_0); c5_1 = TOps.Relu(c5_1);
            }
        }

        TOps.Store(c0_0, ref cRow0, 0); TOps.Store(c0_1, ref cRow0, w);
        TOps.Store(c1_0, ref cRow1, 0); TOps.Store(c1_1, ref cRow1, w);
        TOps.Store(c2_0, ref cRow2, 0); TOps.Store(c2_1, ref cRow2, w);
        TOps.Store(c3_0, ref cRow3, 0); TOps.Store(c3_1, ref cRow3, w);
        TOps.Store(c4_0, ref cRow4, 0); TOps.Store(c4_1, ref cRow4, w);
        TOps.Store(c5_0, ref cRow5, 0); TOps.Store(c5_1, ref cRow5, w);
    }

    /// <summary>
    /// C[2 × 8 vectors] (+)= A[2 × kc] · B[kc × 8 vectors] (two 16-wide panels of 4-lane vectors, the second
    /// <paramref name="bSecond"/> floats after the first; C and the bias hold the 32 columns contiguously) over the
    /// <paramref name="count"/> k columns <typeparamref name="TColumns"/> names: per column kk eight loads of B, the two
    /// values A[i][kk] and sixteen multiply-adds by them (NEON: FMLA by element, no DUP) into the accumulators
    /// c{row}_{vector}. All loads come first, then the multiply-adds one B vector at a time, so that an in-order core (A53,
    /// A55) never waits on a load it has just issued. Each accumulator takes one fused multiply-add per column, in column order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gemm2x8v<TVec, TOps, TColumns>(ref float a, nuint lda, ref float b, nuint bSecond, ref int columns, nuint count,
        ref float c, nuint ldc, ref float bias, BlockFlags flags)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
        where TColumns : struct, IKColumns
    {
        nuint w = TOps.Count;
        ref float cRow0 = ref c;
        ref float cRow1 = ref Unsafe.Add(ref c, ldc);
        TVec c0_0, c0_1, c0_2, c0_3, c0_4, c0_5, c0_6, c0_7, c1_0, c1_1, c1_2, c1_3, c1_4, c1_5, c1_6, c1_7;
        if (flags.First)
        {
            c0_0 = c0_1 = c0_2 = c0_3 = c0_4 = c0_5 = c0_6 = c0_7 = TOps.Zero;
            c1_0 = c1_1 = c1_2 = c1_3 = c1_4 = c1_5 = c1_6 = c1_7 = TOps.Zero;
        }
        else
        {
            c0_0 = TOps.Load(ref cRow0, 0); c0_1 = TOps.Load(ref cRow0, w); c0_2 = TOps.Load(ref cRow0, 2 * w); c0_3 = TOps.Load(ref cRow0, 3 * w);
            c0_4 = TOps.Load(ref cRow0, 4 * w); c0_5 = TOps.Load(ref cRow0, 5 * w); c0_6 = TOps.Load(ref cRow0, 6 * w); c0_7 = TOps.Load(ref cRow0, 7 * w);
            c1_0 = TOps.Load(ref cRow1, 0); c1_1 = TOps.Load(ref cRow1, w); c1_2 = TOps.Load(ref cRow1, 2 * w); c1_3 = TOps.Load(ref cRow1, 3 * w);
            c1_4 = TOps.Load(ref cRow1, 4 * w); c1_5 = TOps.Load(ref cRow1, 5 * w); c1_6 = TOps.Load(ref cRow1, 6 * w); c1_7 = TOps.Load(ref cRow1, 7 * w);
        }

        ref float aRow0 = ref a;
        ref float aRow1 = ref Unsafe.Add(ref a, lda);
        ref float bPanel1 = ref Unsafe.Add(ref b, bSecond);
        for (nuint j = 0; j < count; j++)
        {
            nuint kk = TColumns.At(ref columns, j);
            TVec a0 = TOps.LoadLane0(ref aRow0, kk), a1 = TOps.LoadLane0(ref aRow1, kk);
            ref float bRow0 = ref Unsafe.Add(ref b, kk * PanelWidth);
            ref float bRow1 = ref Unsafe.Add(ref bPanel1, kk * PanelWidth);
            TVec b0 = TOps.Load(ref bRow0, 0), b1 = TOps.Load(ref bRow0, w), b2 = TOps.Load(ref bRow0, 2 * w), b3 = TOps.Load(ref bRow0, 3 * w);
            TVec b4 = TOps.Load(ref bRow1, 0), b5 = TOps.Load(ref bRow1, w), b6 = TOps.Load(ref bRow1, 2 * w), b7 = TOps.Load(ref bRow1, 3 * w);
            c0_0 = TOps.MultiplyAddLane0(a0, b0, c0_0); c1_0 = TOps.MultiplyAddLane0(a1, b0, c1_0);
            c0_1 = TOps.MultiplyAddLane0(a0, b1, c0_1); c1_1 = TOps.MultiplyAddLane0(a1, b1, c1_1);
            c0_2 = TOps.MultiplyAddLane0(a0, b2, c0_2); c1_2 = TOps.MultiplyAddLane0(a1, b2, c1_2);
            c0_3 = TOps.MultiplyAddLane0(a0, b3, c0_3); c1_3 = TOps.MultiplyAddLane0(a1, b3, c1_3);
            c0_4 = TOps.MultiplyAddLane0(a0, b4, c0_4); c1_4 = TOps.MultiplyAddLane0(a1, b4, c1_4);
            c0_5 = TOps.MultiplyAddLane0(a0, b5, c0_5); c1_5 = TOps.MultiplyAddLane0(a1, b5, c1_5);
            c0_6 = TOps.MultiplyAddLane0(a0, b6, c0_6); c1_6 = TOps.MultiplyAddLane0(a1, b6, c1_6);
            c0_7 = TOps.MultiplyAddLane0(a0, b7, c0_7); c1_7 = TOps.MultiplyAddLane0(a1, b7, c1_7);
        }

        if (flags.Last)
        {
            TVec bias0 = TOps.Load(ref bias, 0), bias1 = TOps.Load(ref bias, w), bias2 = TOps.Load(ref bias, 2 * w), bias3 = TOps.Load(ref bias, 3 * w);
            TVec bias4 = TOps.Load(ref bias, 4 * w), bias5 = TOps.Load(ref bias, 5 * w), bias6 = TOps.Load(ref bias, 6 * w), bias7 = TOps.Load(ref bias, 7 * w);
            c0_0 = TOps.Add(c0_0, bias0); c0_1 = TOps.Add(c0_1, bias1); c0_2 = TOps.Add(c0_2, bias2); c0_3 = TOps.Add(c0_3, bias3);
            c0_4 = TOps.Add(c0_4, bias4); c0_5 = TOps.Add(c0_5, bias5); c0_6 = TOps.Add(c0_6, bias6); c0_7 = TOps.Add(c0_7, bias7);
            c1_0 = TOps.Add(c1_0, bias0); c1_1 = TOps.Add(c1_1, bias1); c1_2 = TOps.Add(c1_2, bias2); c1_3 = TOps.Add(c1_3, bias3);
            c1_4 = TOps.Add(c1_4, bias4); c1_5 = TOps.Add(c1_5, bias5); c1_6 = TOps.Add(c1_6, bias6); c1_7 = TOps.Add(c1_7, bias7);
            if (flags.Relu)
            {
                c0_0 = TOps.Relu(c0_0); c0_1 = TOps.Relu(c0_1); c0_2 = TOps.Relu(c0_2); c0_3 = TOps.Relu(c0_3);
                c0_4 = TOps.Relu(c0_4); c0_5 = TOps.Relu(c0_5); c0_6 = TOps.Relu(c0_6); c0_7 = TOps.Relu(c0_7);
                c1_0 = TOps.Relu(c1_0); c1_1 = TOps.Relu(c1_1); c1_2 = TOps.Relu(c1_2); c1_3 = TOps.Relu(c1_3);
                c1_4 = TOps.Relu(c1_4); c1_5 = TOps.Relu(c1_5); c1_6 = TOps.Relu(c1_6); c1_7 = TOps.Relu(c1_7);
            }
        }

        TOps.Store(c0_0, ref cRow0, 0); TOps.Store(c0_1, ref cRow0, w); TOps.Store(c0_2, ref cRow0, 2 * w); TOps.Store(c0_3, ref cRow0, 3 * w);
        TOps.Store(c0_4, ref cRow0, 4 * w); TOps.Store(c0_5, ref cRow0, 5 * w); TOps.Store(c0_6, ref cRow0, 6 * w); TOps.Store(c0_7, ref cRow0, 7 * w);
        TOps.Store(c1_0, ref cRow1, 0); TOps.Store(c1_1, ref cRow1, w); TOps.Store(c1_2, ref cRow1, 2 * w); TOps.Store(c1_3, ref cRow1, 3 * w);
        TOps.Store(c1_4, ref cRow1, 4 * w); TOps.Store(c1_5, ref cRow1, 5 * w); TOps.Store(c1_6, ref cRow1, 6 * w); TOps.Store(c1_7, ref cRow1, 7 * w);
    }

    /// <summary>
    /// C[2 × 4 vectors] (+)= A[2 × kc] · B[kc × 4 vectors] (one panel): <see cref="Gemm2x8v{TVec, TOps, TColumns}"/> on a
    /// lone last panel, the same operations per lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gemm2x4v<TVec, TOps, TColumns>(ref float a, nuint lda, ref float b, ref int columns, nuint count,
        ref float c, nuint ldc, ref float bias, BlockFlags flags)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
        where TColumns : struct, IKColumns
    {
        nuint w = TOps.Count;
        ref float cRow0 = ref c;
        ref float cRow1 = ref Unsafe.Add(ref c, ldc);
        TVec c0_0, c0_1, c0_2, c0_3, c1_0, c1_1, c1_2, c1_3;
        if (flags.First)
        {
            c0_0 = c0_1 = c0_2 = c0_3 = c1_0 = c1_1 = c1_2 = c1_3 = TOps.Zero;
        }
        else
        {
            c0_0 = TOps.Load(ref cRow0, 0); c0_1 = TOps.Load(ref cRow0, w); c0_2 = TOps.Load(ref cRow0, 2 * w); c0_3 = TOps.Load(ref cRow0, 3 * w);
            c1_0 = TOps.Load(ref cRow1, 0); c1_1 = TOps.Load(ref cRow1, w); c1_2 = TOps.Load(ref cRow1, 2 * w); c1_3 = TOps.Load(ref cRow1, 3 * w);
        }

        ref float aRow0 = ref a;
        ref float aRow1 = ref Unsafe.Add(ref a, lda);
        for (nuint j = 0; j < count; j++)
        {
            nuint kk = TColumns.At(ref columns, j);
            TVec a0 = TOps.LoadLane0(ref aRow0, kk), a1 = TOps.LoadLane0(ref aRow1, kk);
            ref float bRow = ref Unsafe.Add(ref b, kk * PanelWidth);
            TVec b0 = TOps.Load(ref bRow, 0), b1 = TOps.Load(ref bRow, w), b2 = TOps.Load(ref bRow, 2 * w), b3 = TOps.Load(ref bRow, 3 * w);
            c0_0 = TOps.MultiplyAddLane0(a0, b0, c0_0); c1_0 = TOps.MultiplyAddLane0(a1, b0, c1_0);
            c0_1 = TOps.MultiplyAddLane0(a0, b1, c0_1); c1_1 = TOps.MultiplyAddLane0(a1, b1, c1_1);
            c0_2 = TOps.MultiplyAddLane0(a0, b2, c0_2); c1_2 = TOps.MultiplyAddLane0(a1, b2, c1_2);
            c0_3 = TOps.MultiplyAddLane0(a0, b3, c0_3); c1_3 = TOps.MultiplyAddLane0(a1, b3, c1_3);
        }

        if (flags.Last)
        {
            TVec bias0 = TOps.Load(ref bias, 0), bias1 = TOps.Load(ref bias, w), bias2 = TOps.Load(ref bias, 2 * w), bias3 = TOps.Load(ref bias, 3 * w);
            c0_0 = TOps.Add(c0_0, bias0); c0_1 = TOps.Add(c0_1, bias1); c0_2 = TOps.Add(c0_2, bias2); c0_3 = TOps.Add(c0_3, bias3);
            c1_0 = TOps.Add(c1_0, bias0); c1_1 = TOps.Add(c1_1, bias1); c1_2 = TOps.Add(c1_2, bias2); c1_3 = TOps.Add(c1_3, bias3);
            if (flags.Relu)
            {
                c0_0 = TOps.Relu(c0_0); c0_1 = TOps.Relu(c0_1); c0_2 = TOps.Relu(c0_2); c0_3 = TOps.Relu(c0_3);
                c1_0 = TOps.Relu(c1_0); c1_1 = TOps.Relu(c1_1); c1_2 = TOps.Relu(c1_2); c1_3 = TOps.Relu(c1_3);
            }
        }

        TOps.Store(c0_0, ref cRow0, 0); TOps.Store(c0_1, ref cRow0, w); TOps.Store(c0_2, ref cRow0, 2 * w); TOps.Store(c0_3, ref cRow0, 3 * w);
        TOps.Store(c1_0, ref cRow1, 0); TOps.Store(c1_1, ref cRow1, w); TOps.Store(c1_2, ref cRow1, 2 * w); TOps.Store(c1_3, ref cRow1, 3 * w);
    }

    /// <summary>
    /// C[1 × 2 vectors] (+)= A[1 × kc] · B[kc × 2 vectors] (both vectors in one panel), k unrolled by four into
    /// independent accumulators s{kk mod 4}_{vector} so that a GEMV is not bound by FMA latency.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gemm1x2v<TVec, TOps>(ref float a, ref float b, nuint kc, ref float c, ref float bias, BlockFlags flags)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        nuint w = TOps.Count;
        TVec s0_0 = flags.First ? TOps.Zero : TOps.Load(ref c, 0);
        TVec s0_1 = flags.First ? TOps.Zero : TOps.Load(ref c, w);
        TVec s1_0 = TOps.Zero, s1_1 = TOps.Zero, s2_0 = TOps.Zero, s2_1 = TOps.Zero, s3_0 = TOps.Zero, s3_1 = TOps.Zero;
        nuint kk = 0;
        for (; kk + 4 <= kc; kk += 4)
        {
            TVec x0 = TOps.Broadcast(Unsafe.Add(ref a, kk + 0));
            s0_0 = TOps.MultiplyAdd(x0, TOps.Load(ref b, 0), s0_0);
            s0_1 = TOps.MultiplyAdd(x0, TOps.Load(ref b, w), s0_1);
            TVec x1 = TOps.Broadcast(Unsafe.Add(ref a, kk + 1));
            s1_0 = TOps.MultiplyAdd(x1, TOps.Load(ref b, PanelWidth), s1_0);
            s1_1 = TOps.MultiplyAdd(x1, TOps.Load(ref b, PanelWidth + w), s1_1);
            TVec x2 = TOps.Broadcast(Unsafe.Add(ref a, kk + 2));
            s2_0 = TOps.MultiplyAdd(x2, TOps.Load(ref b, 2 * PanelWidth), s2_0);
            s2_1 = TOps.MultiplyAdd(x2, TOps.Load(ref b, 2 * PanelWidth + w), s2_1);
            TVec x3 = TOps.Broadcast(Unsafe.Add(ref a, kk + 3));
            s3_0 = TOps.MultiplyAdd(x3, TOps.Load(ref b, 3 * PanelWidth), s3_0);
            s3_1 = TOps.MultiplyAdd(x3, TOps.Load(ref b, 3 * PanelWidth + w), s3_1);
            b = ref Unsafe.Add(ref b, 4 * PanelWidth);
        }

        for (; kk < kc; kk++)
        {
            TVec x = TOps.Broadcast(Unsafe.Add(ref a, kk));
            s0_0 = TOps.MultiplyAdd(x, TOps.Load(ref b, 0), s0_0);
            s0_1 = TOps.MultiplyAdd(x, TOps.Load(ref b, w), s0_1);
            b = ref Unsafe.Add(ref b, PanelWidth);
        }

        TVec sum0 = TOps.Add(TOps.Add(s0_0, s1_0), TOps.Add(s2_0, s3_0));
        TVec sum1 = TOps.Add(TOps.Add(s0_1, s1_1), TOps.Add(s2_1, s3_1));
        if (flags.Last)
        {
            sum0 = TOps.Add(sum0, TOps.Load(ref bias, 0));
            sum1 = TOps.Add(sum1, TOps.Load(ref bias, w));
            if (flags.Relu)
            {
                sum0 = TOps.Relu(sum0);
                sum1 = TOps.Relu(sum1);
            }
        }

        TOps.Store(sum0, ref c, 0);
        TOps.Store(sum1, ref c, w);
    }

    /// <summary>
    /// C[1 × 4 vectors] (+)= A[1 × kc] · B[kc × 4 vectors] (one panel of 4-lane vectors), k unrolled by two into
    /// independent accumulators s{kk mod 2}_{vector}: eight accumulators, as many as the two-vector form has.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gemm1x4v<TVec, TOps>(ref float a, ref float b, nuint kc, ref float c, ref float bias, BlockFlags flags)
        where TVec : struct
        where TOps : struct, IFloatVector<TVec>
    {
        nuint w = TOps.Count;
        TVec s0_0 = TOps.Zero, s0_1 = TOps.Zero, s0_2 = TOps.Zero, s0_3 = TOps.Zero;
        if (!flags.First)
        {
            s0_0 = TOps.Load(ref c, 0); s0_1 = TOps.Load(ref c, w); s0_2 = TOps.Load(ref c, 2 * w); s0_3 = TOps.Load(ref c, 3 * w);
        }

        TVec s1_0 = TOps.Zero, s1_1 = TOps.Zero, s1_2 = TOps.Zero, s1_3 = TOps.Zero;
        nuint kk = 0;
        for (; kk + 2 <= kc; kk += 2)
        {
            TVec x0 = TOps.Broadcast(Unsafe.Add(ref a, kk + 0));
            s0_0 = TOps.MultiplyAdd(x0, TOps.Load(ref b, 0), s0_0); s0_1 = TOps.MultiplyAdd(x0, TOps.Load(ref b, w), s0_1);
            s0_2 = TOps.MultiplyAdd(x0, TOps.Load(ref b, 2 * w), s0_2); s0_3 = TOps.MultiplyAdd(x0, TOps.Load(ref b, 3 * w), s0_3);
            TVec x1 = TOps.Broadcast(Unsafe.Add(ref a, kk + 1));
            s1_0 = TOps.MultiplyAdd(x1, TOps.Load(ref b, PanelWidth), s1_0);
            s1_1 = TOps.MultiplyAdd(x1, TOps.Load(ref b, PanelWidth + w), s1_1);
            s1_2 = TOps.MultiplyAdd(x1, TOps.Load(ref b, PanelWidth + 2 * w), s1_2);
            s1_3 = TOps.MultiplyAdd(x1, TOps.Load(ref b, PanelWidth + 3 * w), s1_3);
            b = ref Unsafe.Add(ref b, 2 * PanelWidth);
        }

        if (kk < kc)
        {
            TVec x = TOps.Broadcast(Unsafe.Add(ref a, kk));
            s0_0 = TOps.MultiplyAdd(x, TOps.Load(ref b, 0), s0_0); s0_1 = TOps.MultiplyAdd(x, TOps.Load(ref b, w), s0_1);
            s0_2 = TOps.MultiplyAdd(x, TOps.Load(ref b, 2 * w), s0_2); s0_3 = TOps.MultiplyAdd(x, TOps.Load(ref b, 3 * w), s0_3);
        }

        TVec sum0 = TOps.Add(s0_0, s1_0), sum1 = TOps.Add(s0_1, s1_1), sum2 = TOps.Add(s0_2, s1_2), sum3 = TOps.Add(s0_3, s1_3);
        if (flags.Last)
        {
            sum0 = TOps.Add(sum0, TOps.Load(ref bias, 0)); sum1 = TOps.Add(sum1, TOps.Load(ref bias, w));
            sum2 = TOps.Add(sum2, TOps.Load(ref bias, 2 * w)); sum3 = TOps.Add(sum3, TOps.Load(ref bias, 3 * w));
            if (flags.Relu)
            {
                sum0 = TOps.Relu(sum0); sum1 = TOps.Relu(sum1); sum2 = TOps.Relu(sum2); sum3 = TOps.Relu(sum3);
            }
        }

        TOps.Store(sum0, ref c, 0); TOps.Store(sum1, ref c, w); TOps.Store(sum2, ref c, 2 * w); TOps.Store(sum3, ref c, 3 * w);
    }
}
