using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

/// <summary>
/// C[m, n] = act(A[m, k] · Bᵀ + bias) with B pre-packed into panels of <see cref="PanelWidth"/> output channels.
/// </summary>
/// <remarks>
/// <para>B arrives as PyTorch stores it: [n][k] row-major (linear [out, in]; conv [out][in·kh·kw], which matches
/// <see cref="Im2Col"/>'s patch rows). <see cref="Pack"/> rewrites it once into panels: panel p holds, for every kk in
/// 0..k, the 16 values B[16p + t][kk] (t = 0..15) contiguously, zero-padded past n. The panels are cut into the same k
/// blocks as the loop nest and stored block-major ([k block][panel][kk in block][16]), so that one k block of all of B —
/// what the row tiles sweep over — is one sequential stream for the hardware prefetcher. The layout is the same for every tier.</para>
/// <para>Each tier has a register-tile micro-kernel (XNNPACK style: broadcast A[i][kk], fused multiply-add into
/// rows × 16 accumulators), all written once over the vector type in PackedGemm.MicroKernels.cs: Vector512 6×32 (two
/// panels), Vector256 6×16, Vector128 2×32 (two panels), plus a 1×16 kernel for the rows left over (and for m = 1, a GEMV). k is cut into blocks of <see cref="KBlock"/>: a row tile's A block (6 × 256 floats)
/// stays in L1 while it sweeps over the k block of every panel (256 KiB for n = 256, in L2: read from memory once, and
/// on x86 prefetched while the previous block is swept); partial sums live in C between blocks. Bias and ReLU are applied
/// in registers after the last k block, sigmoid in one pass at the end. How near the FMA peak that runs at the
/// primary-capsule shape 36 × 20736 × 256: bench/RESULTS.md, the peers section.</para>
/// <para>Zeros of A are skipped (PackedGemm.ZeroColumns.cs): before a row tile sweeps a k block, the k columns where
/// all its rows of A are zero are dropped from a list that every panel's micro-kernel then walks. The sums are the
/// same, product for product, as long as B is finite (a skipped 0·∞ would have been NaN; weights are checked finite when
/// loaded). On conv1's ReLU output of real digits this removes most of the primary conv's multiply-adds.</para>
/// </remarks>
public static partial class PackedGemm
{
    /// <summary>Output channels per packed panel (the N of every micro-kernel's register tile).</summary>
    public const int PanelWidth = 16;

    /// <summary>
    /// A multiple of every tier's register-tile rows (6 and 2): threads that cut C's rows at multiples of it get the row
    /// tiles, and the rows left to the 1-row kernel (whose sum order differs), of the whole product, so they reproduce its
    /// bits; and a cut this fine keeps the parts of a small map even.
    /// </summary>
    public const int RowGranule = 6;

    /// <summary>k values per cache block (and per block of the packed layout): a panel's block is KBlock × 16 floats = 16 KiB.</summary>
    public const int KBlock = 256;

    /// <summary>Floats <see cref="Pack"/> writes for an [n][k] matrix: ⌈n/16⌉ panels × k × 16.</summary>
    public static int PackedLength(int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        return KernelArguments.PackedLength((long)PanelCount(n) * k * PanelWidth, n, k, "matrix", "floats");
    }

    /// <summary>Rewrites <paramref name="bOutIn"/> ([n][k] row-major) into the panel layout described on the class.</summary>
    public static void Pack(ReadOnlySpan<float> bOutIn, int n, int k, Span<float> packed)
    {
        int packedLength = PackedLength(n, k);
        KernelArguments.RequireLength(bOutIn.Length, (long)n * k, nameof(bOutIn), "n·k");
        KernelArguments.RequireLength(packed.Length, packedLength, nameof(packed), "PackedLength(n, k)");
        for (int panel = 0; panel < PanelCount(n); panel++)
        {
            int first = panel * PanelWidth;
            PackPanel(bOutIn.Slice(first * k, Math.Min(PanelWidth, n - first) * k), panel, n, k, packed);
        }
    }

    /// <summary>
    /// Writes panel <paramref name="panel"/> of the layout (every k block of it, zero-padded past n) from
    /// <paramref name="rows"/>, the rows 16·panel.. of B ([rows][k], as many as the panel holds): packing panel by panel
    /// needs only one panel's rows at a time, e.g. as they are widened from F16.
    /// </summary>
    public static void PackPanel(ReadOnlySpan<float> rows, int panel, int n, int k, Span<float> packed)
    {
        int packedLength = PackedLength(n, k);
        int panels = PanelCount(n);
        ArgumentOutOfRangeException.ThrowIfNegative(panel);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(panel, panels);
        int rowCount = Math.Min(PanelWidth, n - panel * PanelWidth);
        KernelArguments.RequireLength(rows.Length, (long)rowCount * k, nameof(rows), "the panel's rows · k");
        KernelArguments.RequireLength(packed.Length, packedLength, nameof(packed), "PackedLength(n, k)");
        ref float rowsRef = ref MemoryMarshal.GetReference(rows);
        for (int k0 = 0; k0 < k; k0 += KBlock)
        {
            int kc = Math.Min(KBlock, k - k0);
            Span<float> block = packed.Slice(k0 * panels * PanelWidth + panel * kc * PanelWidth, kc * PanelWidth);
            if (rowCount < PanelWidth) block.Clear(); // the lanes past n
            for (int row = 0; row < rowCount; row++)
            {
                // Row `row` of the panel, this k block: a strided column of the panel's block (16 KiB, in L1).
                ref float source = ref Unsafe.Add(ref rowsRef, (nuint)(row * k + k0));
                ref float target = ref Unsafe.Add(ref MemoryMarshal.GetReference(block), (nuint)row);
                for (int kk = 0; kk < kc; kk++)
                {
                    Unsafe.Add(ref target, (nuint)(kk * PanelWidth)) = Unsafe.Add(ref source, (nuint)kk);
                }
            }
        }
    }

    /// <summary>Where B[row][kk] lives in the packed layout (see the class remarks).</summary>
    internal static int PackedIndex(int row, int kk, int k, int panels)
    {
        int k0 = kk / KBlock * KBlock;
        int kc = Math.Min(KBlock, k - k0);
        return k0 * panels * PanelWidth + (row / PanelWidth * kc + (kk - k0)) * PanelWidth + row % PanelWidth;
    }

    /// <summary>C = act(A · Bᵀ + bias) on the best tier (<see cref="SimdTiers.Best"/>).</summary>
    public static void Multiply(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> packedB, int n,
        ReadOnlySpan<float> bias, Activation activation, Span<float> c) =>
        Multiply(a, m, k, packedB, n, bias, activation, c, SimdTiers.Best);

    /// <summary>
    /// C[m, n] = act(A[m, k] · Bᵀ + bias) on <paramref name="tier"/>.
    /// </summary>
    /// <param name="a">[m][k] row-major (rows contiguous, lda = k).</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="k">Inner dimension.</param>
    /// <param name="packedB">B [n][k] after <see cref="Pack"/>.</param>
    /// <param name="n">Columns of C (output channels).</param>
    /// <param name="bias">n values added to every row, or empty for none.</param>
    /// <param name="activation">Applied after the bias.</param>
    /// <param name="c">[m][n] row-major output; its previous contents are ignored.</param>
    /// <param name="tier">The SIMD tier; <see cref="PlatformNotSupportedException"/> if this machine cannot run it.</param>
    public static void Multiply(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> packedB, int n,
        ReadOnlySpan<float> bias, Activation activation, Span<float> c, SimdTier tier) =>
        MultiplyPanels(a, m, k, packedB, n, bias, activation, c, tier, 0, PanelCount(n));

    /// <summary>
    /// Only columns [16·<paramref name="panelBegin"/>, min(n, 16·<paramref name="panelEnd"/>)) of C = act(A · Bᵀ + bias);
    /// the other columns of C are left untouched. Each output is computed exactly as by <see cref="Multiply(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Activation, Span{float}, SimdTier)"/>
    /// (the same kk order), so threads that each take a panel range of one product produce its bits exactly.
    /// </summary>
    public static void MultiplyPanels(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> packedB, int n,
        ReadOnlySpan<float> bias, Activation activation, Span<float> c, SimdTier tier, int panelBegin, int panelEnd) =>
        MultiplyPanels(a, m, k, packedB, n, bias, activation, c, tier, panelBegin, panelEnd, ZeroColumns.Skip);

    /// <summary>As above; <paramref name="zeroColumns"/> = <see cref="ZeroColumns.Compute"/> runs every column (tests compare the two).</summary>
    internal static void MultiplyPanels(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> packedB, int n,
        ReadOnlySpan<float> bias, Activation activation, Span<float> c, SimdTier tier, int panelBegin, int panelEnd,
        ZeroColumns zeroColumns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        KernelArguments.RequireLength(a.Length, (long)m * k, nameof(a), "m·k");
        var rows = new DenseRows(a, k);
        Compute(ref rows, m, k, new PackedB(packedB), n, bias, activation, c, tier, panelBegin, panelEnd, zeroColumns);
    }

    /// <summary>
    /// The checks and the tier dispatch every product shares, whatever holds A: <typeparamref name="TRows"/> hands out
    /// A's k blocks (a dense matrix, or the patches of a channels-last image read in place).
    /// </summary>
    private static void Compute<TRows>(ref TRows rows, int m, int k, PackedB packedB, int n,
        ReadOnlySpan<float> bias, Activation activation, Span<float> c, SimdTier tier, int panelBegin, int panelEnd,
        ZeroColumns zeroColumns)
        where TRows : struct, IRowBlocks, allows ref struct
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        SimdTiers.ThrowIfUnsupported(tier);
        if (!Enum.IsDefined(activation))
        {
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }

        if (panelBegin < 0 || panelEnd < panelBegin || panelEnd > PanelCount(n))
        {
            throw new ArgumentOutOfRangeException(nameof(panelEnd),
                $"panel range [{panelBegin}, {panelEnd}) is not inside the {PanelCount(n)} panels of n = {n}.");
        }

        KernelArguments.RequireLength(packedB.Length, PackedLength(n, k), nameof(packedB), "PackedLength(n, k)");
        if (packedB.IsHalf)
        {
            KernelArguments.RequireLength(packedB.Widened.Length, WidenedLength(n, k), "widened", "WidenedLength(n, k)");
        }

        KernelArguments.RequireLength(c.Length, (long)m * n, nameof(c), "m·n");
        if (bias.Length != 0 && bias.Length != n)
        {
            throw new ArgumentException($"bias has {bias.Length} elements; expected n = {n} (or 0 for no bias).", nameof(bias));
        }

        int column0 = panelBegin * PanelWidth;
        int columns = Math.Min(n, panelEnd * PanelWidth) - column0;
        if (m == 0 || columns <= 0)
        {
            return;
        }

        if (k == 0)
        {
            // An empty sum: C = act(bias).
            for (int i = 0; i < m; i++)
            {
                Span<float> row = c.Slice(i * n + column0, columns);
                if (bias.IsEmpty) row.Clear(); else bias.Slice(column0, columns).CopyTo(row);
            }
        }
        else
        {
            bool relu = activation == Activation.Relu;
            switch (tier)
            {
                case SimdTier.Vector512:
                    Drive<Gemm6x32Avx512, TRows>(ref rows, m, k, packedB, n, bias, relu, c, panelBegin, panelEnd, zeroColumns, tier);
                    break;
                case SimdTier.Vector256:
                    Drive<Gemm6x16Fma3, TRows>(ref rows, m, k, packedB, n, bias, relu, c, panelBegin, panelEnd, zeroColumns, tier);
                    break;
                case SimdTier.Vector128:
                    Drive<Gemm2x32Simd128, TRows>(ref rows, m, k, packedB, n, bias, relu, c, panelBegin, panelEnd, zeroColumns, tier);
                    break;
                default:
                    MultiplyScalar(ref rows, m, k, packedB, n, bias, relu, c, column0, column0 + columns);
                    break;
            }
        }

        for (int i = 0; i < m && (activation == Activation.Sigmoid || (activation == Activation.Relu && k == 0)); i++)
        {
            Span<float> row = c.Slice(i * n + column0, columns);
            if (activation == Activation.Sigmoid) ApplySigmoid(row); else ApplyRelu(row);
        }
    }

    /// <summary>Packed panels of an n-column B: ⌈n / 16⌉ (the unit of <see cref="MultiplyPanels(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Activation, Span{float}, SimdTier, int, int)"/>'s column ranges).</summary>
    public static int PanelCount(int n) => (n + PanelWidth - 1) / PanelWidth;

    private static void ApplySigmoid(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = 1f / (1f + MathF.Exp(-values[i]));
        }
    }

    private static void ApplyRelu(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = MathF.Max(values[i], 0f);
        }
    }

    /// <summary>The plain loop every SIMD tier is checked against: one sequential float sum per output.</summary>
    private static void MultiplyScalar<TRows>(ref TRows rows, int m, int k, PackedB packedB, int n,
        ReadOnlySpan<float> bias, bool relu, Span<float> c, int columnBegin, int columnEnd)
        where TRows : struct, IRowBlocks, allows ref struct
    {
        int panels = PanelCount(n);
        for (int i = 0; i < m; i++)
        {
            for (int j = columnBegin; j < columnEnd; j++)
            {
                float sum = 0f;
                for (int k0 = 0; k0 < k; k0 += KBlock)
                {
                    int kc = Math.Min(KBlock, k - k0);
                    ref float aBlock = ref rows.Block(i, 1, k0, kc, out _);
                    for (int kk = 0; kk < kc; kk++)
                    {
                        sum += Unsafe.Add(ref aBlock, kk) * packedB.At(PackedIndex(j, k0 + kk, k, panels));
                    }
                }

                sum += bias.IsEmpty ? 0f : bias[j];
                c[i * n + j] = relu ? MathF.Max(sum, 0f) : sum;
            }
        }
    }

    /// <summary>
    /// The cache-blocked loop nest shared by the SIMD tiers: k blocks (outer) → row tiles of TKernel.Rows rows (their
    /// A block stays in L1) → column tiles of TKernel.Panels panels (the k block of all of B streams from L2, one
    /// cache line per kk). Rows left over go through the 1×16 kernel; a partial last panel (n mod 16 ≠ 0) goes through a
    /// stack tile so that the kernels only ever write whole 16-wide rows.
    /// </summary>
    private static void Drive<TKernel, TRows>(ref TRows rows, int m, int k, PackedB packedB, int n,
        ReadOnlySpan<float> bias, bool relu, Span<float> c, int panelBegin, int panelEnd, ZeroColumns zeroColumns, SimdTier tier)
        where TKernel : struct, IGemmMicroKernel<TKernel>
        where TRows : struct, IRowBlocks, allows ref struct
    {
        int rowsPerTile = TKernel.Rows;
        int fullPanels = Math.Min(n / PanelWidth, panelEnd);
        int tailColumns = panelEnd * PanelWidth > n ? n % PanelWidth : 0;
        int tiledRows = m / rowsPerTile * rowsPerTile;

        // Small temporaries on the stack: zero bias, the partial panel's bias, a C tile for the partial panel.
        Span<float> zeroBias = stackalloc float[MaxTilePanels * PanelWidth];
        zeroBias.Clear();
        Span<float> tailBias = stackalloc float[PanelWidth];
        tailBias.Clear();
        if (tailColumns > 0 && !bias.IsEmpty)
        {
            bias[(fullPanels * PanelWidth)..].CopyTo(tailBias);
        }

        Span<float> tailTile = stackalloc float[MaxTileRows * PanelWidth];

        ref float bRef = ref MemoryMarshal.GetReference(packedB.Single);
        ref short halfRef = ref MemoryMarshal.GetReference(packedB.Half);
        ref float widenedRef = ref MemoryMarshal.GetReference(packedB.Widened);
        ref float cRef = ref MemoryMarshal.GetReference(c);
        ref float tileRef = ref MemoryMarshal.GetReference(tailTile);
        ref float tailBiasRef = ref MemoryMarshal.GetReference(tailBias);
        ref float biasRef = ref bias.IsEmpty ? ref MemoryMarshal.GetReference(zeroBias) : ref MemoryMarshal.GetReference(bias);
        nuint biasStride = bias.IsEmpty ? 0 : (nuint)PanelWidth; // the zero bias serves every panel
        nuint ldc = (nuint)n;
        nuint panelsTimesWidth = (nuint)(PanelCount(n) * PanelWidth);
        int column0 = n / PanelWidth * PanelWidth;

        int rowTiles = tiledRows / rowsPerTile;
        int callsPerBlock = rowTiles * ((fullPanels - panelBegin + TKernel.Panels - 1) / TKernel.Panels);
        // The k columns of a row tile's block where its A is not all zero; scanned once per tile and block, used by
        // every panel. Only worth the scan when several panels share it.
        Span<int> columns = stackalloc int[KBlock];
        ref int columnsRef = ref MemoryMarshal.GetReference(columns);
        bool skipZeroColumns = zeroColumns == ZeroColumns.Skip && panelEnd - panelBegin >= MinPanelsToSkipZeros;
        for (int k0 = 0; k0 < k; k0 += KBlock)
        {
            int kc = Math.Min(KBlock, k - k0);
            var flags = new BlockFlags(First: k0 == 0, Last: k0 + kc == k, relu);
            ref float bBlock = ref Unsafe.Add(ref bRef, (nuint)k0 * panelsTimesWidth);
            nuint panelStride = (nuint)kc * PanelWidth;
            if (packedB.IsHalf)
            {
                // This call's panels of the k block, widened to the same offsets of the scratch (threads that split the
                // panels write disjoint parts of it); the tiles then sweep floats in L2 as they would the float32 layout.
                nuint first = (nuint)panelBegin * panelStride;
                HalfPanels.Widen(ref Unsafe.Add(ref halfRef, (nuint)k0 * panelsTimesWidth + first), ref Unsafe.Add(ref widenedRef, first),
                    (nuint)(panelEnd - panelBegin) * panelStride, tier);
                bBlock = ref widenedRef;
            }

            // F16 blocks stream in sequentially as they are widened: the hardware prefetcher needs no help there.
            var prefetch = NextBlock(ref bRef, k0 + kc, k, panelsTimesWidth, panelBegin, fullPanels, packedB.IsHalf ? 0 : callsPerBlock);

            for (int i0 = 0; i0 < tiledRows; i0 += rowsPerTile)
            {
                ref float aTile = ref rows.Block(i0, rowsPerTile, k0, kc, out nuint lda);
                ref float cTile = ref Unsafe.Add(ref cRef, (nuint)i0 * ldc);
                int count = skipZeroColumns ? NonzeroColumns(ref aTile, lda, rowsPerTile, kc, ref columnsRef, TKernel.WideScan) : kc;
                // Listing the columns pays once enough of them are zero; below that the dense loop is as fast.
                bool listed = count * DenseColumnShare.Denominator < kc * DenseColumnShare.Numerator;
                nuint steps = (nuint)(listed ? count : kc);
                int panel = panelBegin;
                for (; panel + TKernel.Panels <= fullPanels; panel += TKernel.Panels)
                {
                    prefetch.Next();
                    ref float bPanel = ref Unsafe.Add(ref bBlock, (nuint)panel * panelStride);
                    ref float cPanel = ref Unsafe.Add(ref cTile, panel * PanelWidth);
                    ref float biasPanel = ref Unsafe.Add(ref biasRef, (nuint)panel * biasStride);
                    if (listed) TKernel.Tile<ListedColumns>(ref aTile, lda, ref bPanel, panelStride, ref columnsRef, steps, ref cPanel, ldc, ref biasPanel, flags);
                    else TKernel.Tile<AllColumns>(ref aTile, lda, ref bPanel, panelStride, ref columnsRef, steps, ref cPanel, ldc, ref biasPanel, flags);
                }

                for (; panel < fullPanels; panel++)
                {
                    prefetch.Next();
                    ref float bPanel = ref Unsafe.Add(ref bBlock, (nuint)panel * panelStride);
                    ref float cPanel = ref Unsafe.Add(ref cTile, panel * PanelWidth);
                    ref float biasPanel = ref Unsafe.Add(ref biasRef, (nuint)panel * biasStride);
                    if (listed) TKernel.TileOnePanel<ListedColumns>(ref aTile, lda, ref bPanel, ref columnsRef, steps, ref cPanel, ldc, ref biasPanel, flags);
                    else TKernel.TileOnePanel<AllColumns>(ref aTile, lda, ref bPanel, ref columnsRef, steps, ref cPanel, ldc, ref biasPanel, flags);
                }

                if (tailColumns > 0)
                {
                    // The zero-padded last panel: compute 16 columns into the stack tile, keep the first tailColumns.
                    CopyTailIn(c, tailTile, i0, rowsPerTile, n, column0, tailColumns, flags.First);
                    ref float bPanel = ref Unsafe.Add(ref bBlock, (nuint)fullPanels * panelStride);
                    if (listed) TKernel.TileOnePanel<ListedColumns>(ref aTile, lda, ref bPanel, ref columnsRef, steps, ref tileRef, PanelWidth, ref tailBiasRef, flags);
                    else TKernel.TileOnePanel<AllColumns>(ref aTile, lda, ref bPanel, ref columnsRef, steps, ref tileRef, PanelWidth, ref tailBiasRef, flags);
                    CopyTailOut(tailTile, c, i0, rowsPerTile, n, column0, tailColumns);
                }
            }

            for (int i = tiledRows; i < m; i++)
            {
                ref float aRow = ref rows.Block(i, 1, k0, kc, out _);
                ref float cRow = ref Unsafe.Add(ref cRef, (nuint)i * ldc);
                for (int panel = panelBegin; panel < fullPanels; panel++)
                {
                    TKernel.Row(ref aRow, ref Unsafe.Add(ref bBlock, (nuint)panel * panelStride), (nuint)kc,
                        ref Unsafe.Add(ref cRow, panel * PanelWidth), ref Unsafe.Add(ref biasRef, (nuint)panel * biasStride), flags);
                }

                if (tailColumns > 0)
                {
                    CopyTailIn(c, tailTile, i, 1, n, column0, tailColumns, flags.First);
                    TKernel.Row(ref aRow, ref Unsafe.Add(ref bBlock, (nuint)fullPanels * panelStride), (nuint)kc,
                        ref tileRef, ref tailBiasRef, flags);
                    CopyTailOut(tailTile, c, i, 1, n, column0, tailColumns);
                }
            }
        }
    }

    /// <summary>The prefetch of this call's panels of the k block at <paramref name="nextK0"/> (none past k): 256 KiB for the primary capsules.</summary>
    private static NextBlockPrefetch NextBlock(ref float b, int nextK0, int k, nuint panelsTimesWidth, int panelBegin, int panelEnd, int calls)
    {
        if (nextK0 >= k) return NextBlockPrefetch.None;
        int kc = Math.Min(KBlock, k - nextK0);
        // This call's panels of the next block are contiguous: [k block][panel][kk][16].
        ref float first = ref Unsafe.Add(ref b, (nuint)nextK0 * panelsTimesWidth + (nuint)(panelBegin * kc * PanelWidth));
        return new NextBlockPrefetch(ref Unsafe.As<float, byte>(ref first), (nint)(panelEnd - panelBegin) * kc * PanelWidth * sizeof(float), calls);
    }

    /// <summary>Before a later k block, brings the partial sums of the partial panel's columns into the stack tile.</summary>
    private static void CopyTailIn(Span<float> c, Span<float> tile, int row0, int rows, int n, int column0, int columns, bool first)
    {
        if (first) return;
        for (int r = 0; r < rows; r++)
        {
            c.Slice((row0 + r) * n + column0, columns).CopyTo(tile.Slice(r * PanelWidth, columns));
        }
    }

    /// <summary>Writes the valid columns of the stack tile back into C.</summary>
    private static void CopyTailOut(Span<float> tile, Span<float> c, int row0, int rows, int n, int column0, int columns)
    {
        for (int r = 0; r < rows; r++)
        {
            tile.Slice(r * PanelWidth, columns).CopyTo(c.Slice((row0 + r) * n + column0, columns));
        }
    }

    /// <summary>Where the loop nest finds A: one block of rows × k values at a time.</summary>
    internal interface IRowBlocks
    {
        /// <summary>
        /// A[<paramref name="row"/> .. row + <paramref name="rows"/>)[<paramref name="k0"/> .. k0 + <paramref name="kc"/>)
        /// (rows ≤ 6, kc ≤ <see cref="KBlock"/>): a reference to its first value, and in <paramref name="lda"/> the
        /// distance from one row's values to the next's. Valid until the next call.
        /// </summary>
        ref float Block(int row, int rows, int k0, int kc, out nuint lda);
    }

    /// <summary>A as a dense [m][k] row-major matrix: every block is read in place.</summary>
    private readonly ref struct DenseRows : IRowBlocks
    {
        private readonly ref float _a;
        private readonly int _k;

        public DenseRows(ReadOnlySpan<float> a, int k)
        {
            _a = ref MemoryMarshal.GetReference(a);
            _k = k;
        }

        public ref float Block(int row, int rows, int k0, int kc, out nuint lda)
        {
            lda = (nuint)_k;
            return ref Unsafe.Add(ref _a, (nuint)row * (nuint)_k + (nuint)k0);
        }
    }

    /// <summary>What a micro-kernel does at the edges of the k loop.</summary>
    /// <param name="First">Start from zero (else accumulate onto C).</param>
    /// <param name="Last">Add the bias (and apply ReLU if <paramref name="Relu"/>) before storing.</param>
    /// <param name="Relu">Apply max(0, x) in the last block.</param>
    internal readonly record struct BlockFlags(bool First, bool Last, bool Relu);

    /// <summary>Largest IGemmMicroKernel.Rows of any kernel (sizes the stack tile).</summary>
    private const int MaxTileRows = 6;

    /// <summary>Largest IGemmMicroKernel.Panels of any kernel (sizes the zero bias).</summary>
    private const int MaxTilePanels = 2;

    /// <summary>A register-tile micro-kernel of one SIMD tier, specialised by the JIT through static abstract members.</summary>
    internal interface IGemmMicroKernel<TSelf> where TSelf : struct, IGemmMicroKernel<TSelf>
    {
        /// <summary>Rows of A per register tile.</summary>
        static abstract int Rows { get; }

        /// <summary>16-wide panels per register tile: one unless the kernel says otherwise.</summary>
        static virtual int Panels => 1;

        /// <summary>Whether the zero-column scan may use 256-bit vectors (the x64 tiers from Vector256 up).</summary>
        static virtual bool WideScan => false;

        /// <summary>
        /// C[Rows × 16·Panels] (+)= A[Rows × kc] · B panels[kc × 16·Panels] over the <paramref name="count"/> k columns
        /// of the block that <typeparamref name="TColumns"/> names; panels are panelStride floats apart. For a
        /// one-panel kernel that is <see cref="TileOnePanel"/>.
        /// </summary>
        static virtual void Tile<TColumns>(ref float a, nuint lda, ref float b, nuint panelStride, ref int columns, nuint count,
            ref float c, nuint ldc, ref float bias, BlockFlags flags) where TColumns : struct, IKColumns =>
            TSelf.TileOnePanel<TColumns>(ref a, lda, ref b, ref columns, count, ref c, ldc, ref bias, flags);

        /// <summary>C[Rows × 16] (+)= A[Rows × kc] · one B panel [kc × 16], over the k columns <typeparamref name="TColumns"/> names.</summary>
        static abstract void TileOnePanel<TColumns>(ref float a, nuint lda, ref float b, ref int columns, nuint count,
            ref float c, nuint ldc, ref float bias, BlockFlags flags) where TColumns : struct, IKColumns;

        /// <summary>C[1 × 16] (+)= A[1 × kc] · one B panel [kc × 16].</summary>
        static abstract void Row(ref float a, ref float b, nuint kc, ref float c, ref float bias, BlockFlags flags);
    }

    /// <summary>Which k columns of a block a register tile sums over: the j-th of them is At(columns, j).</summary>
    internal interface IKColumns
    {
        static abstract nuint At(ref int columns, nuint j);
    }

    /// <summary>Every column of the block, in order (the list is not read).</summary>
    internal readonly struct AllColumns : IKColumns
    {
        public static nuint At(ref int columns, nuint j) => j;
    }

    /// <summary>The columns <see cref="NonzeroColumns"/> listed: those where some row of the tile's A is not zero.</summary>
    internal readonly struct ListedColumns : IKColumns
    {
        public static nuint At(ref int columns, nuint j) => (uint)Unsafe.Add(ref columns, j);
    }
}
