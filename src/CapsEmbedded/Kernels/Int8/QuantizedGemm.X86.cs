// x64 micro-kernels. The register tiles are unrolled by hand, one variable per accumulator, so that the JIT keeps them
// all in registers; the loop nest around them is QuantizedGemm.Drive. Each Row is one row × one panel (16 channels), the
// driver's kernel for a panel left over after the two-panel tiles. Per k group (4 bytes of A, 64 bytes of B) each
// row broadcasts its 4 activation bytes into every 32-bit lane, and each lane j takes Σ_t A[kk+t] · B[j][kk+t].
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CapsEmbedded.Kernels.Int8;

public static partial class QuantizedGemm
{
    /// <summary>acc + (four u7 × s8 products per int32 lane) on 256-bit vectors, for <see cref="Tile1x32V256{TDot}"/>.</summary>
    internal interface IDot256
    {
        static abstract Vector256<int> Dot(Vector256<int> acc, Vector256<byte> a, Vector256<sbyte> b);
    }

    /// <summary>vpmaddubsw (u8 × s8, adjacent pairs → s16, never saturating for u7 inputs) then vpmaddwd by ones (pairs → s32).</summary>
    internal readonly struct MaddubsDot256 : IDot256
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> a, Vector256<sbyte> b) =>
            Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, b), Vector256.Create((short)1)));
    }

    /// <summary>vpdpbusd: the four products and their sum into each int32 lane in one instruction, without intermediate saturation.</summary>
    internal readonly struct VnniDot256 : IDot256
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> a, Vector256<sbyte> b) =>
            AvxVnni.MultiplyWideningAndAdd(acc, a, b);
    }

    /// <summary>
    /// 1×32 tile on 256-bit vectors (AVX2 or AVX-VNNI): one row of A against two panels (32 channels). One row per tile
    /// because the int8 GEMM's A is sparse per row: a k group is skipped when this row's 4 bytes are zero, not when a whole
    /// register tile's are (on test digits a 1-row tile computes 33 % of the dense groups, a 4-row tile 72 %). Two panels
    /// keep 4 accumulators busy and share each listed index; per group four 32-byte panel loads, one broadcast of A, four
    /// dot steps into c{panel}_{8-channel half}.
    /// </summary>
    internal readonly struct Tile1x32V256<TDot> : IInt8MicroKernel
        where TDot : IDot256
    {
        public static int Rows => 1;

        public static int Panels => 2;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile<TGroups>(ref byte a, nuint lda, ref sbyte b, nuint panelStride, ref int groupList, nuint count, ref int c, nuint ldc, bool first)
            where TGroups : struct, PackedGemm.IKColumns
        {
            Vector256<int> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default;
            ref sbyte panel1 = ref Unsafe.Add(ref b, panelStride);
            for (nuint j = 0; j < count; j++)
            {
                nuint g = TGroups.At(ref groupList, j);
                nuint offset = g * GroupBytes;
                Vector256<byte> x = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a, 4 * g))).AsByte();
                c0_0 = TDot.Dot(c0_0, x, Vector256.LoadUnsafe(ref b, offset));
                c0_1 = TDot.Dot(c0_1, x, Vector256.LoadUnsafe(ref b, offset + 32));
                c1_0 = TDot.Dot(c1_0, x, Vector256.LoadUnsafe(ref panel1, offset));
                c1_1 = TDot.Dot(c1_1, x, Vector256.LoadUnsafe(ref panel1, offset + 32));
            }

            Store(c0_0, c0_1, ref c, first);
            Store(c1_0, c1_1, ref Unsafe.Add(ref c, PanelWidth), first);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Row<TGroups>(ref byte a, ref sbyte b, ref int groupList, nuint count, ref int c, bool first)
            where TGroups : struct, PackedGemm.IKColumns
        {
            Vector256<int> c0 = default, c1 = default;
            for (nuint j = 0; j < count; j++)
            {
                nuint g = TGroups.At(ref groupList, j);
                ref sbyte bGroup = ref Unsafe.Add(ref b, g * GroupBytes);
                Vector256<byte> x = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a, 4 * g))).AsByte();
                c0 = TDot.Dot(c0, x, Vector256.LoadUnsafe(ref bGroup));
                c1 = TDot.Dot(c1, x, Vector256.LoadUnsafe(ref bGroup, 32));
            }

            Store(c0, c1, ref c, first);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(Vector256<int> low, Vector256<int> high, ref int c, bool first)
        {
            if (!first)
            {
                low += Vector256.LoadUnsafe(ref c);
                high += Vector256.LoadUnsafe(ref c, 8);
            }

            low.StoreUnsafe(ref c);
            high.StoreUnsafe(ref c, 8);
        }
    }

    /// <summary>
    /// 1×32 tile on AVX-512BW, as <see cref="Tile1x32V256{TDot}"/>: one 64-byte load per group is a whole panel, so two
    /// loads, one broadcast and two vpmaddubsw + vpmaddwd steps per group.
    /// </summary>
    internal readonly struct Tile1x32Avx512BW : IInt8MicroKernel
    {
        public static int Rows => 1;

        public static int Panels => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<int> Dot(Vector512<int> acc, Vector512<byte> a, Vector512<sbyte> b) =>
            Avx512F.Add(acc, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, b), Vector512.Create((short)1)));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile<TGroups>(ref byte a, nuint lda, ref sbyte b, nuint panelStride, ref int groupList, nuint count, ref int c, nuint ldc, bool first)
            where TGroups : struct, PackedGemm.IKColumns
        {
            Vector512<int> c0 = default, c1 = default;
            ref sbyte panel1 = ref Unsafe.Add(ref b, panelStride);
            for (nuint j = 0; j < count; j++)
            {
                nuint g = TGroups.At(ref groupList, j);
                Vector512<byte> x = Vector512.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a, 4 * g))).AsByte();
                c0 = Dot(c0, x, Vector512.LoadUnsafe(ref b, g * GroupBytes));
                c1 = Dot(c1, x, Vector512.LoadUnsafe(ref panel1, g * GroupBytes));
            }

            Store(c0, ref c, first);
            Store(c1, ref Unsafe.Add(ref c, PanelWidth), first);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Row<TGroups>(ref byte a, ref sbyte b, ref int groupList, nuint count, ref int c, bool first)
            where TGroups : struct, PackedGemm.IKColumns
        {
            Vector512<int> c0 = default;
            for (nuint j = 0; j < count; j++)
            {
                nuint g = TGroups.At(ref groupList, j);
                c0 = Dot(c0, Vector512.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a, 4 * g))).AsByte(), Vector512.LoadUnsafe(ref b, g * GroupBytes));
            }

            Store(c0, ref c, first);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(Vector512<int> sums, ref int c, bool first)
        {
            if (!first) sums += Vector512.LoadUnsafe(ref c);
            sums.StoreUnsafe(ref c);
        }
    }
}
