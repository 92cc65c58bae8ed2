// ARM64 micro-kernels (NEON), same loop nest and packed layout as the x64 ones: a 16-byte vector of a k group holds 4
// channels × 4 k, and each row's 4 activation bytes are broadcast into every 32-bit lane. A's bytes are in [0, 127],
// so reading them as signed (SDOT and SMULL are s8 × s8) changes nothing.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace CapsEmbedded.Kernels.Int8;

public static partial class QuantizedGemm
{
    /// <summary>
    /// 1×64 tile with SDOT (ARMv8.2 DotProd) over four adjacent panels, 16 accumulators (a <see cref="RowSums"/> per
    /// panel): per group sixteen 16-byte panel loads and 16 SDOTs by element. One row, because a group is skipped only
    /// where every row of the tile is zero: on digits a 1-row tile runs 38 % of a row's groups, a 2-row tile 54 %
    /// (bench/arm/README.md). Four panels keep 16 SDOTs per listed index and A load; the panel loads, not SDOT, then
    /// bound the step. Four consecutive groups at a time load 16 bytes of A and pick the group by lane; the remaining
    /// groups, and listed (non-consecutive) ones, load the row's 4 bytes into lane 0.
    /// </summary>
    internal readonly struct Tile1x64Sdot : IInt8MicroKernel
    {
        public static int Rows => 1;

        public static int Panels => 4;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile<TGroups>(ref byte a, nuint lda, ref sbyte b, nuint panelStride, ref int groupList, nuint count, ref int c, nuint ldc, bool first)
            where TGroups : struct, PackedGemm.IKColumns
        {
            // c{panel}: the row's 16 sums of that panel.
            RowSums c0 = default, c1 = default, c2 = default, c3 = default;
            ref sbyte b1 = ref Unsafe.Add(ref b, panelStride);
            ref sbyte b2 = ref Unsafe.Add(ref b, 2 * panelStride);
            ref sbyte b3 = ref Unsafe.Add(ref b, 3 * panelStride);
            nuint j = 0;
            // Dense: four consecutive groups at a time by element. Listed groups are not consecutive: one at a time.
            for (; typeof(TGroups) == typeof(PackedGemm.AllColumns) && j + 4 <= count; j += 4)
            {
                nuint offset = j * GroupBytes;
                Vector128<sbyte> four = Vector128.LoadUnsafe(ref a, 4 * j).AsSByte();
                FourPanelsByLane(ref b, ref b1, ref b2, ref b3, offset, four, 0, ref c0, ref c1, ref c2, ref c3);
                FourPanelsByLane(ref b, ref b1, ref b2, ref b3, offset + GroupBytes, four, 1, ref c0, ref c1, ref c2, ref c3);
                FourPanelsByLane(ref b, ref b1, ref b2, ref b3, offset + 2 * GroupBytes, four, 2, ref c0, ref c1, ref c2, ref c3);
                FourPanelsByLane(ref b, ref b1, ref b2, ref b3, offset + 3 * GroupBytes, four, 3, ref c0, ref c1, ref c2, ref c3);
            }

            for (; j < count; j++)
            {
                nuint g = TGroups.At(ref groupList, j);
                FourPanelsByLane(ref b, ref b1, ref b2, ref b3, g * GroupBytes, LoadGroup(ref Unsafe.Add(ref a, 4 * g)), 0,
                    ref c0, ref c1, ref c2, ref c3);
            }

            c0.Store(ref c, first);
            c1.Store(ref Unsafe.Add(ref c, PanelWidth), first);
            c2.Store(ref Unsafe.Add(ref c, 2 * PanelWidth), first);
            c3.Store(ref Unsafe.Add(ref c, 3 * PanelWidth), first);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Row<TGroups>(ref byte a, ref sbyte b, ref int groupList, nuint count, ref int c, bool first)
            where TGroups : struct, PackedGemm.IKColumns
        {
            RowSums sums = default;
            for (nuint j = 0; j < count; j++)
            {
                nuint g = TGroups.At(ref groupList, j);
                sums.DotByLane(LoadGroup(ref Unsafe.Add(ref a, 4 * g)), 0, new PanelGroup(ref b, g * GroupBytes));
            }

            sums.Store(ref c, first);
        }

        /// <summary>The 16 SDOTs of one group: the four panels' 64 bytes at <paramref name="offset"/> × lane <paramref name="lane"/> of the row's A.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void FourPanelsByLane(ref sbyte b0, ref sbyte b1, ref sbyte b2, ref sbyte b3, nuint offset, Vector128<sbyte> a,
            [ConstantExpected(Max = (byte)3)] byte lane, ref RowSums c0, ref RowSums c1, ref RowSums c2, ref RowSums c3)
        {
            c0.DotByLane(a, lane, new PanelGroup(ref b0, offset));
            c1.DotByLane(a, lane, new PanelGroup(ref b1, offset));
            c2.DotByLane(a, lane, new PanelGroup(ref b2, offset));
            c3.DotByLane(a, lane, new PanelGroup(ref b3, offset));
        }
    }

    /// <summary>
    /// One tile row's 16 int32 sums, channels 4q..4q+3 in <c>Q{q}</c>: a struct of four vectors, which the JIT keeps in four
    /// registers like four locals once the methods are inlined.
    /// </summary>
    private struct RowSums
    {
        public Vector128<int> Q0, Q1, Q2, Q3;

        /// <summary>+= the row's 4 bytes in 32-bit lane <paramref name="lane"/> of <paramref name="a"/> · the 4 channels × 4 k of each quad of <paramref name="b"/> (SDOT by element).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void DotByLane(Vector128<sbyte> a, [ConstantExpected(Max = (byte)3)] byte lane, PanelGroup b)
        {
            Q0 = Dp.DotProductBySelectedQuadruplet(Q0, b.Q0, a, lane);
            Q1 = Dp.DotProductBySelectedQuadruplet(Q1, b.Q1, a, lane);
            Q2 = Dp.DotProductBySelectedQuadruplet(Q2, b.Q2, a, lane);
            Q3 = Dp.DotProductBySelectedQuadruplet(Q3, b.Q3, a, lane);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Store(ref int c, bool first) => QuantizedGemm.Store(Q0, Q1, Q2, Q3, ref c, first);
    }

    /// <summary>
    /// 2×16 tile for NEON without DotProd: SMULL/SMULL2 multiply the low/high 8 bytes of a 16-byte vector (channels
    /// 2q, 2q+1 / 2q+2, 2q+3 × 4 k) into 8 int16 (|product| ≤ 127² fits), SADALP adds adjacent pairs into int32 lanes
    /// that each hold half a channel's group; ADDP folds the halves at the end. 16 accumulators, so 2 rows.
    /// </summary>
    internal readonly struct Tile2x16Smull : IInt8MicroKernel
    {
        public static int Rows => 2;

        public static int Panels => 1;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Tile<TGroups>(ref byte a, nuint lda, ref sbyte b, nuint panelStride, ref int groupList, nuint count, ref int c, nuint ldc, bool first)
            where TGroups : struct, PackedGemm.IKColumns
        {
            // c{row}_{quad}{L|H}: channels 4q, 4q+1 (L) and 4q+2, 4q+3 (H), two int32 half-sums per channel.
            Vector128<int> c0_0L = default, c0_0H = default, c0_1L = default, c0_1H = default;
            Vector128<int> c0_2L = default, c0_2H = default, c0_3L = default, c0_3H = default;
            Vector128<int> c1_0L = default, c1_0H = default, c1_1L = default, c1_1H = default;
            Vector128<int> c1_2L = default, c1_2H = default, c1_3L = default, c1_3H = default;
            ref byte aRow0 = ref a;
            ref byte aRow1 = ref Unsafe.Add(ref a, lda);
            for (nuint j = 0; j < count; j++)
            {
                nuint g = TGroups.At(ref groupList, j);
                var panel = new PanelGroup(ref b, g * GroupBytes);
                nuint ka = 4 * g;
                Vector128<sbyte> a0 = Broadcast4(ref Unsafe.Add(ref aRow0, ka));
                Step(ref c0_0L, ref c0_0H, a0, panel.Q0); Step(ref c0_1L, ref c0_1H, a0, panel.Q1);
                Step(ref c0_2L, ref c0_2H, a0, panel.Q2); Step(ref c0_3L, ref c0_3H, a0, panel.Q3);
                Vector128<sbyte> a1 = Broadcast4(ref Unsafe.Add(ref aRow1, ka));
                Step(ref c1_0L, ref c1_0H, a1, panel.Q0); Step(ref c1_1L, ref c1_1H, a1, panel.Q1);
                Step(ref c1_2L, ref c1_2H, a1, panel.Q2); Step(ref c1_3L, ref c1_3H, a1, panel.Q3);
            }

            Store(Fold(c0_0L, c0_0H), Fold(c0_1L, c0_1H), Fold(c0_2L, c0_2H), Fold(c0_3L, c0_3H), ref c, first);
            Store(Fold(c1_0L, c1_0H), Fold(c1_1L, c1_1H), Fold(c1_2L, c1_2H), Fold(c1_3L, c1_3H), ref Unsafe.Add(ref c, ldc), first);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Row<TGroups>(ref byte a, ref sbyte b, ref int groupList, nuint count, ref int c, bool first)
            where TGroups : struct, PackedGemm.IKColumns
        {
            Vector128<int> c0L = default, c0H = default, c1L = default, c1H = default;
            Vector128<int> c2L = default, c2H = default, c3L = default, c3H = default;
            for (nuint j = 0; j < count; j++)
            {
                nuint g = TGroups.At(ref groupList, j);
                var panel = new PanelGroup(ref b, g * GroupBytes);
                Vector128<sbyte> x = Broadcast4(ref Unsafe.Add(ref a, 4 * g));
                Step(ref c0L, ref c0H, x, panel.Q0);
                Step(ref c1L, ref c1H, x, panel.Q1);
                Step(ref c2L, ref c2H, x, panel.Q2);
                Step(ref c3L, ref c3H, x, panel.Q3);
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

    /// <summary>One k group of a packed panel, 16 channels × 4 k: channels 4q..4q+3 in the 16-byte vector <c>Q{q}</c>.</summary>
    private readonly struct PanelGroup
    {
        public readonly Vector128<sbyte> Q0, Q1, Q2, Q3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public PanelGroup(ref sbyte b, nuint offset)
            : this(ref Unsafe.Add(ref b, offset))
        {
        }

        /// <summary>The group at <paramref name="group"/>: its address once, the four loads at constant offsets from it.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public PanelGroup(ref sbyte group)
        {
            Q0 = Vector128.LoadUnsafe(ref group);
            Q1 = Vector128.LoadUnsafe(ref group, 16);
            Q2 = Vector128.LoadUnsafe(ref group, 32);
            Q3 = Vector128.LoadUnsafe(ref group, 48);
        }
    }

    /// <summary>
    /// A row's 4 activation bytes at <paramref name="source"/> in 32-bit lane 0 (the other lanes unspecified), for SDOT by
    /// lane 0. Read as a float so that the JIT emits one <c>LDR s</c> (an int would go through a general register and an
    /// <c>FMOV</c>/<c>INS</c>); a float load into a vector register moves the bits unchanged.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<sbyte> LoadGroup(ref byte source) =>
        Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<float>(ref source)).AsSByte();

    /// <summary>A row's 4 activation bytes at <paramref name="source"/> in every 32-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<sbyte> Broadcast4(ref byte source) => Vector128.Create(Unsafe.ReadUnaligned<int>(ref source)).AsSByte();

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
