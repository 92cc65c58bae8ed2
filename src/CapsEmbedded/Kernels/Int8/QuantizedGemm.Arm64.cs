// ARM64 micro-kernels (NEON), same loop nest and packed layout as the x64 ones: a 16-byte vector of a k group holds 4
// channels × 4 k, and each row's 4 activation bytes are broadcast into every 32-bit lane. A's bytes are in [0, 127],
// so reading them as signed (SDOT and SMULL are s8 × s8) changes nothing.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace CapsEmbedded.Kernels.Int8;

public static partial class QuantizedGemm
{
    /// <summary>
    /// 4×16 tile with SDOT (ARMv8.2 DotProd), 16 accumulators: per group four 16-byte panel loads and 16 SDOTs. Four groups
    /// at a time use SDOT by element (one 16-byte A load per row, no broadcast: a DUP would take a NEON pipe from SDOT);
    /// the remaining groups broadcast each row's 4 bytes.
    /// </summary>
    internal readonly struct Tile4x16Sdot : IInt8MicroKernel
    {
        public static int Rows => 4;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile(ref byte a, nuint lda, ref sbyte b, nuint groups, ref int c, nuint ldc, bool first)
        {
            Vector128<int> c0_0 = default, c0_1 = default, c0_2 = default, c0_3 = default;
            Vector128<int> c1_0 = default, c1_1 = default, c1_2 = default, c1_3 = default;
            Vector128<int> c2_0 = default, c2_1 = default, c2_2 = default, c2_3 = default;
            Vector128<int> c3_0 = default, c3_1 = default, c3_2 = default, c3_3 = default;
            ref byte aRow0 = ref a;
            ref byte aRow1 = ref Unsafe.Add(ref a, lda);
            ref byte aRow2 = ref Unsafe.Add(ref a, 2 * lda);
            ref byte aRow3 = ref Unsafe.Add(ref a, 3 * lda);
            nuint g = 0;
            for (; g + 4 <= groups; g += 4)
            {
                // SDOT by element: 16 activation bytes (4 groups) per row in one load, the group picked by the lane index.
                Vector128<sbyte> a0 = Vector128.LoadUnsafe(ref aRow0, 4 * g).AsSByte();
                Vector128<sbyte> a1 = Vector128.LoadUnsafe(ref aRow1, 4 * g).AsSByte();
                Vector128<sbyte> a2 = Vector128.LoadUnsafe(ref aRow2, 4 * g).AsSByte();
                Vector128<sbyte> a3 = Vector128.LoadUnsafe(ref aRow3, 4 * g).AsSByte();
                Vector128<sbyte> b0_0 = Vector128.LoadUnsafe(ref b, 0);
                Vector128<sbyte> b0_1 = Vector128.LoadUnsafe(ref b, 16);
                Vector128<sbyte> b0_2 = Vector128.LoadUnsafe(ref b, 32);
                Vector128<sbyte> b0_3 = Vector128.LoadUnsafe(ref b, 48);
                c0_0 = Dp.DotProductBySelectedQuadruplet(c0_0, b0_0, a0, 0); c0_1 = Dp.DotProductBySelectedQuadruplet(c0_1, b0_1, a0, 0);
                c0_2 = Dp.DotProductBySelectedQuadruplet(c0_2, b0_2, a0, 0); c0_3 = Dp.DotProductBySelectedQuadruplet(c0_3, b0_3, a0, 0);
                c1_0 = Dp.DotProductBySelectedQuadruplet(c1_0, b0_0, a1, 0); c1_1 = Dp.DotProductBySelectedQuadruplet(c1_1, b0_1, a1, 0);
                c1_2 = Dp.DotProductBySelectedQuadruplet(c1_2, b0_2, a1, 0); c1_3 = Dp.DotProductBySelectedQuadruplet(c1_3, b0_3, a1, 0);
                c2_0 = Dp.DotProductBySelectedQuadruplet(c2_0, b0_0, a2, 0); c2_1 = Dp.DotProductBySelectedQuadruplet(c2_1, b0_1, a2, 0);
                c2_2 = Dp.DotProductBySelectedQuadruplet(c2_2, b0_2, a2, 0); c2_3 = Dp.DotProductBySelectedQuadruplet(c2_3, b0_3, a2, 0);
                c3_0 = Dp.DotProductBySelectedQuadruplet(c3_0, b0_0, a3, 0); c3_1 = Dp.DotProductBySelectedQuadruplet(c3_1, b0_1, a3, 0);
                c3_2 = Dp.DotProductBySelectedQuadruplet(c3_2, b0_2, a3, 0); c3_3 = Dp.DotProductBySelectedQuadruplet(c3_3, b0_3, a3, 0);
                Vector128<sbyte> b1_0 = Vector128.LoadUnsafe(ref b, 64);
                Vector128<sbyte> b1_1 = Vector128.LoadUnsafe(ref b, 80);
                Vector128<sbyte> b1_2 = Vector128.LoadUnsafe(ref b, 96);
                Vector128<sbyte> b1_3 = Vector128.LoadUnsafe(ref b, 112);
                c0_0 = Dp.DotProductBySelectedQuadruplet(c0_0, b1_0, a0, 1); c0_1 = Dp.DotProductBySelectedQuadruplet(c0_1, b1_1, a0, 1);
                c0_2 = Dp.DotProductBySelectedQuadruplet(c0_2, b1_2, a0, 1); c0_3 = Dp.DotProductBySelectedQuadruplet(c0_3, b1_3, a0, 1);
                c1_0 = Dp.DotProductBySelectedQuadruplet(c1_0, b1_0, a1, 1); c1_1 = Dp.DotProductBySelectedQuadruplet(c1_1, b1_1, a1, 1);
                c1_2 = Dp.DotProductBySelectedQuadruplet(c1_2, b1_2, a1, 1); c1_3 = Dp.DotProductBySelectedQuadruplet(c1_3, b1_3, a1, 1);
                c2_0 = Dp.DotProductBySelectedQuadruplet(c2_0, b1_0, a2, 1); c2_1 = Dp.DotProductBySelectedQuadruplet(c2_1, b1_1, a2, 1);
                c2_2 = Dp.DotProductBySelectedQuadruplet(c2_2, b1_2, a2, 1); c2_3 = Dp.DotProductBySelectedQuadruplet(c2_3, b1_3, a2, 1);
                c3_0 = Dp.DotProductBySelectedQuadruplet(c3_0, b1_0, a3, 1); c3_1 = Dp.DotProductBySelectedQuadruplet(c3_1, b1_1, a3, 1);
                c3_2 = Dp.DotProductBySelectedQuadruplet(c3_2, b1_2, a3, 1); c3_3 = Dp.DotProductBySelectedQuadruplet(c3_3, b1_3, a3, 1);
                Vector128<sbyte> b2_0 = Vector128.LoadUnsafe(ref b, 128);
                Vector128<sbyte> b2_1 = Vector128.LoadUnsafe(ref b, 144);
                Vector128<sbyte> b2_2 = Vector128.LoadUnsafe(ref b, 160);
                Vector128<sbyte> b2_3 = Vector128.LoadUnsafe(ref b, 176);
                c0_0 = Dp.DotProductBySelectedQuadruplet(c0_0, b2_0, a0, 2); c0_1 = Dp.DotProductBySelectedQuadruplet(c0_1, b2_1, a0, 2);
                c0_2 = Dp.DotProductBySelectedQuadruplet(c0_2, b2_2, a0, 2); c0_3 = Dp.DotProductBySelectedQuadruplet(c0_3, b2_3, a0, 2);
                c1_0 = Dp.DotProductBySelectedQuadruplet(c1_0, b2_0, a1, 2); c1_1 = Dp.DotProductBySelectedQuadruplet(c1_1, b2_1, a1, 2);
                c1_2 = Dp.DotProductBySelectedQuadruplet(c1_2, b2_2, a1, 2); c1_3 = Dp.DotProductBySelectedQuadruplet(c1_3, b2_3, a1, 2);
                c2_0 = Dp.DotProductBySelectedQuadruplet(c2_0, b2_0, a2, 2); c2_1 = Dp.DotProductBySelectedQuadruplet(c2_1, b2_1, a2, 2);
                c2_2 = Dp.DotProductBySelectedQuadruplet(c2_2, b2_2, a2, 2); c2_3 = Dp.DotProductBySelectedQuadruplet(c2_3, b2_3, a2, 2);
                c3_0 = Dp.DotProductBySelectedQuadruplet(c3_0, b2_0, a3, 2); c3_1 = Dp.DotProductBySelectedQuadruplet(c3_1, b2_1, a3, 2);
                c3_2 = Dp.DotProductBySelectedQuadruplet(c3_2, b2_2, a3, 2); c3_3 = Dp.DotProductBySelectedQuadruplet(c3_3, b2_3, a3, 2);
                Vector128<sbyte> b3_0 = Vector128.LoadUnsafe(ref b, 192);
                Vector128<sbyte> b3_1 = Vector128.LoadUnsafe(ref b, 208);
                Vector128<sbyte> b3_2 = Vector128.LoadUnsafe(ref b, 224);
                Vector128<sbyte> b3_3 = Vector128.LoadUnsafe(ref b, 240);
                c0_0 = Dp.DotProductBySelectedQuadruplet(c0_0, b3_0, a0, 3); c0_1 = Dp.DotProductBySelectedQuadruplet(c0_1, b3_1, a0, 3);
                c0_2 = Dp.DotProductBySelectedQuadruplet(c0_2, b3_2, a0, 3); c0_3 = Dp.DotProductBySelectedQuadruplet(c0_3, b3_3, a0, 3);
                c1_0 = Dp.DotProductBySelectedQuadruplet(c1_0, b3_0, a1, 3); c1_1 = Dp.DotProductBySelectedQuadruplet(c1_1, b3_1, a1, 3);
                c1_2 = Dp.DotProductBySelectedQuadruplet(c1_2, b3_2, a1, 3); c1_3 = Dp.DotProductBySelectedQuadruplet(c1_3, b3_3, a1, 3);
                c2_0 = Dp.DotProductBySelectedQuadruplet(c2_0, b3_0, a2, 3); c2_1 = Dp.DotProductBySelectedQuadruplet(c2_1, b3_1, a2, 3);
                c2_2 = Dp.DotProductBySelectedQuadruplet(c2_2, b3_2, a2, 3); c2_3 = Dp.DotProductBySelectedQuadruplet(c2_3, b3_3, a2, 3);
                c3_0 = Dp.DotProductBySelectedQuadruplet(c3_0, b3_0, a3, 3); c3_1 = Dp.DotProductBySelectedQuadruplet(c3_1, b3_1, a3, 3);
                c3_2 = Dp.DotProductBySelectedQuadruplet(c3_2, b3_2, a3, 3); c3_3 = Dp.DotProductBySelectedQuadruplet(c3_3, b3_3, a3, 3);
                b = ref Unsafe.Add(ref b, 4 * GroupBytes);
            }

            for (; g < groups; g++)
            {
                Vector128<sbyte> b0 = Vector128.LoadUnsafe(ref b);
                Vector128<sbyte> b1 = Vector128.LoadUnsafe(ref b, 16);
                Vector128<sbyte> b2 = Vector128.LoadUnsafe(ref b, 32);
                Vector128<sbyte> b3 = Vector128.LoadUnsafe(ref b, 48);
                b = ref Unsafe.Add(ref b, GroupBytes);
                nuint ka = 4 * g;
                Vector128<sbyte> a0 = Vector128.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow0, ka))).AsSByte();
                c0_0 = Dp.DotProduct(c0_0, a0, b0); c0_1 = Dp.DotProduct(c0_1, a0, b1);
                c0_2 = Dp.DotProduct(c0_2, a0, b2); c0_3 = Dp.DotProduct(c0_3, a0, b3);
                Vector128<sbyte> a1 = Vector128.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow1, ka))).AsSByte();
                c1_0 = Dp.DotProduct(c1_0, a1, b0); c1_1 = Dp.DotProduct(c1_1, a1, b1);
                c1_2 = Dp.DotProduct(c1_2, a1, b2); c1_3 = Dp.DotProduct(c1_3, a1, b3);
                Vector128<sbyte> a2 = Vector128.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow2, ka))).AsSByte();
                c2_0 = Dp.DotProduct(c2_0, a2, b0); c2_1 = Dp.DotProduct(c2_1, a2, b1);
                c2_2 = Dp.DotProduct(c2_2, a2, b2); c2_3 = Dp.DotProduct(c2_3, a2, b3);
                Vector128<sbyte> a3 = Vector128.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow3, ka))).AsSByte();
                c3_0 = Dp.DotProduct(c3_0, a3, b0); c3_1 = Dp.DotProduct(c3_1, a3, b1);
                c3_2 = Dp.DotProduct(c3_2, a3, b2); c3_3 = Dp.DotProduct(c3_3, a3, b3);
            }

            Store(c0_0, c0_1, c0_2, c0_3, ref c, first);
            Store(c1_0, c1_1, c1_2, c1_3, ref Unsafe.Add(ref c, ldc), first);
            Store(c2_0, c2_1, c2_2, c2_3, ref Unsafe.Add(ref c, 2 * ldc), first);
            Store(c3_0, c3_1, c3_2, c3_3, ref Unsafe.Add(ref c, 3 * ldc), first);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Row(ref byte a, ref sbyte b, nuint groups, ref int c, bool first)
        {
            Vector128<int> c0 = default, c1 = default, c2 = default, c3 = default;
            for (nuint g = 0; g < groups; g++)
            {
                Vector128<sbyte> x = Vector128.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a, 4 * g))).AsSByte();
                c0 = Dp.DotProduct(c0, x, Vector128.LoadUnsafe(ref b));
                c1 = Dp.DotProduct(c1, x, Vector128.LoadUnsafe(ref b, 16));
                c2 = Dp.DotProduct(c2, x, Vector128.LoadUnsafe(ref b, 32));
                c3 = Dp.DotProduct(c3, x, Vector128.LoadUnsafe(ref b, 48));
                b = ref Unsafe.Add(ref b, GroupBytes);
            }

            Store(c0, c1, c2, c3, ref c, first);
        }
    }

    /// <summary>
    /// 2×16 tile for NEON without DotProd: SMULL/SMULL2 multiply the low/high 8 bytes of a 16-byte vector (channels
    /// 2q, 2q+1 / 2q+2, 2q+3 × 4 k) into 8 int16 (|product| ≤ 127² fits), SADALP adds adjacent pairs into int32 lanes
    /// that each hold half a channel's group; ADDP folds the halves at the end. 16 accumulators, so 2 rows.
    /// </summary>
    internal readonly struct Tile2x16Smull : IInt8MicroKernel
    {
        public static int Rows => 2;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile(ref byte a, nuint lda, ref sbyte b, nuint groups, ref int c, nuint ldc, bool first)
        {
            // c{row}_{quad}{L|H}: channels 4q, 4q+1 (L) and 4q+2, 4q+3 (H), two int32 half-sums per channel.
            Vector128<int> c0_0L = default, c0_0H = default, c0_1L = default, c0_1H = default;
            Vector128<int> c0_2L = default, c0_2H = default, c0_3L = default, c0_3H = default;
            Vector128<int> c1_0L = default, c1_0H = default, c1_1L = default, c1_1H = default;
            Vector128<int> c1_2L = default, c1_2H = default, c1_3L = default, c1_3H = default;
            ref byte aRow0 = ref a;
            ref byte aRow1 = ref Unsafe.Add(ref a, lda);
            for (nuint g = 0; g < groups; g++)
            {
                Vector128<sbyte> b0 = Vector128.LoadUnsafe(ref b);
                Vector128<sbyte> b1 = Vector128.LoadUnsafe(ref b, 16);
                Vector128<sbyte> b2 = Vector128.LoadUnsafe(ref b, 32);
                Vector128<sbyte> b3 = Vector128.LoadUnsafe(ref b, 48);
                b = ref Unsafe.Add(ref b, GroupBytes);
                nuint ka = 4 * g;
                Vector128<sbyte> a0 = Vector128.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow0, ka))).AsSByte();
                Step(ref c0_0L, ref c0_0H, a0, b0); Step(ref c0_1L, ref c0_1H, a0, b1);
                Step(ref c0_2L, ref c0_2H, a0, b2); Step(ref c0_3L, ref c0_3H, a0, b3);
                Vector128<sbyte> a1 = Vector128.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow1, ka))).AsSByte();
                Step(ref c1_0L, ref c1_0H, a1, b0); Step(ref c1_1L, ref c1_1H, a1, b1);
                Step(ref c1_2L, ref c1_2H, a1, b2); Step(ref c1_3L, ref c1_3H, a1, b3);
            }

            Store(Fold(c0_0L, c0_0H), Fold(c0_1L, c0_1H), Fold(c0_2L, c0_2H), Fold(c0_3L, c0_3H), ref c, first);
            Store(Fold(c1_0L, c1_0H), Fold(c1_1L, c1_1H), Fold(c1_2L, c1_2H), Fold(c1_3L, c1_3H), ref Unsafe.Add(ref c, ldc), first);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Row(ref byte a, ref sbyte b, nuint groups, ref int c, bool first)
        {
            Vector128<int> c0L = default, c0H = default, c1L = default, c1H = default;
            Vector128<int> c2L = default, c2H = default, c3L = default, c3H = default;
            for (nuint g = 0; g < groups; g++)
            {
                Vector128<sbyte> x = Vector128.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a, 4 * g))).AsSByte();
                Step(ref c0L, ref c0H, x, Vector128.LoadUnsafe(ref b));
                Step(ref c1L, ref c1H, x, Vector128.LoadUnsafe(ref b, 16));
                Step(ref c2L, ref c2H, x, Vector128.LoadUnsafe(ref b, 32));
                Step(ref c3L, ref c3H, x, Vector128.LoadUnsafe(ref b, 48));
                b = ref Unsafe.Add(ref b, GroupBytes);
            }

            Store(Fold(c0L, c0H), Fold(c1L, c1H), Fold(c2L, c2H), Fold(c3L, c3H), ref c, first);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Step(ref Vector128<int> low, ref Vector128<int> high, Vector128<sbyte> a, Vector128<sbyte> b)
        {
            low = AdvSimd.AddPairwiseWideningAndAdd(low, AdvSimd.MultiplyWideningLower(a.GetLower(), b.GetLower()));
            high = AdvSimd.AddPairwiseWideningAndAdd(high, AdvSimd.MultiplyWideningUpper(a, b));
        }

        /// <summary>[c4q, c4q+1, c4q+2, c4q+3] from the half-sum lanes [c4q', c4q'', c4q+1', c4q+1''] and the H ones.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<int> Fold(Vector128<int> low, Vector128<int> high) => AdvSimd.Arm64.AddPairwise(low, high);
    }

    /// <summary>C[row][0..16) = (first ? 0 : C) + the four 4-channel sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector128<int> q0, Vector128<int> q1, Vector128<int> q2, Vector128<int> q3, ref int c, bool first)
    {
        if (!first)
        {
            q0 += Vector128.LoadUnsafe(ref c);
            q1 += Vector128.LoadUnsafe(ref c, 4);
            q2 += Vector128.LoadUnsafe(ref c, 8);
            q3 += Vector128.LoadUnsafe(ref c, 12);
        }

        q0.StoreUnsafe(ref c);
        q1.StoreUnsafe(ref c, 4);
        q2.StoreUnsafe(ref c, 8);
        q3.StoreUnsafe(ref c, 12);
    }
}
