// The register tiles are unrolled by hand, one variable per accumulator, so that the JIT keeps them all in registers;
// the loop nest around them is shared by every tier (PackedGemm.Drive).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CapsEmbedded.Kernels;

public static partial class PackedGemm
{
    /// <summary>
    /// 128-bit micro-kernel (NEON on ARM64, SSE on x64), 4×16 register tile: per kk four 4-wide loads of the B panel, four
    /// broadcasts of A[i][kk] and sixteen multiply-adds into the accumulators c{row}_{4-column quarter}. MultiplyAddEstimate is one
    /// fused instruction where the hardware has it (NEON FMLA, FMA3) and multiply + add elsewhere (SSE without FMA).
    /// </summary>
    internal readonly struct Tile4x16Vector128 : IGemmMicroKernel
    {
        public static int Rows => 4;

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
            Vector128<float> c0_0, c0_1, c0_2, c0_3, c1_0, c1_1, c1_2, c1_3, c2_0, c2_1, c2_2, c2_3, c3_0, c3_1, c3_2, c3_3;
            if (flags.First)
            {
                c0_0 = Vector128<float>.Zero; c0_1 = Vector128<float>.Zero; c0_2 = Vector128<float>.Zero; c0_3 = Vector128<float>.Zero;
                c1_0 = Vector128<float>.Zero; c1_1 = Vector128<float>.Zero; c1_2 = Vector128<float>.Zero; c1_3 = Vector128<float>.Zero;
                c2_0 = Vector128<float>.Zero; c2_1 = Vector128<float>.Zero; c2_2 = Vector128<float>.Zero; c2_3 = Vector128<float>.Zero;
                c3_0 = Vector128<float>.Zero; c3_1 = Vector128<float>.Zero; c3_2 = Vector128<float>.Zero; c3_3 = Vector128<float>.Zero;
            }
            else
            {
                c0_0 = Vector128.LoadUnsafe(ref cRow0, 0); c0_1 = Vector128.LoadUnsafe(ref cRow0, 4); c0_2 = Vector128.LoadUnsafe(ref cRow0, 8); c0_3 = Vector128.LoadUnsafe(ref cRow0, 12);
                c1_0 = Vector128.LoadUnsafe(ref cRow1, 0); c1_1 = Vector128.LoadUnsafe(ref cRow1, 4); c1_2 = Vector128.LoadUnsafe(ref cRow1, 8); c1_3 = Vector128.LoadUnsafe(ref cRow1, 12);
                c2_0 = Vector128.LoadUnsafe(ref cRow2, 0); c2_1 = Vector128.LoadUnsafe(ref cRow2, 4); c2_2 = Vector128.LoadUnsafe(ref cRow2, 8); c2_3 = Vector128.LoadUnsafe(ref cRow2, 12);
                c3_0 = Vector128.LoadUnsafe(ref cRow3, 0); c3_1 = Vector128.LoadUnsafe(ref cRow3, 4); c3_2 = Vector128.LoadUnsafe(ref cRow3, 8); c3_3 = Vector128.LoadUnsafe(ref cRow3, 12);
            }

            ref float aRow0 = ref a;
            ref float aRow1 = ref Unsafe.Add(ref a, 1 * lda);
            ref float aRow2 = ref Unsafe.Add(ref a, 2 * lda);
            ref float aRow3 = ref Unsafe.Add(ref a, 3 * lda);
            for (nuint kk = 0; kk < kc; kk++)
            {
                Vector128<float> b0 = Vector128.LoadUnsafe(ref b, 0);
                Vector128<float> b1 = Vector128.LoadUnsafe(ref b, 4);
                Vector128<float> b2 = Vector128.LoadUnsafe(ref b, 8);
                Vector128<float> b3 = Vector128.LoadUnsafe(ref b, 12);
                Vector128<float> a0 = Vector128.Create(Unsafe.Add(ref aRow0, kk));
                c0_0 = Vector128.MultiplyAddEstimate(a0, b0, c0_0);
                c0_1 = Vector128.MultiplyAddEstimate(a0, b1, c0_1);
                c0_2 = Vector128.MultiplyAddEstimate(a0, b2, c0_2);
                c0_3 = Vector128.MultiplyAddEstimate(a0, b3, c0_3);
                Vector128<float> a1 = Vector128.Create(Unsafe.Add(ref aRow1, kk));
                c1_0 = Vector128.MultiplyAddEstimate(a1, b0, c1_0);
                c1_1 = Vector128.MultiplyAddEstimate(a1, b1, c1_1);
                c1_2 = Vector128.MultiplyAddEstimate(a1, b2, c1_2);
                c1_3 = Vector128.MultiplyAddEstimate(a1, b3, c1_3);
                Vector128<float> a2 = Vector128.Create(Unsafe.Add(ref aRow2, kk));
                c2_0 = Vector128.MultiplyAddEstimate(a2, b0, c2_0);
                c2_1 = Vector128.MultiplyAddEstimate(a2, b1, c2_1);
                c2_2 = Vector128.MultiplyAddEstimate(a2, b2, c2_2);
                c2_3 = Vector128.MultiplyAddEstimate(a2, b3, c2_3);
                Vector128<float> a3 = Vector128.Create(Unsafe.Add(ref aRow3, kk));
                c3_0 = Vector128.MultiplyAddEstimate(a3, b0, c3_0);
                c3_1 = Vector128.MultiplyAddEstimate(a3, b1, c3_1);
                c3_2 = Vector128.MultiplyAddEstimate(a3, b2, c3_2);
                c3_3 = Vector128.MultiplyAddEstimate(a3, b3, c3_3);
                b = ref Unsafe.Add(ref b, PanelWidth);
            }

            if (flags.Last)
            {
                Vector128<float> bias0 = Vector128.LoadUnsafe(ref bias, 0);
                Vector128<float> bias1 = Vector128.LoadUnsafe(ref bias, 4);
                Vector128<float> bias2 = Vector128.LoadUnsafe(ref bias, 8);
                Vector128<float> bias3 = Vector128.LoadUnsafe(ref bias, 12);
                c0_0 += bias0; c0_1 += bias1; c0_2 += bias2; c0_3 += bias3;
                c1_0 += bias0; c1_1 += bias1; c1_2 += bias2; c1_3 += bias3;
                c2_0 += bias0; c2_1 += bias1; c2_2 += bias2; c2_3 += bias3;
                c3_0 += bias0; c3_1 += bias1; c3_2 += bias2; c3_3 += bias3;
                if (flags.Relu)
                {
                    c0_0 = Vector128.Max(c0_0, Vector128<float>.Zero); c0_1 = Vector128.Max(c0_1, Vector128<float>.Zero); c0_2 = Vector128.Max(c0_2, Vector128<float>.Zero); c0_3 = Vector128.Max(c0_3, Vector128<float>.Zero);
                    c1_0 = Vector128.Max(c1_0, Vector128<float>.Zero); c1_1 = Vector128.Max(c1_1, Vector128<float>.Zero); c1_2 = Vector128.Max(c1_2, Vector128<float>.Zero); c1_3 = Vector128.Max(c1_3, Vector128<float>.Zero);
                    c2_0 = Vector128.Max(c2_0, Vector128<float>.Zero); c2_1 = Vector128.Max(c2_1, Vector128<float>.Zero); c2_2 = Vector128.Max(c2_2, Vector128<float>.Zero); c2_3 = Vector128.Max(c2_3, Vector128<float>.Zero);
                    c3_0 = Vector128.Max(c3_0, Vector128<float>.Zero); c3_1 = Vector128.Max(c3_1, Vector128<float>.Zero); c3_2 = Vector128.Max(c3_2, Vector128<float>.Zero); c3_3 = Vector128.Max(c3_3, Vector128<float>.Zero);
                }
            }

            c0_0.StoreUnsafe(ref cRow0, 0); c0_1.StoreUnsafe(ref cRow0, 4); c0_2.StoreUnsafe(ref cRow0, 8); c0_3.StoreUnsafe(ref cRow0, 12);
            c1_0.StoreUnsafe(ref cRow1, 0); c1_1.StoreUnsafe(ref cRow1, 4); c1_2.StoreUnsafe(ref cRow1, 8); c1_3.StoreUnsafe(ref cRow1, 12);
            c2_0.StoreUnsafe(ref cRow2, 0); c2_1.StoreUnsafe(ref cRow2, 4); c2_2.StoreUnsafe(ref cRow2, 8); c2_3.StoreUnsafe(ref cRow2, 12);
            c3_0.StoreUnsafe(ref cRow3, 0); c3_1.StoreUnsafe(ref cRow3, 4); c3_2.StoreUnsafe(ref cRow3, 8); c3_3.StoreUnsafe(ref cRow3, 12);
        }

        /// <summary>1×16, k unrolled by two into independent accumulators.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Row(ref float a, ref float b, nuint kc, ref float c, ref float bias, BlockFlags flags)
        {
            Vector128<float> s0_0 = flags.First ? Vector128<float>.Zero : Vector128.LoadUnsafe(ref c, 0);
            Vector128<float> s0_1 = flags.First ? Vector128<float>.Zero : Vector128.LoadUnsafe(ref c, 4);
            Vector128<float> s0_2 = flags.First ? Vector128<float>.Zero : Vector128.LoadUnsafe(ref c, 8);
            Vector128<float> s0_3 = flags.First ? Vector128<float>.Zero : Vector128.LoadUnsafe(ref c, 12);
            Vector128<float> s1_0 = Vector128<float>.Zero, s1_1 = Vector128<float>.Zero, s1_2 = Vector128<float>.Zero, s1_3 = Vector128<float>.Zero;
            nuint kk = 0;
            for (; kk + 2 <= kc; kk += 2)
            {
                Vector128<float> x0 = Vector128.Create(Unsafe.Add(ref a, kk + 0));
                s0_0 = Vector128.MultiplyAddEstimate(x0, Vector128.LoadUnsafe(ref b, 0), s0_0);
                s0_1 = Vector128.MultiplyAddEstimate(x0, Vector128.LoadUnsafe(ref b, 4), s0_1);
                s0_2 = Vector128.MultiplyAddEstimate(x0, Vector128.LoadUnsafe(ref b, 8), s0_2);
                s0_3 = Vector128.MultiplyAddEstimate(x0, Vector128.LoadUnsafe(ref b, 12), s0_3);
                Vector128<float> x1 = Vector128.Create(Unsafe.Add(ref a, kk + 1));
                s1_0 = Vector128.MultiplyAddEstimate(x1, Vector128.LoadUnsafe(ref b, 16), s1_0);
                s1_1 = Vector128.MultiplyAddEstimate(x1, Vector128.LoadUnsafe(ref b, 20), s1_1);
                s1_2 = Vector128.MultiplyAddEstimate(x1, Vector128.LoadUnsafe(ref b, 24), s1_2);
                s1_3 = Vector128.MultiplyAddEstimate(x1, Vector128.LoadUnsafe(ref b, 28), s1_3);
                b = ref Unsafe.Add(ref b, 2 * PanelWidth);
            }

            for (; kk < kc; kk++)
            {
                Vector128<float> x = Vector128.Create(Unsafe.Add(ref a, kk));
                s0_0 = Vector128.MultiplyAddEstimate(x, Vector128.LoadUnsafe(ref b, 0), s0_0);
                s0_1 = Vector128.MultiplyAddEstimate(x, Vector128.LoadUnsafe(ref b, 4), s0_1);
                s0_2 = Vector128.MultiplyAddEstimate(x, Vector128.LoadUnsafe(ref b, 8), s0_2);
                s0_3 = Vector128.MultiplyAddEstimate(x, Vector128.LoadUnsafe(ref b, 12), s0_3);
                b = ref Unsafe.Add(ref b, PanelWidth);
            }

            Vector128<float> sum0 = (s0_0 + s1_0);
            Vector128<float> sum1 = (s0_1 + s1_1);
            Vector128<float> sum2 = (s0_2 + s1_2);
            Vector128<float> sum3 = (s0_3 + s1_3);
            if (flags.Last)
            {
                sum0 += Vector128.LoadUnsafe(ref bias, 0);
                sum1 += Vector128.LoadUnsafe(ref bias, 4);
                sum2 += Vector128.LoadUnsafe(ref bias, 8);
                sum3 += Vector128.LoadUnsafe(ref bias, 12);
                if (flags.Relu)
                {
                    sum0 = Vector128.Max(sum0, Vector128<float>.Zero);
                    sum1 = Vector128.Max(sum1, Vector128<float>.Zero);
                    sum2 = Vector128.Max(sum2, Vector128<float>.Zero);
                    sum3 = Vector128.Max(sum3, Vector128<float>.Zero);
                }
            }

            sum0.StoreUnsafe(ref c, 0);
            sum1.StoreUnsafe(ref c, 4);
            sum2.StoreUnsafe(ref c, 8);
            sum3.StoreUnsafe(ref c, 12);
        }
    }
}
