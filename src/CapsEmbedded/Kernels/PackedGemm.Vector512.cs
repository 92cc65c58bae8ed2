// The register tiles are unrolled by hand, one variable per accumulator, so that the JIT keeps them all in registers;
// the loop nest around them is shared by every tier (PackedGemm.Drive).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CapsEmbedded.Kernels;

public static partial class PackedGemm
{
    /// <summary>
    /// AVX-512 micro-kernel, 6×32 register tile over two adjacent panels: per kk one 16-wide load from each panel, six
    /// broadcasts of A[i][kk] and twelve fused multiply-adds into the accumulators c{row}_{panel}. A lone last panel uses
    /// the 6×16 form.
    /// </summary>
    internal readonly struct Tile6x32Avx512 : IGemmMicroKernel
    {
        public static int Rows => 6;

        public static int Panels => 2;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile(ref float a, nuint lda, ref float b, nuint panelStride, nuint kc,
            ref float c, nuint ldc, ref float bias, BlockFlags flags)
        {
            ref float cRow0 = ref c;
            ref float cRow1 = ref Unsafe.Add(ref c, 1 * ldc);
            ref float cRow2 = ref Unsafe.Add(ref c, 2 * ldc);
            ref float cRow3 = ref Unsafe.Add(ref c, 3 * ldc);
            ref float cRow4 = ref Unsafe.Add(ref c, 4 * ldc);
            ref float cRow5 = ref Unsafe.Add(ref c, 5 * ldc);
            Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1;
            if (flags.First)
            {
                c0_0 = Vector512<float>.Zero; c0_1 = Vector512<float>.Zero;
                c1_0 = Vector512<float>.Zero; c1_1 = Vector512<float>.Zero;
                c2_0 = Vector512<float>.Zero; c2_1 = Vector512<float>.Zero;
                c3_0 = Vector512<float>.Zero; c3_1 = Vector512<float>.Zero;
                c4_0 = Vector512<float>.Zero; c4_1 = Vector512<float>.Zero;
                c5_0 = Vector512<float>.Zero; c5_1 = Vector512<float>.Zero;
            }
            else
            {
                c0_0 = Vector512.LoadUnsafe(ref cRow0, 0); c0_1 = Vector512.LoadUnsafe(ref cRow0, 16);
                c1_0 = Vector512.LoadUnsafe(ref cRow1, 0); c1_1 = Vector512.LoadUnsafe(ref cRow1, 16);
                c2_0 = Vector512.LoadUnsafe(ref cRow2, 0); c2_1 = Vector512.LoadUnsafe(ref cRow2, 16);
                c3_0 = Vector512.LoadUnsafe(ref cRow3, 0); c3_1 = Vector512.LoadUnsafe(ref cRow3, 16);
                c4_0 = Vector512.LoadUnsafe(ref cRow4, 0); c4_1 = Vector512.LoadUnsafe(ref cRow4, 16);
                c5_0 = Vector512.LoadUnsafe(ref cRow5, 0); c5_1 = Vector512.LoadUnsafe(ref cRow5, 16);
            }

            ref float aRow0 = ref a;
            ref float aRow1 = ref Unsafe.Add(ref a, 1 * lda);
            ref float aRow2 = ref Unsafe.Add(ref a, 2 * lda);
            ref float aRow3 = ref Unsafe.Add(ref a, 3 * lda);
            ref float aRow4 = ref Unsafe.Add(ref a, 4 * lda);
            ref float aRow5 = ref Unsafe.Add(ref a, 5 * lda);
            for (nuint kk = 0; kk < kc; kk++)
            {
                Vector512<float> b0 = Vector512.LoadUnsafe(ref b, 0);
                Vector512<float> b1 = Vector512.LoadUnsafe(ref Unsafe.Add(ref b, panelStride), 0);
                Vector512<float> a0 = Vector512.Create(Unsafe.Add(ref aRow0, kk));
                c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0);
                c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1);
                Vector512<float> a1 = Vector512.Create(Unsafe.Add(ref aRow1, kk));
                c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0);
                c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1);
                Vector512<float> a2 = Vector512.Create(Unsafe.Add(ref aRow2, kk));
                c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0);
                c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1);
                Vector512<float> a3 = Vector512.Create(Unsafe.Add(ref aRow3, kk));
                c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0);
                c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1);
                Vector512<float> a4 = Vector512.Create(Unsafe.Add(ref aRow4, kk));
                c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0);
                c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1);
                Vector512<float> a5 = Vector512.Create(Unsafe.Add(ref aRow5, kk));
                c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0);
                c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1);
                b = ref Unsafe.Add(ref b, PanelWidth);
            }

            if (flags.Last)
            {
                Vector512<float> bias0 = Vector512.LoadUnsafe(ref bias, 0);
                Vector512<float> bias1 = Vector512.LoadUnsafe(ref bias, 16);
                c0_0 += bias0; c0_1 += bias1;
                c1_0 += bias0; c1_1 += bias1;
                c2_0 += bias0; c2_1 += bias1;
                c3_0 += bias0; c3_1 += bias1;
                c4_0 += bias0; c4_1 += bias1;
                c5_0 += bias0; c5_1 += bias1;
                if (flags.Relu)
                {
                    c0_0 = Vector512.Max(c0_0, Vector512<float>.Zero); c0_1 = Vector512.Max(c0_1, Vector512<float>.Zero);
                    c1_0 = Vector512.Max(c1_0, Vector512<float>.Zero); c1_1 = Vector512.Max(c1_1, Vector512<float>.Zero);
                    c2_0 = Vector512.Max(c2_0, Vector512<float>.Zero); c2_1 = Vector512.Max(c2_1, Vector512<float>.Zero);
                    c3_0 = Vector512.Max(c3_0, Vector512<float>.Zero); c3_1 = Vector512.Max(c3_1, Vector512<float>.Zero);
                    c4_0 = Vector512.Max(c4_0, Vector512<float>.Zero); c4_1 = Vector512.Max(c4_1, Vector512<float>.Zero);
                    c5_0 = Vector512.Max(c5_0, Vector512<float>.Zero); c5_1 = Vector512.Max(c5_1, Vector512<float>.Zero);
                }
            }

            c0_0.StoreUnsafe(ref cRow0, 0); c0_1.StoreUnsafe(ref cRow0, 16);
            c1_0.StoreUnsafe(ref cRow1, 0); c1_1.StoreUnsafe(ref cRow1, 16);
            c2_0.StoreUnsafe(ref cRow2, 0); c2_1.StoreUnsafe(ref cRow2, 16);
            c3_0.StoreUnsafe(ref cRow3, 0); c3_1.StoreUnsafe(ref cRow3, 16);
            c4_0.StoreUnsafe(ref cRow4, 0); c4_1.StoreUnsafe(ref cRow4, 16);
            c5_0.StoreUnsafe(ref cRow5, 0); c5_1.StoreUnsafe(ref cRow5, 16);
        }

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
            Vector512<float> c0_0, c1_0, c2_0, c3_0, c4_0, c5_0;
            if (flags.First)
            {
                c0_0 = Vector512<float>.Zero;
                c1_0 = Vector512<float>.Zero;
                c2_0 = Vector512<float>.Zero;
                c3_0 = Vector512<float>.Zero;
                c4_0 = Vector512<float>.Zero;
                c5_0 = Vector512<float>.Zero;
            }
            else
            {
                c0_0 = Vector512.LoadUnsafe(ref cRow0, 0);
                c1_0 = Vector512.LoadUnsafe(ref cRow1, 0);
                c2_0 = Vector512.LoadUnsafe(ref cRow2, 0);
                c3_0 = Vector512.LoadUnsafe(ref cRow3, 0);
                c4_0 = Vector512.LoadUnsafe(ref cRow4, 0);
                c5_0 = Vector512.LoadUnsafe(ref cRow5, 0);
            }

            ref float aRow0 = ref a;
            ref float aRow1 = ref Unsafe.Add(ref a, 1 * lda);
            ref float aRow2 = ref Unsafe.Add(ref a, 2 * lda);
            ref float aRow3 = ref Unsafe.Add(ref a, 3 * lda);
            ref float aRow4 = ref Unsafe.Add(ref a, 4 * lda);
            ref float aRow5 = ref Unsafe.Add(ref a, 5 * lda);
            for (nuint kk = 0; kk < kc; kk++)
            {
                Vector512<float> b0 = Vector512.LoadUnsafe(ref b, 0);
                Vector512<float> a0 = Vector512.Create(Unsafe.Add(ref aRow0, kk));
                c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0);
                Vector512<float> a1 = Vector512.Create(Unsafe.Add(ref aRow1, kk));
                c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0);
                Vector512<float> a2 = Vector512.Create(Unsafe.Add(ref aRow2, kk));
                c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0);
                Vector512<float> a3 = Vector512.Create(Unsafe.Add(ref aRow3, kk));
                c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0);
                Vector512<float> a4 = Vector512.Create(Unsafe.Add(ref aRow4, kk));
                c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0);
                Vector512<float> a5 = Vector512.Create(Unsafe.Add(ref aRow5, kk));
                c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0);
                b = ref Unsafe.Add(ref b, PanelWidth);
            }

            if (flags.Last)
            {
                Vector512<float> bias0 = Vector512.LoadUnsafe(ref bias, 0);
                c0_0 += bias0;
                c1_0 += bias0;
                c2_0 += bias0;
                c3_0 += bias0;
                c4_0 += bias0;
                c5_0 += bias0;
                if (flags.Relu)
                {
                    c0_0 = Vector512.Max(c0_0, Vector512<float>.Zero);
                    c1_0 = Vector512.Max(c1_0, Vector512<float>.Zero);
                    c2_0 = Vector512.Max(c2_0, Vector512<float>.Zero);
                    c3_0 = Vector512.Max(c3_0, Vector512<float>.Zero);
                    c4_0 = Vector512.Max(c4_0, Vector512<float>.Zero);
                    c5_0 = Vector512.Max(c5_0, Vector512<float>.Zero);
                }
            }

            c0_0.StoreUnsafe(ref cRow0, 0);
            c1_0.StoreUnsafe(ref cRow1, 0);
            c2_0.StoreUnsafe(ref cRow2, 0);
            c3_0.StoreUnsafe(ref cRow3, 0);
            c4_0.StoreUnsafe(ref cRow4, 0);
            c5_0.StoreUnsafe(ref cRow5, 0);
        }

        /// <summary>1×16, k unrolled by four into independent accumulators so that a GEMV is not bound by FMA latency.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Row(ref float a, ref float b, nuint kc, ref float c, ref float bias, BlockFlags flags)
        {
            Vector512<float> s0_0 = flags.First ? Vector512<float>.Zero : Vector512.LoadUnsafe(ref c, 0);
            Vector512<float> s1_0 = Vector512<float>.Zero;
            Vector512<float> s2_0 = Vector512<float>.Zero;
            Vector512<float> s3_0 = Vector512<float>.Zero;
            nuint kk = 0;
            for (; kk + 4 <= kc; kk += 4)
            {
                Vector512<float> x0 = Vector512.Create(Unsafe.Add(ref a, kk + 0));
                s0_0 = Vector512.FusedMultiplyAdd(x0, Vector512.LoadUnsafe(ref b, 0), s0_0);
                Vector512<float> x1 = Vector512.Create(Unsafe.Add(ref a, kk + 1));
                s1_0 = Vector512.FusedMultiplyAdd(x1, Vector512.LoadUnsafe(ref b, 16), s1_0);
                Vector512<float> x2 = Vector512.Create(Unsafe.Add(ref a, kk + 2));
                s2_0 = Vector512.FusedMultiplyAdd(x2, Vector512.LoadUnsafe(ref b, 32), s2_0);
                Vector512<float> x3 = Vector512.Create(Unsafe.Add(ref a, kk + 3));
                s3_0 = Vector512.FusedMultiplyAdd(x3, Vector512.LoadUnsafe(ref b, 48), s3_0);
                b = ref Unsafe.Add(ref b, 4 * PanelWidth);
            }

            for (; kk < kc; kk++)
            {
                Vector512<float> x = Vector512.Create(Unsafe.Add(ref a, kk));
                s0_0 = Vector512.FusedMultiplyAdd(x, Vector512.LoadUnsafe(ref b, 0), s0_0);
                b = ref Unsafe.Add(ref b, PanelWidth);
            }

            Vector512<float> sum0 = ((s0_0 + s1_0) + (s2_0 + s3_0));
            if (flags.Last)
            {
                sum0 += Vector512.LoadUnsafe(ref bias, 0);
                if (flags.Relu)
                {
                    sum0 = Vector512.Max(sum0, Vector512<float>.Zero);
                }
            }

            sum0.StoreUnsafe(ref c, 0);
        }
    }
}
