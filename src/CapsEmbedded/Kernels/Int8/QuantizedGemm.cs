using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels.Int8;

/// <summary>
/// C[m, n] = A[m, k] · Bᵀ in exact int32, with A unsigned 7-bit activations and B signed 8-bit weights packed once by
/// <see cref="Pack"/>. Every <see cref="Int8Tier"/> produces the same bits (src/CapsEmbedded/Kernels/Int8/README.md).
/// </summary>
/// <remarks>
/// <para>Packed layout (the same for every tier): k is padded with zero weights to a multiple of 4 and cut into blocks
/// of <see cref="KBlock"/>; inside a block, panels of <see cref="PanelWidth"/> output channels; inside a panel, groups
/// of 4 consecutive k: [k block][panel][group][16 channels][4 k] — 64 bytes per group, exactly one 512-bit vector, two
/// 256-bit or four 128-bit ones, each 32-bit lane holding the 4 weights that one dot-product lane (vpmaddubsw+vpmaddwd,
/// vpdpbusd, SDOT) multiplies with the 4 broadcast activation bytes.</para>
/// <para>Activations: each byte of A must be in [0, 127] ("u7"). vpmaddubsw adds two u8 × s8 products into an int16
/// with saturation; 2 · 127 · 127 = 32258 fits, so no tier saturates and all equal the plain sum. A byte above 127 is a
/// broken contract that only the Scalar tier detects (it throws); the SIMD tiers then return tier-dependent values.</para>
/// <para>Exactness bound: |C| ≤ k · 127 · 127, which fits int32 for k ≤ <see cref="MaxK"/> (the primary capsules' 20736
/// uses 16 % of it).</para>
/// </remarks>
public static partial class QuantizedGemm
{
    /// <summary>Output channels per packed panel: one 512-bit vector of int32 sums.</summary>
    public const int PanelWidth = 16;

    /// <summary>k values (bytes) per cache block: a panel's block is 8 KiB and 36 A rows' 18 KiB (L1), one block of all of a 256-channel B is 128 KiB (L2).</summary>
    public const int KBlock = 512;

    /// <summary>Largest k whose worst-case sum k · 127 · 127 still fits an int32.</summary>
    public const int MaxK = int.MaxValue / (127 * 127);

    /// <summary>Bytes per k group of a panel: 16 channels × 4 k.</summary>
    internal const int GroupBytes = PanelWidth * 4;

    /// <summary>sbytes <see cref="Pack"/> writes for an [n][k] matrix: ⌈n / 16⌉ panels × 16 × k rounded up to a multiple of 4.</summary>
    public static int PackedLength(int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, MaxK);
        return KernelArguments.PackedLength((long)PanelCount(n) * PanelWidth * PaddedK(k), n, k, "int8 matrix", "bytes");
    }

    /// <summary>
    /// Rewrites <paramref name="bOutIn"/> ([n][k] row-major, each weight in [-127, 127]) into the layout described on the
    /// class; padding is zero. Throws <see cref="ArgumentException"/> on a -128 weight (symmetric quantisation never makes
    /// one, and excluding it keeps every tier's products inside their intermediate ranges).
    /// </summary>
    public static void Pack(ReadOnlySpan<sbyte> bOutIn, int n, int k, Span<sbyte> packed)
    {
        int packedLength = PackedLength(n, k);
        KernelArguments.RequireLength(bOutIn.Length, (long)n * k, nameof(bOutIn), "n·k");
        KernelArguments.RequireLength(packed.Length, packedLength, nameof(packed), "PackedLength(n, k)");
        int bad = bOutIn[..(n * k)].IndexOf(sbyte.MinValue);
        if (bad >= 0)
        {
            throw new ArgumentException(
                $"bOutIn[{bad}] (row {bad / k}, column {bad % k}) is -128; int8 weights must be in [-127, 127].", nameof(bOutIn));
        }

        packed[..packedLength].Clear();
        int panels = PanelCount(n);
        for (int row = 0; row < n; row++)
        {
            ReadOnlySpan<sbyte> source = bOutIn.Slice(row * k, k);
            for (int kk = 0; kk < k; kk++)
            {
                packed[PackedIndex(row, kk, k, panels)] = source[kk];
            }
        }
    }

    /// <summary>Where B[row][kk] lives in the packed layout (see the class remarks).</summary>
    internal static int PackedIndex(int row, int kk, int k, int panels)
    {
        int k0 = kk / KBlock * KBlock;
        int kc = Math.Min(KBlock, PaddedK(k) - k0);
        return k0 * panels * PanelWidth + row / PanelWidth * kc * PanelWidth
            + (kk - k0) / 4 * GroupBytes + row % PanelWidth * 4 + kk % 4;
    }

    /// <summary>Packed panels of an n-column B: ⌈n / 16⌉.</summary>
    public static int PanelCount(int n) => (n + PanelWidth - 1) / PanelWidth;

    private static int PaddedK(int k) => (k + 3) & ~3;

    /// <summary>C = A · Bᵀ on <see cref="Int8Tiers.Best"/>.</summary>
    public static void Multiply(ReadOnlySpan<byte> a, int m, int k, ReadOnlySpan<sbyte> packedB, int n, Span<int> c) =>
        Multiply(a, m, k, packedB, n, c, 0, m, Int8Tiers.Best);

    /// <summary>C = A · Bᵀ on <paramref name="tier"/>.</summary>
    public static void Multiply(ReadOnlySpan<byte> a, int m, int k, ReadOnlySpan<sbyte> packedB, int n, Span<int> c, Int8Tier tier) =>
        Multiply(a, m, k, packedB, n, c, 0, m, tier);

    /// <summary>
    /// Rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of C[i, j] = Σ_kk A[i, kk] · B[j, kk] (exact int32);
    /// the other rows of C are left untouched, so threads can split one product by rows (any split gives the same bits).
    /// </summary>
    /// <param name="a">[m][k] row-major (row stride k, no padding), each byte in [0, 127]: the caller's contract, see the class remarks.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="k">Inner dimension, 0 to <see cref="MaxK"/>.</param>
    /// <param name="packedB">B [n][k] after <see cref="Pack"/>.</param>
    /// <param name="n">Columns of C (output channels).</param>
    /// <param name="c">[m][n] row-major output; its previous contents in the row range are ignored.</param>
    /// <param name="rowStart">First row computed.</param>
    /// <param name="rowEnd">One past the last row computed.</param>
    /// <param name="tier">The instruction tier; <see cref="PlatformNotSupportedException"/> if this machine cannot run it.</param>
    public static void Multiply(ReadOnlySpan<byte> a, int m, int k, ReadOnlySpan<sbyte> packedB, int n, Span<int> c,
        int rowStart, int rowEnd, Int8Tier tier) =>
        Multiply(a, m, k, packedB, n, c, rowStart, rowEnd, tier, ZeroColumns.Skip);

    /// <summary>As above; <paramref name="zeroGroups"/> = <see cref="ZeroColumns.Compute"/> runs every k group (tests and measurements compare the two).</summary>
    internal static void Multiply(ReadOnlySpan<byte> a, int m, int k, ReadOnlySpan<sbyte> packedB, int n, Span<int> c,
        int rowStart, int rowEnd, Int8Tier tier, ZeroColumns zeroGroups)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, MaxK);
        Int8Tiers.ThrowIfUnsupported(tier);
        if (rowStart < 0 || rowEnd < rowStart || rowEnd > m)
        {
            throw new ArgumentOutOfRangeException(nameof(rowEnd), $"row range [{rowStart}, {rowEnd}) is not inside the {m} rows of A.");
        }

        KernelArguments.RequireLength(a.Length, (long)m * k, nameof(a), "m·k");
        KernelArguments.RequireLength(packedB.Length, PackedLength(n, k), nameof(packedB), "PackedLength(n, k)");
        KernelArguments.RequireLength(c.Length, (long)m * n, nameof(c), "m·n");
        if (rowStart == rowEnd || n == 0)
        {
            return;
        }

        if (k == 0)
        {
            c[(rowStart * n)..(rowEnd * n)].Clear(); // an empty sum
            return;
        }

        switch (tier)
        {
            case Int8Tier.Avx2:
                Drive<Tile1x32V256<MaddubsDot256>>(a, k, packedB, n, c, rowStart, rowEnd, zeroGroups);
                break;
            case Int8Tier.Avx512BW:
                Drive<Tile1x32Avx512BW>(a, k, packedB, n, c, rowStart, rowEnd, zeroGroups);
                break;
            case Int8Tier.AvxVnni:
                Drive<Tile1x32V256<VnniDot256>>(a, k, packedB, n, c, rowStart, rowEnd, zeroGroups);
                break;
            case Int8Tier.AdvSimdDp:
                Drive<Tile1x64Sdot>(a, k, packedB, n, c, rowStart, rowEnd, zeroGroups);
                break;
            case Int8Tier.AdvSimd:
                Drive<Tile2x16Smull>(a, k, packedB, n, c, rowStart, rowEnd, zeroGroups);
                break;
            default:
                MultiplyScalar(a, k, packedB, n, c, rowStart, rowEnd);
                break;
        }
    }

    /// <summary>The reference every tier must equal: one plain int sum per output. It also enforces A's u7 contract.</summary>
    private static void MultiplyScalar(ReadOnlySpan<byte> a, int k, ReadOnlySpan<sbyte> packedB, int n, Span<int> c,
        int rowStart, int rowEnd)
    {
        int panels = PanelCount(n);
        for (int i = rowStart; i < rowEnd; i++)
        {
            ReadOnlySpan<byte> aRow = a.Slice(i * k, k);
            int over = aRow.IndexOfAnyInRange((byte)128, byte.MaxValue);
            if (over >= 0)
            {
                throw new ArgumentException(
                    $"a[{i * k + over}] (row {i}, column {over}) is {aRow[over]}; int8 activations must be in [0, 127].", nameof(a));
            }

            for (int j = 0; j < n; j++)
            {
                int sum = 0;
                for (int kk = 0; kk < k; kk++)
                {
                    if (aRow[kk] == 0) continue; // a zero activation adds nothing, as the SIMD tiers' zero groups
                    sum += aRow[kk] * packedB[PackedIndex(j, kk, k, panels)];
                }

                c[i * n + j] = sum;
            }
        }
    }

    /// <summary>Rows of A per chunk of <see cref="Drive{TKernel}"/>: a chunk's k block (36 rows × 512 bytes for the primary capsules) stays in L1.</summary>
    internal const int RowChunk = 48;

    /// <summary>
    /// The cache-blocked loop nest shared by the SIMD tiers: chunks of up to <see cref="RowChunk"/> rows → k blocks →
    /// panels, TKernel.Panels at a time (their k block, 8 KiB each, stays in L1) → the chunk's row tiles of TKernel.Rows
    /// rows (their A block stays in L1 too). Partial sums live in C between blocks.
    /// Before the panels, each row tile's groups where its A is all zero are listed out once per block
    /// (QuantizedGemm.ZeroGroups.cs), and every panel's kernel steps over the rest only.
    /// The kernels read A four bytes at a time, so the last group of an A row whose k is not a multiple of 4 is first
    /// copied, zero-padded, to the stack (reading past it could leave the span). Panels left over after the
    /// TKernel.Panels-wide tiles, and rows left below a whole tile, go through the 1-row, 1-panel kernel; a partial last
    /// panel goes through a stack tile so that kernels only write whole 16-wide rows.
    /// </summary>
    private static void Drive<TKernel>(ReadOnlySpan<byte> a, int k, ReadOnlySpan<sbyte> packedB, int n, Span<int> c,
        int rowStart, int rowEnd, ZeroColumns zeroGroups)
        where TKernel : IInt8MicroKernel
    {
        int rowsPerTile = TKernel.Rows;
        int panels = PanelCount(n);
        int fullPanels = n / PanelWidth;
        int tiledPanels = fullPanels / TKernel.Panels * TKernel.Panels; // run TKernel.Panels at a time by Tile
        int kPadded = PaddedK(k);
        int tailBytes = k % 4; // bytes of A's last, partial group (0: none)
        const int listLength = KBlock / 4;

        Span<byte> aTail = stackalloc byte[RowChunk * 4]; // row r of the chunk at 4r: rows 4 bytes apart
        Span<int> cTail = stackalloc int[IInt8MicroKernel.MaxRows * PanelWidth];
        // Per row tile of the chunk (indexed by its first row): the non-zero groups of its current k block, and how many
        // (-1: the block runs dense).
        Span<int> groupLists = stackalloc int[RowChunk * listLength];
        Span<int> listCounts = stackalloc int[RowChunk];
        ref byte aRef = ref MemoryMarshal.GetReference(a);
        ref sbyte bRef = ref MemoryMarshal.GetReference(packedB);
        ref int cRef = ref MemoryMarshal.GetReference(c);
        ref byte aTailRef = ref MemoryMarshal.GetReference(aTail);
        ref int cTailRef = ref MemoryMarshal.GetReference(cTail);
        ref int groupListsRef = ref MemoryMarshal.GetReference(groupLists);
        nuint lda = (nuint)k;
        nuint ldc = (nuint)n;
        // Listing is only worth the scan when several panels share it (the thresholds are the float kernels').
        bool skipZeroGroups = zeroGroups == ZeroColumns.Skip && panels >= PackedGemm.MinPanelsToSkipZeros;

        for (int chunkStart = rowStart; chunkStart < rowEnd; chunkStart += RowChunk)
        {
            int chunkEnd = Math.Min(rowEnd, chunkStart + RowChunk);
            int tiledEnd = chunkStart + (chunkEnd - chunkStart) / rowsPerTile * rowsPerTile;
            for (int k0 = 0; k0 < kPadded; k0 += KBlock)
            {
                int kc = Math.Min(KBlock, kPadded - k0);
                bool first = k0 == 0;
                int groups = kc / 4;
                // In the last block a partial A group is read from the stack copy instead.
                int directGroups = k0 + kc == kPadded && tailBytes != 0 ? groups - 1 : groups;
                bool hasTail = directGroups != groups;
                ref sbyte bBlock = ref Unsafe.Add(ref bRef, (nuint)k0 * (nuint)(panels * PanelWidth));
                nuint panelStride = (nuint)kc * PanelWidth;
                // The next k block of every panel (128 KiB for the primary capsules), a slice before each kernel call: the
                // listed groups touch this block's lines out of order, so without it the first rows wait on DRAM.
                int kernelCalls = ((panels - tiledPanels) + tiledPanels / TKernel.Panels) * ((tiledEnd - chunkStart) / rowsPerTile + chunkEnd - tiledEnd);
                var prefetch = k0 + kc < kPadded
                    ? new NextBlockPrefetch(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref bBlock, (nuint)kc * (nuint)(panels * PanelWidth))),
                        (nint)Math.Min(KBlock, kPadded - k0 - kc) * panels * PanelWidth, kernelCalls)
                    : NextBlockPrefetch.None;

                for (int i0 = chunkStart; i0 < chunkEnd;)
                {
                    int rows = i0 < tiledEnd ? rowsPerTile : 1;
                    int t = i0 - chunkStart;
                    if (hasTail)
                    {
                        for (int r = 0; r < rows; r++)
                        {
                            Span<byte> tail = aTail.Slice((t + r) * 4, 4);
                            tail.Clear();
                            a.Slice((i0 + r) * k + k0 + directGroups * 4, tailBytes).CopyTo(tail);
                        }
                    }

                    int count = skipZeroGroups
                        ? NonzeroGroups(ref Unsafe.Add(ref aRef, (nuint)i0 * lda + (nuint)k0), lda, rows, directGroups,
                            ref Unsafe.Add(ref groupListsRef, t * listLength))
                        : directGroups;
                    // Listing pays once enough groups are zero; below that the dense loop is as fast.
                    listCounts[t] = count * PackedGemm.DenseColumnShare.Denominator < directGroups * PackedGemm.DenseColumnShare.Numerator ? count : -1;
                    i0 += rows;
                }

                for (int panel = 0; panel < panels;)
                {
                    ref sbyte bPanel = ref Unsafe.Add(ref bBlock, (nuint)panel * panelStride);
                    int column0 = panel * PanelWidth;
                    bool wide = panel < tiledPanels; // TKernel.Panels whole panels, by Tile
                    bool partial = panel >= fullPanels;
                    int columns = Math.Min(PanelWidth, n - column0);
                    for (int i0 = chunkStart; i0 < chunkEnd;)
                    {
                        int rows = i0 < tiledEnd ? rowsPerTile : 1;
                        int t = i0 - chunkStart;
                        int listed = listCounts[t];
                        ref byte aTile = ref Unsafe.Add(ref aRef, (nuint)i0 * lda + (nuint)k0);
                        ref int groupList = ref Unsafe.Add(ref groupListsRef, t * listLength);
                        prefetch.Next();
                        if (wide)
                        {
                            ref int cTile = ref Unsafe.Add(ref cRef, (nuint)i0 * ldc + (nuint)column0);
                            if (rows == rowsPerTile)
                            {
                                TilePanels<TKernel>(ref aTile, lda, ref bPanel, panelStride, ref groupList, listed, directGroups, hasTail,
                                    ref Unsafe.Add(ref aTailRef, t * 4), ref cTile, ldc, first);
                            }
                            else
                            {
                                for (int p = 0; p < TKernel.Panels; p++)
                                {
                                    RowPanel<TKernel>(ref aTile, ref Unsafe.Add(ref bPanel, (nuint)p * panelStride), ref groupList, listed, directGroups, hasTail,
                                        ref Unsafe.Add(ref aTailRef, t * 4), ref Unsafe.Add(ref cTile, p * PanelWidth), first);
                                }
                            }
                        }
                        else
                        {
                            if (partial && !first)
                            {
                                for (int r = 0; r < rows; r++)
                                {
                                    c.Slice((i0 + r) * n + column0, columns).CopyTo(cTail.Slice(r * PanelWidth));
                                }
                            }

                            ref int cTile = ref partial ? ref cTailRef : ref Unsafe.Add(ref cRef, (nuint)i0 * ldc + (nuint)column0);
                            nuint cStride = partial ? PanelWidth : ldc;
                            if (rows > 1 && TKernel.Panels == 1)
                            {
                                TilePanels<TKernel>(ref aTile, lda, ref bPanel, panelStride, ref groupList, listed, directGroups, hasTail,
                                    ref Unsafe.Add(ref aTailRef, t * 4), ref cTile, cStride, first);
                            }
                            else
                            {
                                // A 1-row tile's list holds that row's groups; a tile of several rows lists their union.
                                for (int r = 0; r < rows; r++)
                                {
                                    RowPanel<TKernel>(ref Unsafe.Add(ref aTile, (nuint)r * lda), ref bPanel, ref groupList, listed, directGroups, hasTail,
                                        ref Unsafe.Add(ref aTailRef, (t + r) * 4), ref Unsafe.Add(ref cTile, (nuint)r * cStride), first);
                                }
                            }

                            if (partial)
                            {
                                for (int r = 0; r < rows; r++)
                                {
                                    cTail.Slice(r * PanelWidth, columns).CopyTo(c.Slice((i0 + r) * n + column0));
                                }
                            }
                        }

                        i0 += rows;
                    }

                    panel += wide ? TKernel.Panels : 1;
                }
            }
        }
    }

    /// <summary>
    /// A register tile (TKernel.Rows rows × TKernel.Panels panels) of a k block: its listed groups (or all when
    /// <paramref name="listed"/> is -1), then the partial last group from the stack copy; C rows <paramref name="ldc"/> ints apart.
    /// Even with no group left the call runs: on the first block it writes the zero sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TilePanels<TKernel>(ref byte a, nuint lda, ref sbyte b, nuint panelStride, ref int groupList, int listed,
        int directGroups, bool hasTail, ref byte aTail, ref int c, nuint ldc, bool first)
        where TKernel : IInt8MicroKernel
    {
        if (listed >= 0) TKernel.Tile<PackedGemm.ListedColumns>(ref a, lda, ref b, panelStride, ref groupList, (nuint)listed, ref c, ldc, first);
        else TKernel.Tile<PackedGemm.AllColumns>(ref a, lda, ref b, panelStride, ref groupList, (nuint)directGroups, ref c, ldc, first);
        if (hasTail)
        {
            TKernel.Tile<PackedGemm.AllColumns>(ref aTail, 4, ref Unsafe.Add(ref b, (nuint)directGroups * GroupBytes), panelStride, ref groupList, 1,
                ref c, ldc, first && directGroups == 0);
        }
    }

    /// <summary>One row of A against one panel of a k block: its listed groups (or all when <paramref name="listed"/> is -1), then the partial last group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowPanel<TKernel>(ref byte a, ref sbyte b, ref int groupList, int listed, int directGroups, bool hasTail,
        ref byte aTail, ref int c, bool first)
        where TKernel : IInt8MicroKernel
    {
        if (listed >= 0) TKernel.Row<PackedGemm.ListedColumns>(ref a, ref b, ref groupList, (nuint)listed, ref c, first);
        else TKernel.Row<PackedGemm.AllColumns>(ref a, ref b, ref groupList, (nuint)directGroups, ref c, first);
        if (hasTail)
        {
            TKernel.Row<PackedGemm.AllColumns>(ref aTail, ref Unsafe.Add(ref b, (nuint)directGroups * GroupBytes), ref groupList, 1, ref c,
                first && directGroups == 0);
        }
    }

    /// <summary>A register-tile micro-kernel of one tier, specialised by the JIT through static abstract members.</summary>
    internal interface IInt8MicroKernel
    {
        /// <summary>Largest <see cref="Rows"/> of any kernel (sizes the stack tiles).</summary>
        const int MaxRows = 4;

        /// <summary>Rows of A per register tile.</summary>
        static abstract int Rows { get; }

        /// <summary>Panels (16 channels each) per register tile.</summary>
        static abstract int Panels { get; }

        /// <summary>
        /// C[Rows × 16·Panels] (+)= A[Rows × 4·g] · Panels consecutive panels' groups [g × 16 × 4] (the first at
        /// <paramref name="b"/>, the next <paramref name="panelStride"/> bytes on), summed over the <paramref name="count"/>
        /// groups that <typeparamref name="TGroups"/> names (the j-th is group TGroups.At(groupList, j)): A rows are lda
        /// bytes apart and read 4 bytes per group; C rows ldc ints apart; C is overwritten when <paramref name="first"/>,
        /// else added to.
        /// </summary>
        static abstract void Tile<TGroups>(ref byte a, nuint lda, ref sbyte b, nuint panelStride, ref int groupList, nuint count, ref int c,
            nuint ldc, bool first)
            where TGroups : struct, PackedGemm.IKColumns;

        /// <summary>C[1 × 16] (+)= A[1 × 4·g] · one panel's groups, over the groups <typeparamref name="TGroups"/> names.</summary>
        static abstract void Row<TGroups>(ref byte a, ref sbyte b, ref int groupList, nuint count, ref int c, bool first)
            where TGroups : struct, PackedGemm.IKColumns;
    }
}
