// The register tiles are unrolled by hand, one variable per accumulator, so that the JIT keeps them all in registers;
// the loop nest around them is shared by every tier (PackedGemm.Drive).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CapsEmbedded.Kernels;

public static partial class PackedGemm
{
    /// <summary>
    /// AVX2 + FMA3 micro-kernel, 6×16 register tile: per kk two 8-wide loads of the B panel, six broadcasts of A[i][kk] and
    /// twelve fused multiply-adds into the accumulators c{row}_{8-column half} (m = 36 = 6 × 6 in the primary capsules).
    /// </summary>
    internal readonly struct Tile6x16Fma256 : IGemmMicroKernel
    {
        public static int Rows => 6;

        public static int Panels => 1;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile(ref float a, nuint lda, ref float b, nuint panelStride, nuint kc,
            ref float c, nuint ldc, ref float bias, BlockFlags flags) =>
            TileOnePanel(ref a, lda, ref b, kc, ref c, ldc, ref bias, flags);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void TileOnePanel(ref float a, nuint lda, ref float b, nuint kc,
            ref float c, nuint ldc, ref float bias, BlockFlags flags)
        {
            ref float cRow0 = ref c;
            ref float cRow1 = ref Unsafe.Add(ref c, 1 * ldc);
            ref float cRow2 = ref Unsafe.Add(ref c, 2 * ldc);
            ref float cRow3 = ref Unsafe.Add(ref c, 3 * ldc);
            ref float cRow4 = ref Unsafe.Add(ref c, 4 * ldc);
            ref float cRow5 = ref Unsafe.Add(ref c, 5 * ldc);
            Vector256<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1;
            if (flags.First)
            {
                c0_0 = Vector256<float>.Zero; c0_1 = Vector256<float>.Zero;
                c1_0 = Vector256<float>.Zero; c1_1 = Vector256<float>.Zero;
                c2_0 = Vector256<float>.Zero; c2_1 = Vector256<float>.Zero;
                c3_0 = Vector256<float>.Zero; c3_1 = Vector256<float>.Zero;
                c4_0 = Vector256<float>.Zero; c4_1 = Vector256<float>.Zero;
                c5_0 = Vector256<float>.Zero; c5_1 = Vector256<float>.Zero;
            }
            else
            {
                c0_0 = Vector256.LoadUnsafe(ref cRow0, 0); c0_1 = Vector256.LoadUnsafe(ref cRow0, 8);
                c1_0 = Vector256.LoadUnsafe(ref cRow1, 0); c1_1 = Vector256.LoadUnsafe(ref cRow1, 8);
                c2_0 = Vector256.LoadUnsafe(ref cRow2, 0); c2_1 = Vector256.LoadUnsafe(ref cRow2, 8);
                c3_0 = Vector256.LoadUnsafe(ref cRow3, 0); c3_1 = Vector256.LoadUnsafe(ref cRow3, 8);
                c4_0 = Vector256.LoadUnsafe(ref cRow4, 0); c4_1 = Vector256.LoadUnsafe(ref cRow4, 8);
                c5_0 = Vector256.LoadUnsafe(ref cRow5, 0); c5_1 = Vector256.LoadUnsafe(ref cRow5, 8);
            }

            ref float aRow0 = ref a;
            ref float aRow1 = ref Unsafe.Add(ref a, 1 * lda);
            ref float aRow2 = ref Unsafe.Add(ref a, 2 * lda);
            ref float aRow3 = ref Unsafe.Add(ref a, 3 * lda);
            ref float aRow4 = ref Unsafe.Add(ref a, 4 * lda);
            ref float aRow5 = ref Unsafe.Add(ref a, 5 * lda);
            for (nuint kk = 0; kk < kc; kk++)
            {
                Vector256<float> b0 = Vector256.LoadUnsafe(ref b, 0);
                Vector256<float> b1 = Vector256.LoadUnsafe(ref b, 8);
                Vector256<float> a0 = Vector256.Create(Unsafe.Add(ref aRow0, kk));
                c0_0 = Vector256.FusedMultiplyAdd(a0, b0, c0_0);
                c0_1 = Vector256.FusedMultiplyAdd(a0, b1, c0_1);
                Vector256<float> a1 = Vector256.Create(Unsafe.Add(ref aRow1, kk));
                c1_0 = Vector256.FusedMultiplyAdd(a1, b0, c1_0);
                c1_1 = Vector256.FusedMultiplyAdd(a1, b1, c1_1);
                Vector256<float> a2 = Vector256.Create(Unsafe.Add(ref aRow2, kk));
                c2_0 = Vector256.FusedMultiplyAdd(a2, b0, c2_0);
                c2_1 = Vector256.FusedMultiplyAdd(a2, b1, c2_1);
                Vector256<float> a3 = Vector256.Create(Unsafe.Add(ref aRow3, kk));
                c3_0 = Vector256.FusedMultiplyAdd(a3, b0, c3_0);
                c3_1 = Vector256.FusedMultiplyAdd(a3, b1, c3_1);
                Vector256<float> a4 = Vector256.Create(Unsafe.Add(ref aRow4, kk));
                c4_0 = Vector256.FusedMultiplyAdd(a4, b0, c4_0);
                c4_1 = Vector256.FusedMultiplyAdd(a4, b1, c4_1);
                Vector256<float> a5 = Vector256.Create(Unsafe.Add(ref aRow5, kk));
                c5_0 = Vector256.FusedMultiplyAdd(a5, b0, c5_0);
                c5_1 = Vector256.FusedMultiplyAdd(a5, b1, c5_1);
                b = ref Unsafe.Add(ref b, PanelWidth);
            }

            if (flags.Last)
            {
                Vector256<float> bias0 = Vector256.LoadUnsafe(ref bias, 0);
                Vector256<float> bias1 = Vector256.LoadUnsafe(ref bias, 8);
                c0_0 += bias0; c0_1 += bias1;
                c1_0 += bias0; c1_1 += bias1;
                c2_0 += bias0; c2_1 += bias1;
                c3_0 += bias0; c3_1 += bias1;
                c4_0 += bias0; c4_1 += bias1;
                c5_0 += bias0; c5_1 += bias1;
                if (flags.Relu)
                {
                    c0_0 = Vector256.Max(c0_0, Vector256<float>.Zero); c0_1 = Vector256.Max(c0_1, Vector256<float>.Zero);
                    c1_0 = Vector256.Max(c1_0, Vector256<float>.Zero); c1_1 = Vector256.Max(c1_1, Vector256<float>.Zero);
                    c2_0 = Vector256.Max(c2_0, Vector256<float>.Zero); c2_1 = Vector256.Max(c2_1, Vector256<float>.Zero);
                    c3_0 = Vector256.Max(c3_0, Vector256<float>.Zero); c3_1 = Vector256.Max(c3_1, Vector256<float>.Zero);
                    c4_0 = Vector256.Max(c4_0, Vector256<float>.Zero); c4_1 = Vector256.Max(c4_1, Vector256<float>.Zero);
                    c5_0 = Vector256.Max(c5_0, Vector256<float>.Zero); c5_1 = Vector256.Max(c5_1, Vector256<float>.Zero);
                }
            }

            c0_0.StoreUnsafe(ref cRow0, 0); c0_1.StoreUnsafe(ref cRow0, 8);
            c1_0.StoreUnsafe(ref cRow1, 0); c1_1.StoreUnsafe(ref cRow1, 8);
            c2_0.StoreUnsafe(ref cRow2, 0); c2_1.StoreUnsafe(ref cRow2, 8);
            c3_0.StoreUnsafe(ref cRow3, 0); c3_1.StoreUnsafe(ref cRow3, 8);
            c4_0.StoreUnsafe(ref cRow4, 0); c4_1.StoreUnsafe(ref cRow4, 8);
            c5_0.StoreUnsafe(ref cRow5, 0); c5_1.StoreUnsafe(ref cRow5, 8);
        }

        /// <summary>1×16, k unrolled by four into independent accumulators so that a GEMV is not bound by FMA latency.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Row(ref float a, ref float b, nuint kc, ref float c, ref float bias, BlockFlags flags)
        {
            Vector256<float> s0_0 = flags.First ? Vector256<float>.Zero : Vector256.LoadUnsafe(ref c, 0);
            Vector256<float> s0_1 = flags.First ? Vector256<float>.Zero : Vector256.LoadUnsafe(ref c, 8);
            Vector256<float> s1_0 = Vector256<float>.Zero, s1_1 = Vector256<float>.Zero;
            Vector256<float> s2_0 = Vector256<float>.Zero, s2_1 = Vector256<float>.Zero;
            Vector256<float> s3_0 = Vector256<float>.Zero, s3_1 = Vector256<float>.Zero;
            nuint kk = 0;
            for (; kk + 4 <= kc; kk += 4)
            {
                Vector256<float> x0 = Vector256.Create(Unsafe.Add(ref a, kk + 0));
                s0_0 = Vector256.FusedMultiplyAdd(x0, Vector256.LoadUnsafe(ref b, 0), s0_0);
                s0_1 = Vector256.FusedMultiplyAdd(x0, Vector256.LoadUnsafe(ref b, 8), s0_1);
                Vector256<float> x1 = Vector256.Create(Unsafe.Add(ref a, kk + 1));
                s1_0 = Vector256.FusedMultiplyAdd(x1, Vector256.LoadUnsafe(ref b, 16), s1_0);
                s1_1 = Vector256.FusedMultiplyAdd(x1, Vector256.LoadUnsafe(ref b, 24), s1_1);
                Vector256<float> x2 = Vector256.Create(Unsafe.Add(ref a, kk + 2));
                s2_0 = Vector256.FusedMultiplyAdd(x2, Vector256.LoadUnsafe(ref b, 32), s2_0);
                s2_1 = Vector256.FusedMultiplyAdd(x2, Vector256.LoadUnsafe(ref b, 40), s2_1);
                Vector256<float> x3 = Vector256.Create(Unsafe.Add(ref a, kk + 3));
                s3_0 = Vector256.FusedMultiplyAdd(x3, Vector256.LoadUnsafe(ref b, 48), s3_0);
                s3_1 = Vector256.FusedMultiplyAdd(x3, Vector256.LoadUnsafe(ref b, 56), s3_1);
                b = ref Unsafe.Add(ref b, 4 * PanelWidth);
            }

            for (; kk < kc; kk++)
            {
                Vector256<float> x = Vector256.Create(Unsafe.Add(ref a, kk));
                s0_0 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref b, 0), s0_0);
                s0_1 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref b, 8), s0_1);
                b = ref Unsafe.Add(ref b, PanelWidth);
            }

            Vector256<float> sum0 = ((s0_0 + s1_0) + (s2_0 + s3_0));
            Vector256<float> sum1 = ((s0_1 + s1_1) + (s2_1 + s3_1));
            if (flags.Last)
            {
                sum0 += Vector256.LoadUnsafe(ref bias, 0);
                sum1 += Vector256.LoadUnsafe(ref bias, 8);
                if (flags.Relu)
                {
                    sum0 = Vector256.Max(sum0, Vector256<float>.Zero);
                    sum1 = Vector256.Max(sum1, Vector256<float>.Zero);
                }
            }

            sum0.StoreUnsafe(ref c, 0);
            sum1.StoreUnsafe(ref c, 8);
        }
    }
}
