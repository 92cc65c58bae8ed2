using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;

namespace CapsEmbedded.Training.Kernels;

/// <summary>
/// Caller-owned packing buffers for <see cref="TrainingGemm"/>; allocate one per thread, once.
/// </summary>
public sealed class GemmWorkspace<T> where T : unmanaged, INumberBase<T>
{
    internal readonly T[] PackedA = new T[TrainingGemm.BlockM * TrainingGemm.BlockK];
    internal readonly T[] PackedB = new T[TrainingGemm.BlockN * TrainingGemm.BlockK];
    internal readonly T[] Tile = new T[TrainingGemm.TileRows * 2 * Vector<T>.Count];
    // Per 6-row panel of the packed A block: its k steps where some row is not zero, and how many (−1: run dense).
    internal readonly int[] Steps = new int[TrainingGemm.BlockM / TrainingGemm.TileRows * TrainingGemm.BlockK];
    internal readonly int[] StepCounts = new int[TrainingGemm.BlockM / TrainingGemm.TileRows];

    /// <summary>Whether the GEMMs step over k steps where a panel's A is all zero (same bits); false only in tests and measurements.</summary>
    internal bool SkipZeroSteps { get; set; } = true;

    /// <summary>Panel steps stepped over so far (tests check that skipping really happens).</summary>
    internal long SkippedSteps { get; set; }
}

/// <summary>
/// The trainer's GEMM: C[m,n] = (accumulate ? C : 0) + op(A)[m,k] · op(B)[k,n], where op transposes when asked.
/// The three cases of a layer's training step are all one call: forward Y = X·Wᵀ (B transposed), input gradient
/// dX = dY·W (neither), weight gradient dW += dYᵀ·X (A transposed, accumulating into a per-thread buffer).
/// </summary>
/// <remarks>
/// Goto/BLIS blocking: B blocks of <see cref="BlockK"/>×<see cref="BlockN"/> and A blocks of <see cref="BlockM"/>×<see cref="BlockK"/>
/// are packed into k-major panels (zero-padded at the edges, which is where the transposes are absorbed), then a
/// 6 × 2-vector register tile (6×16 for float with 256-bit vectors, 12 accumulators) runs over each panel pair with FMA.
/// Generic over T so that the double-precision gradient checks run this very code. Single-threaded: the trainer
/// runs one GEMM per thread on its share of the batch. Sums over k run in the same order whatever the sizes, so the
/// result is deterministic.
/// <para>
/// Zero steps of A: after <see cref="PackA"/>, <see cref="ListNonzeroSteps"/> lists per 6-row panel the k steps where
/// some row is not zero and the register tile sums over those only (<see cref="PackedGemm.ListedColumns"/>, as the
/// inference GEMM does). Of the trainer's A operands, the forward convolutions' (image patches; conv1's ReLU output as
/// patches), conv1's weight gradient's (dA1ᵀ, zero wherever the ReLU was) and the primary conv's weight gradient's
/// (computed as dW2ᵀ = patches2ᵀ·dZ2 for that reason) are sparse on real digits; the primary conv's input gradient has
/// dense A. A skipped product is an exact ±0 for finite B, so every sum keeps
/// its bits (the one exception: the sign of a sum that is exactly −0, which only an underflowing product can make);
/// a NaN or ∞ in B spreads only from steps where A is not zero, and the trainer stops at the first non-finite loss.
/// What the skipping gains, with trained and with random weights: bench/RESULTS-training.md.
/// </para>
/// </remarks>
public static class TrainingGemm
{
    public const int TileRows = 6;
    public const int BlockK = 256;
    public const int BlockM = 96;
    public const int BlockN = 1024;

    public static void Multiply<T>(bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc, bool accumulate, GemmWorkspace<T> workspace)
        where T : unmanaged, INumberBase<T>
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"negative size m={m} n={n} k={k}");
        if (m == 0 || n == 0) return;
        long needA = transposeA ? (long)(k - 1) * lda + m : (long)(m - 1) * lda + k;
        long needB = transposeB ? (long)(n - 1) * ldb + k : (long)(k - 1) * ldb + n;
        if (k > 0 && a.Length < needA) throw new ArgumentException($"A has {a.Length} elements, needs {needA}", nameof(a));
        if (k > 0 && b.Length < needB) throw new ArgumentException($"B has {b.Length} elements, needs {needB}", nameof(b));
        if (c.Length < (long)(m - 1) * ldc + n) throw new ArgumentException($"C has {c.Length} elements, needs {(long)(m - 1) * ldc + n}", nameof(c));
        if (k == 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
            return;
        }
        int nr = 2 * Vector<T>.Count;
        for (int jc = 0; jc < n; jc += BlockN)
        {
            int nc = Math.Min(BlockN, n - jc);
            for (int pc = 0, kb = BlockSizeK(k); pc < k; pc += kb)
            {
                int kc = Math.Min(kb, k - pc);
                PackB(transposeB, b, ldb, pc, jc, kc, nc, nr, workspace.PackedB);
                MultiplyBlock(transposeA, a, lda, m, workspace.PackedB, jc, pc, nc, kc, c, ldc, accumulate || pc > 0, workspace);
            }
        }
    }

    /// <summary>
    /// k split into equal blocks of at most <see cref="BlockK"/> (288 → 2 × 144, not 256 + 32): a short last block would
    /// load and store every C tile for a few FMAs.
    /// </summary>
    private static int BlockSizeK(int k) => k <= BlockK ? Math.Max(k, 1) : (k + (k + BlockK - 1) / BlockK - 1) / ((k + BlockK - 1) / BlockK);

    /// <summary>Length of op(B) [k, n] packed by <see cref="PackB{T}(bool, ReadOnlySpan{T}, int, int, int, Span{T})"/>.</summary>
    public static int PackedLength<T>(int n, int k) where T : unmanaged, INumberBase<T>
    {
        int nr = 2 * Vector<T>.Count;
        return checked((n + nr - 1) / nr * nr * k);
    }

    /// <summary>
    /// Where row <paramref name="row"/> of op(B) [k, n], packed by <see cref="PackB{T}(bool, ReadOnlySpan{T}, int, int, int, Span{T})"/>,
    /// lies: its first 2 vectors start at Start, each next 2 vectors PanelStride further on (columns past n are zeros).
    /// For n ≤ <see cref="BlockN"/>, where the packing has one column block.
    /// </summary>
    public static (int Start, int PanelStride) PackedRow<T>(int n, int k, int row) where T : unmanaged, INumberBase<T>
    {
        if (n < 1 || n > BlockN) throw new ArgumentOutOfRangeException(nameof(n), n, $"n must be 1..{BlockN} (one column block)");
        if ((uint)row >= (uint)k) throw new ArgumentOutOfRangeException(nameof(row), row, $"row must be in 0..{k - 1}");
        int nr = 2 * Vector<T>.Count, kb = BlockSizeK(k), pc = row / kb * kb, kc = Math.Min(kb, k - pc);
        int nPadded = (n + nr - 1) / nr * nr;
        // The k blocks before this one are kb rows each, nPadded columns wide; within a block, panels of nr columns × kc rows.
        return (pc * nPadded + (row - pc) * nr, kc * nr);
    }

    /// <summary>
    /// Packs all of op(B) once, block by block in the order <see cref="MultiplyPacked"/> reads it — for a weight matrix
    /// used by many multiplications between two updates (the forward pass of every group of a step).
    /// </summary>
    public static void PackB<T>(bool transposeB, ReadOnlySpan<T> b, int ldb, int n, int k, Span<T> packed)
        where T : unmanaged, INumberBase<T>
    {
        if (packed.Length < PackedLength<T>(n, k)) throw new ArgumentException($"packed has {packed.Length} elements, needs {PackedLength<T>(n, k)}", nameof(packed));
        long needB = transposeB ? (long)(n - 1) * ldb + k : (long)(k - 1) * ldb + n;
        if (n > 0 && k > 0 && b.Length < needB) throw new ArgumentException($"B has {b.Length} elements, needs {needB}", nameof(b));
        int nr = 2 * Vector<T>.Count, offset = 0;
        for (int jc = 0; jc < n; jc += BlockN)
        {
            int nc = Math.Min(BlockN, n - jc), ncPadded = (nc + nr - 1) / nr * nr;
            for (int pc = 0, kb = BlockSizeK(k); pc < k; pc += kb)
            {
                int kc = Math.Min(kb, k - pc);
                PackB(transposeB, b, ldb, pc, jc, kc, nc, nr, packed.Slice(offset, ncPadded * kc));
                offset += ncPadded * kc;
            }
        }
    }

    /// <summary>C[m,n] = (accumulate ? C : 0) + op(A) · B, with B packed by <see cref="PackB{T}(bool, ReadOnlySpan{T}, int, int, int, Span{T})"/>.</summary>
    public static void MultiplyPacked<T>(bool transposeA, int m, int n, int k, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> packedB,
        Span<T> c, int ldc, bool accumulate, GemmWorkspace<T> workspace) where T : unmanaged, INumberBase<T>
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"negative size m={m} n={n} k={k}");
        if (m == 0 || n == 0) return;
        long needA = transposeA ? (long)(k - 1) * lda + m : (long)(m - 1) * lda + k;
        if (k > 0 && a.Length < needA) throw new ArgumentException($"A has {a.Length} elements, needs {needA}", nameof(a));
        if (packedB.Length < PackedLength<T>(n, k)) throw new ArgumentException($"packed B has {packedB.Length} elements, needs {PackedLength<T>(n, k)}", nameof(packedB));
        if (c.Length < (long)(m - 1) * ldc + n) throw new ArgumentException($"C has {c.Length} elements, needs {(long)(m - 1) * ldc + n}", nameof(c));
        if (k == 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
            return;
        }
        int nr = 2 * Vector<T>.Count, offset = 0;
        for (int jc = 0; jc < n; jc += BlockN)
        {
            int nc = Math.Min(BlockN, n - jc), ncPadded = (nc + nr - 1) / nr * nr;
            for (int pc = 0, kb = BlockSizeK(k); pc < k; pc += kb)
            {
                int kc = Math.Min(kb, k - pc);
                MultiplyBlock(transposeA, a, lda, m, packedB.Slice(offset, ncPadded * kc), jc, pc, nc, kc, c, ldc, accumulate || pc > 0, workspace);
                offset += ncPadded * kc;
            }
        }
    }

    /// <summary>One (jc, pc) block: every A block of its rows against the packed B block.</summary>
    private static void MultiplyBlock<T>(bool transposeA, ReadOnlySpan<T> a, int lda, int m, ReadOnlySpan<T> packedB, int jc, int pc,
        int nc, int kc, Span<T> c, int ldc, bool add, GemmWorkspace<T> workspace) where T : unmanaged, INumberBase<T>
    {
        int nr = 2 * Vector<T>.Count;
        for (int ic = 0; ic < m; ic += BlockM)
        {
            int mc = Math.Min(BlockM, m - ic);
            PackA(transposeA, a, lda, ic, pc, mc, kc, workspace.PackedA);
            // The scan is one pass over the A block; it pays only when more than one B panel uses its lists.
            if (workspace.SkipZeroSteps && nc > nr) ListNonzeroSteps(workspace, mc, kc);
            else workspace.StepCounts.AsSpan().Fill(-1);
            for (int jr = 0; jr < nc; jr += nr)
            {
                var bPanel = packedB.Slice(jr * kc, nr * kc);
                for (int ir = 0; ir < mc; ir += TileRows)
                {
                    var aPanel = new ReadOnlySpan<T>(workspace.PackedA, ir * kc, TileRows * kc);
                    int stepCount = workspace.StepCounts[ir / TileRows];
                    var steps = new ReadOnlySpan<int>(workspace.Steps, ir / TileRows * BlockK, Math.Max(stepCount, 0));
                    int rows = Math.Min(TileRows, mc - ir), cols = Math.Min(nr, nc - jr);
                    int offset = (ic + ir) * ldc + jc + jr;
                    if (rows == TileRows && cols == nr)
                        Gemm6x2v(kc, aPanel, bPanel, stepCount, steps, c.Slice(offset), ldc, add);
                    else
                    {
                        var tile = workspace.Tile;
                        Gemm6x2v(kc, aPanel, bPanel, stepCount, steps, tile, nr, false);
                        for (int r = 0; r < rows; r++)
                        {
                            var src = new ReadOnlySpan<T>(tile, r * nr, cols);
                            var dst = c.Slice(offset + r * ldc, cols);
                            if (add) VectorMath.Add(src, dst); else src.CopyTo(dst);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Packs op(A)[ic.., pc..] into panels of 6 rows: panel[p·6 + r], zero rows past m.</summary>
    private static void PackA<T>(bool transposeA, ReadOnlySpan<T> a, int lda, int ic, int pc, int mc, int kc, T[] packed)
        where T : unmanaged, INumberBase<T>
    {
        for (int ir = 0; ir < mc; ir += TileRows)
        {
            int rows = Math.Min(TileRows, mc - ir);
            var panel = packed.AsSpan(ir * kc, TileRows * kc);
            if (rows == TileRows)
            {
                PackFullPanel(transposeA, a, lda, ic + ir, pc, kc, panel);
                continue;
            }
            panel.Clear();
            for (int r = 0; r < rows; r++)
            {
                int row = ic + ir + r;
                if (transposeA)
                    for (int p = 0; p < kc; p++) panel[p * TileRows + r] = a[(pc + p) * lda + row];
                else
                {
                    var src = a.Slice(row * lda + pc, kc);
                    for (int p = 0; p < kc; p++) panel[p * TileRows + r] = src[p];
                }
            }
        }
    }

    /// <summary>
    /// One full 6-row panel in a single pass over k, six values a step: contiguous in A when it is transposed, one from
    /// each of six rows otherwise (the row-by-row loop read a transposed A's lines six times, strided, and cost an eighth
    /// of a training step).
    /// </summary>
    private static void PackFullPanel<T>(bool transposeA, ReadOnlySpan<T> a, int lda, int row, int pc, int kc, Span<T> panel)
        where T : unmanaged, INumberBase<T>
    {
        long last = transposeA ? (long)(pc + kc - 1) * lda + row + TileRows - 1 : (long)(row + TileRows - 1) * lda + pc + kc - 1;
        if (kc <= 0 || last >= a.Length || panel.Length < TileRows * kc) throw new ArgumentException("A panel outside its operands");
        ref T dst = ref MemoryMarshal.GetReference(panel);
        if (transposeA)
        {
            ref T src = ref Unsafe.Add(ref MemoryMarshal.GetReference(a), pc * lda + row);
            for (int p = 0; p < kc; p++)
            {
                dst = src;
                Unsafe.Add(ref dst, 1) = Unsafe.Add(ref src, 1);
                Unsafe.Add(ref dst, 2) = Unsafe.Add(ref src, 2);
                Unsafe.Add(ref dst, 3) = Unsafe.Add(ref src, 3);
                Unsafe.Add(ref dst, 4) = Unsafe.Add(ref src, 4);
                Unsafe.Add(ref dst, 5) = Unsafe.Add(ref src, 5);
                src = ref Unsafe.Add(ref src, lda);
                dst = ref Unsafe.Add(ref dst, TileRows);
            }
        }
        else
        {
            ref T r0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(a), row * lda + pc);
            ref T r1 = ref Unsafe.Add(ref r0, lda);
            ref T r2 = ref Unsafe.Add(ref r1, lda);
            ref T r3 = ref Unsafe.Add(ref r2, lda);
            ref T r4 = ref Unsafe.Add(ref r3, lda);
            ref T r5 = ref Unsafe.Add(ref r4, lda);
            for (int p = 0; p < kc; p++)
            {
                dst = Unsafe.Add(ref r0, p);
                Unsafe.Add(ref dst, 1) = Unsafe.Add(ref r1, p);
                Unsafe.Add(ref dst, 2) = Unsafe.Add(ref r2, p);
                Unsafe.Add(ref dst, 3) = Unsafe.Add(ref r3, p);
                Unsafe.Add(ref dst, 4) = Unsafe.Add(ref r4, p);
                Unsafe.Add(ref dst, 5) = Unsafe.Add(ref r5, p);
                dst = ref Unsafe.Add(ref dst, TileRows);
            }
        }
    }

    /// <summary>
    /// Lists, for each 6-row panel of the packed A block, the k steps where some row is not zero (NaN and ±∞ count as
    /// not zero, −0 as zero) into <see cref="GemmWorkspace{T}.Steps"/> and moves those steps' A values to the front of
    /// the panel, so the register tile reads A in order and only B by index. A panel where at least 7/8 of the steps
    /// are not zero is left as it is with count −1 and runs dense: the index costs a load the dense loop does not pay.
    /// </summary>
    private static void ListNonzeroSteps<T>(GemmWorkspace<T> workspace, int mc, int kc) where T : unmanaged, INumberBase<T>
    {
        for (int ir = 0; ir < mc; ir += TileRows)
        {
            var panel = workspace.PackedA.AsSpan(ir * kc, TileRows * kc);
            var steps = workspace.Steps.AsSpan(ir / TileRows * BlockK, kc);
            // Compared as bits without the sign bit (float and double only): a generic compare per value cost a tenth of
            // the primary conv's time on the training start's dense panels.
            int count = typeof(T) == typeof(float) ? NonzeroSteps(MemoryMarshal.Cast<T, uint>(panel), steps)
                : typeof(T) == typeof(double) ? NonzeroSteps(MemoryMarshal.Cast<T, ulong>(panel), steps) : kc;
            bool listed = count * DenseStepShare.Denominator < kc * DenseStepShare.Numerator;
            workspace.StepCounts[ir / TileRows] = listed ? count : -1;
            if (!listed) continue;
            workspace.SkippedSteps += kc - count;
            for (int i = 0; i < count; i++) panel.Slice(steps[i] * TileRows, TileRows).CopyTo(panel.Slice(i * TileRows, TileRows));
        }
    }

    /// <summary>Writes the steps of a packed panel (6 values a step, as bits) where some value is not ±0; returns how many.</summary>
    private static int NonzeroSteps<TBits>(ReadOnlySpan<TBits> panel, Span<int> steps) where TBits : unmanaged, IBinaryInteger<TBits>
    {
        if (panel.Length < steps.Length * TileRows) throw new ArgumentException("panel shorter than its steps");
        ref TBits step = ref MemoryMarshal.GetReference(panel);
        ref int list = ref MemoryMarshal.GetReference(steps);
        int count = 0;
        for (int p = 0; p < steps.Length; p++)
        {
            TBits any = (step | Unsafe.Add(ref step, 1) | Unsafe.Add(ref step, 2) | Unsafe.Add(ref step, 3) | Unsafe.Add(ref step, 4) | Unsafe.Add(ref step, 5)) << 1;
            // Branch-free: every step is written, the count moves past the kept ones.
            Unsafe.Add(ref list, count) = p;
            count += any == TBits.Zero ? 0 : 1;
            step = ref Unsafe.Add(ref step, TileRows);
        }
        return count;
    }

    /// <summary>A panel runs dense when at least this share of its k steps is not zero (7/8, as in the inference GEMM).</summary>
    private static class DenseStepShare
    {
        public const int Numerator = 7;
        public const int Denominator = 8;
    }

    /// <summary>Packs op(B)[pc.., jc..] into panels of nr columns: panel[p·nr + j], zero columns past n.</summary>
    private static void PackB<T>(bool transposeB, ReadOnlySpan<T> b, int ldb, int pc, int jc, int kc, int nc, int nr, Span<T> packed)
        where T : unmanaged, INumberBase<T>
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            var panel = packed.Slice(jr * kc, nr * kc);
            if (cols < nr) panel.Clear();
            if (transposeB)
            {
                for (int j = 0; j < cols; j++)
                {
                    var src = b.Slice((jc + jr + j) * ldb + pc, kc);
                    for (int p = 0; p < kc; p++) panel[p * nr + j] = src[p];
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                    b.Slice((pc + p) * ldb + jc + jr, cols).CopyTo(panel.Slice(p * nr, cols));
            }
        }
    }

    /// <summary>The register tile over all kc steps (<paramref name="stepCount"/> −1) or over the listed ones.</summary>
    private static void Gemm6x2v<T>(int kc, ReadOnlySpan<T> aPanel, ReadOnlySpan<T> bPanel, int stepCount, ReadOnlySpan<int> steps,
        Span<T> c, int ldc, bool add) where T : unmanaged, INumberBase<T>
    {
        if (stepCount < 0) Gemm6x2v<T, PackedGemm.AllColumns>(kc, kc, aPanel, bPanel, steps, c, ldc, add);
        else Gemm6x2v<T, PackedGemm.ListedColumns>(kc, stepCount, aPanel, bPanel, steps, c, ldc, add);
    }

    /// <summary>
    /// The register tile: 6 rows × 2 vectors of C, accumulated over <paramref name="count"/> of the kc steps of one packed
    /// A panel (6 per step, read in order) and one packed B panel (2 vectors per step), in increasing order, then stored
    /// or added to C. TSteps says which rows of B: all of them, or those listed in <paramref name="steps"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gemm6x2v<T, TSteps>(int kc, int count, ReadOnlySpan<T> aPanel, ReadOnlySpan<T> bPanel, ReadOnlySpan<int> steps,
        Span<T> c, int ldc, bool add) where T : unmanaged, INumberBase<T> where TSteps : struct, PackedGemm.IKColumns
    {
        int w = Vector<T>.Count;
        if (aPanel.Length < kc * TileRows || bPanel.Length < kc * 2 * w || c.Length < 5 * ldc + 2 * w)
            throw new ArgumentException("tile operands too short");
        if (typeof(TSteps) == typeof(PackedGemm.ListedColumns) && steps.Length < count) throw new ArgumentException("step list too short");
        ref T ap = ref MemoryMarshal.GetReference(aPanel);
        ref byte b = ref Unsafe.As<T, byte>(ref MemoryMarshal.GetReference(bPanel));
        ref int stepList = ref MemoryMarshal.GetReference(steps);
        Vector<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nuint vectorBytes = (nuint)(Vector<T>.Count * Unsafe.SizeOf<T>());
        for (nuint j = 0; j < (nuint)count; j++)
        {
            ref byte bp = ref Unsafe.Add(ref b, TSteps.At(ref stepList, j) * 2 * vectorBytes);
            var b0 = Unsafe.ReadUnaligned<Vector<T>>(ref bp);
            var b1 = Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.Add(ref bp, vectorBytes));
            var a0 = new Vector<T>(ap);
            c00 = VectorMath.MultiplyAdd(a0, b0, c00); c01 = VectorMath.MultiplyAdd(a0, b1, c01);
            var a1 = new Vector<T>(Unsafe.Add(ref ap, 1));
            c10 = VectorMath.MultiplyAdd(a1, b0, c10); c11 = VectorMath.MultiplyAdd(a1, b1, c11);
            var a2 = new Vector<T>(Unsafe.Add(ref ap, 2));
            c20 = VectorMath.MultiplyAdd(a2, b0, c20); c21 = VectorMath.MultiplyAdd(a2, b1, c21);
            var a3 = new Vector<T>(Unsafe.Add(ref ap, 3));
            c30 = VectorMath.MultiplyAdd(a3, b0, c30); c31 = VectorMath.MultiplyAdd(a3, b1, c31);
            var a4 = new Vector<T>(Unsafe.Add(ref ap, 4));
            c40 = VectorMath.MultiplyAdd(a4, b0, c40); c41 = VectorMath.MultiplyAdd(a4, b1, c41);
            var a5 = new Vector<T>(Unsafe.Add(ref ap, 5));
            c50 = VectorMath.MultiplyAdd(a5, b0, c50); c51 = VectorMath.MultiplyAdd(a5, b1, c51);
            ap = ref Unsafe.Add(ref ap, TileRows);
        }
        ref T cr = ref MemoryMarshal.GetReference(c);
        Store(ref cr, 0, w, c00, c01, add);
        Store(ref cr, ldc, w, c10, c11, add);
        Store(ref cr, 2 * ldc, w, c20, c21, add);
        Store(ref cr, 3 * ldc, w, c30, c31, add);
        Store(ref cr, 4 * ldc, w, c40, c41, add);
        Store(ref cr, 5 * ldc, w, c50, c51, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(ref T c, int offset, int w, Vector<T> v0, Vector<T> v1, bool add) where T : unmanaged, INumberBase<T>
    {
        ref byte p0 = ref Unsafe.As<T, byte>(ref Unsafe.Add(ref c, offset));
        ref byte p1 = ref Unsafe.As<T, byte>(ref Unsafe.Add(ref c, offset + w));
        if (add)
        {
            v0 += Unsafe.ReadUnaligned<Vector<T>>(ref p0);
            v1 += Unsafe.ReadUnaligned<Vector<T>>(ref p1);
        }
        Unsafe.WriteUnaligned(ref p0, v0);
        Unsafe.WriteUnaligned(ref p1, v1);
    }
}
