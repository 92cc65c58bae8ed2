// x64 micro-kernels. The register tiles are unrolled by hand, one variable per accumulator, so that the JIT keeps them
// all in registers; the loop nest around them is QuantizedGemm.Drive. Per k group (4 bytes of A, 64 bytes of B) each
// row broadcasts its 4 activation bytes into every 32-bit lane, and each lane j takes Σ_t A[kk+t] · B[j][kk+t].
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CapsEmbedded.Kernels.Int8;

public static partial class QuantizedGemm
{
    /// <summary>acc + (four u7 × s8 products per int32 lane) on 256-bit vectors, for <see cref="Tile4x16V256{TDot}"/>.</summary>
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
    /// 4×16 tile on 256-bit vectors (AVX2 or AVX-VNNI): per group two 32-byte loads of the panel (channels 0-7, 8-15), four
    /// broadcasts of A and eight dot steps into the accumulators c{row}_{8-channel half}; m = 36 = 9 × 4 leaves no rows over.
    /// </summary>
    internal readonly struct Tile4x16V256<TDot> : IInt8MicroKernel
        where TDot : IDot256
    {
        public static int Rows => 4;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile<TGroups>(ref byte a, nuint lda, ref sbyte b, ref int groupList, nuint count, ref int c, nuint ldc, bool first)
            where TGroups : struct, PackedGemm.IKColumns
        {
            Vector256<int> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default;
            Vector256<int> c2_0 = default, c2_1 = default, c3_0 = default, c3_1 = default;
            ref byte aRow0 = ref a;
            ref byte aRow1 = ref Unsafe.Add(ref a, lda);
            ref byte aRow2 = ref Unsafe.Add(ref a, 2 * lda);
            ref byte aRow3 = ref Unsafe.Add(ref a, 3 * lda);
            for (nuint j = 0; j < count; j++)
            {
                nuint g = TGroups.At(ref groupList, j);
                ref sbyte bGroup = ref Unsafe.Add(ref b, g * GroupBytes);
                Vector256<sbyte> b0 = Vector256.LoadUnsafe(ref bGroup);
                Vector256<sbyte> b1 = Vector256.LoadUnsafe(ref bGroup, 32);
                nuint ka = 4 * g;
                Vector256<byte> a0 = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow0, ka))).AsByte();
                c0_0 = TDot.Dot(c0_0, a0, b0);
                c0_1 = TDot.Dot(c0_1, a0, b1);
                Vector256<byte> a1 = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow1, ka))).AsByte();
                c1_0 = TDot.Dot(c1_0, a1, b0);
                c1_1 = TDot.Dot(c1_1, a1, b1);
                Vector256<byte> a2 = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow2, ka))).AsByte();
                c2_0 = TDot.Dot(c2_0, a2, b0);
                c2_1 = TDot.Dot(c2_1, a2, b1);
                Vector256<byte> a3 = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow3, ka))).AsByte();
                c3_0 = TDot.Dot(c3_0, a3, b0);
                c3_1 = TDot.Dot(c3_1, a3, b1);
            }

            Store(c0_0, c0_1, ref c, first);
            Store(c1_0, c1_1, ref Unsafe.Add(ref c, ldc), first);
            Store(c2_0, c2_1, ref Unsafe.Add(ref c, 2 * ldc), first);
            Store(c3_0, c3_1, ref Unsafe.Add(ref c, 3 * ldc), first);
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

    /// <summary>4×16 tile on AVX-512BW: one 64-byte load per group is the whole panel; vpmaddubsw + vpmaddwd as for AVX2.</summary>
    internal readonly struct Tile4x16Avx512BW : IInt8MicroKernel
    {
        public static int Rows => 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<int> Dot(Vector512<int> acc, Vector512<byte> a, Vector512<sbyte> b) =>
            Avx512F.Add(acc, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, b), Vector512.Create((short)1)));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile<TGroups>(ref byte a, nuint lda, ref sbyte b, ref int groupList, nuint count, ref int c, nuint ldc, bool first)
            where TGroups : struct, PackedGemm.IKColumns
        {
            Vector512<int> c0 = default, c1 = default, c2 = default, c3 = default;
            ref byte aRow0 = ref a;
            ref byte aRow1 = ref Unsafe.Add(ref a, lda);
            ref byte aRow2 = ref Unsafe.Add(ref a, 2 * lda);
            ref byte aRow3 = ref Unsafe.Add(ref a, 3 * lda);
            for (nuint j = 0; j < count; j++)
            {
                nuint g = TGroups.At(ref groupList, j);
                Vector512<sbyte> panel = Vector512.LoadUnsafe(ref b, g * GroupBytes);
                nuint ka = 4 * g;
                c0 = Dot(c0, Vector512.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow0, ka))).AsByte(), panel);
                c1 = Dot(c1, Vector512.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow1, ka))).AsByte(), panel);
                c2 = Dot(c2, Vector512.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow2, ka))).AsByte(), panel);
                c3 = Dot(c3, Vector512.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref aRow3, ka))).AsByte(), panel);
            }

            Store(c0, ref c, first);
            Store(c1, ref Unsafe.Add(ref c, ldc), first);
            Store(c2, ref Unsafe.Add(ref c, 2 * ldc), first);
            Store(c3, ref Unsafe.Add(ref c, 3 * ldc), first);
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
