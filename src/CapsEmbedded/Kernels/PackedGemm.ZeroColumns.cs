// Zero columns of A: a k column where every row of a register tile's A is zero adds nothing to any sum of that tile, so
// the micro-kernels step over the listed non-zero columns only. The primary capsules read conv1's ReLU output, which is
// mostly zeros on real digits, often in all six rows of a tile (bench/RESULTS.md, the peers section, gives the shares),
// so most of the multiply-adds of that GEMM, which holds nearly all of the network's, multiply a zero. Skipping them
// leaves every sum unchanged: the same products are added in the same order, and a
// skipped one is an exact zero (±0·b with b finite) that would not have changed the partial sum — the one exception is
// the sign of a sum that is exactly −0 (only a product that underflows past the smallest subnormal makes one), and
// only where the bias is exactly −0 too: adding any other bias, or the +0 of none, gives the same result either way.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CapsEmbedded.Kernels;

/// <summary>Whether the SIMD tiers step over k columns where a register tile's A is all zero (the result is the same).</summary>
internal enum ZeroColumns
{
    /// <summary>List the non-zero columns of each tile's block and sum over those (the default).</summary>
    Skip,

    /// <summary>Sum over every column: the loop nest as it was, kept for tests and measurements.</summary>
    Compute,
}

public static partial class PackedGemm
{
    /// <summary>
    /// Panels a call must cover for the loop nest to scan for zero columns: the scan is once per row tile and k block,
    /// and pays for itself only when several panels' micro-kernels use its list.
    /// </summary>
    internal const int MinPanelsToSkipZeros = 2;

    /// <summary>
    /// A tile's block runs dense when at least this share of its columns is non-zero (7/8): listing costs a load and an
    /// address per column, which the dense loop does not pay.
    /// </summary>
    internal static class DenseColumnShare
    {
        public const int Numerator = 7;
        public const int Denominator = 8;
    }

    /// <summary>
    /// Writes to <paramref name="columns"/> (kc ints) the columns kk of A[rows × kc] (rows <paramref name="lda"/> floats
    /// apart) where some row is not zero, in increasing order, and returns how many. NaN and ±Inf count as not zero;
    /// −0 counts as zero. Branch-free: every candidate is written, and the count advances only past a kept one.
    /// </summary>
    internal static int NonzeroColumns(ref float a, nuint lda, int rows, int kc, ref int columns, bool wide)
    {
        int count = 0;
        int kk = 0;
        if (wide && Vector256.IsHardwareAccelerated)
        {
            for (; kk + 8 <= kc; kk += 8)
            {
                Vector256<float> allZero = Vector256.Equals(Vector256.LoadUnsafe(ref a, (nuint)kk), Vector256<float>.Zero);
                for (int r = 1; r < rows; r++)
                {
                    allZero &= Vector256.Equals(Vector256.LoadUnsafe(ref a, (nuint)r * lda + (nuint)kk), Vector256<float>.Zero);
                }

                count = AppendSetBits(~allZero.ExtractMostSignificantBits() & 0xFF, 8, kk, ref columns, count);
            }
        }

        if (Vector128.IsHardwareAccelerated && rows == 2)
        {
            // The 2-row tiles of the 128-bit tier (NEON at batch 1): the rows' bits ORed, then one compare, with the sign
            // bit dropped so that −0 is zero as the float compare has it; no row loop. llvm-mca on the emitted arm64 loop,
            // cycles per 4 columns: bench/arm/README.md.
            ref int bits = ref Unsafe.As<float, int>(ref a);
            var magnitude = Vector128.Create(int.MaxValue);
            for (; kk + 4 <= kc; kk += 4)
            {
                nuint at = (nuint)kk;
                var any = Vector128.LoadUnsafe(ref bits, at) | Vector128.LoadUnsafe(ref bits, at + lda);
                uint zero = Vector128.Equals(any & magnitude, Vector128<int>.Zero).ExtractMostSignificantBits();
                count = AppendSetBits(~zero & 0xF, 4, kk, ref columns, count);
            }
        }

        if (Vector128.IsHardwareAccelerated)
        {
            for (; kk + 4 <= kc; kk += 4)
            {
                Vector128<float> allZero = Vector128.Equals(Vector128.LoadUnsafe(ref a, (nuint)kk), Vector128<float>.Zero);
                for (int r = 1; r < rows; r++)
                {
                    allZero &= Vector128.Equals(Vector128.LoadUnsafe(ref a, (nuint)r * lda + (nuint)kk), Vector128<float>.Zero);
                }

                count = AppendSetBits(~allZero.ExtractMostSignificantBits() & 0xF, 4, kk, ref columns, count);
            }
        }

        for (; kk < kc; kk++)
        {
            bool any = false;
            for (int r = 0; r < rows; r++)
            {
                any |= Unsafe.Add(ref a, (nuint)r * lda + (nuint)kk) != 0f;
            }

            Unsafe.Add(ref columns, count) = kk;
            count += any ? 1 : 0;
        }

        return count;
    }

    /// <summary>
    /// Appends kk0 + i for each set bit i of <paramref name="bits"/> (i &lt; width), without a branch per bit. It may write
    /// <paramref name="width"/> ints from columns[count] (the callers' lists have that room: count ≤ kk0 and kk0 + width ≤
    /// their length). Widths 8 and 4 take one vector store of the mask's row of <see cref="s_setBitPositions"/> plus kk0 and
    /// move count by the mask's population, instead of one store per bit (the int8 zero-group scan lists every A row).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int AppendSetBits(uint bits, int width, int kk0, ref int columns, int count)
    {
        if (width == 8 && Vector256.IsHardwareAccelerated)
        {
            (Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(s_setBitPositions), (nuint)bits * 8) + Vector256.Create(kk0))
                .StoreUnsafe(ref columns, (nuint)count);
            return count + BitOperations.PopCount(bits);
        }

        if (width == 4 && Vector128.IsHardwareAccelerated)
        {
            (Vector128.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(s_setBitPositions), (nuint)bits * 8) + Vector128.Create(kk0))
                .StoreUnsafe(ref columns, (nuint)count);
            return count + BitOperations.PopCount(bits);
        }

        for (int i = 0; i < width; i++)
        {
            Unsafe.Add(ref columns, count) = kk0 + i;
            count += (int)((bits >> i) & 1);
        }

        return count;
    }

    /// <summary>
    /// Writes kk0 + i for each set bit i of the byte <paramref name="bits"/> from columns[count] on, as
    /// <see cref="AppendSetBits"/> does for width 8 on 128-bit vectors (8 ints written), for a caller that counts the bits
    /// itself and has read <see cref="SetBitPositions"/> once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void WriteSetBitPositions8(uint bits, int kk0, ref int columns, int count, ref int setBitPositions)
    {
        var start = Vector128.Create(kk0);
        (Vector128.LoadUnsafe(ref setBitPositions, (nuint)bits * 8) + start).StoreUnsafe(ref columns, (nuint)count);
        (Vector128.LoadUnsafe(ref setBitPositions, (nuint)bits * 8 + 4) + start).StoreUnsafe(ref columns, (nuint)count + 4);
    }

    /// <summary>Row m (8 ints) holds the positions of the set bits of the byte m in increasing order, then zeros.</summary>
    private static readonly int[] s_setBitPositions = BuildSetBitPositions();

    /// <summary>The first int of the set-bit table (row m at 8m).</summary>
    internal static ref int SetBitPositions => ref MemoryMarshal.GetArrayDataReference(s_setBitPositions);

    private static int[] BuildSetBitPositions()
    {
        var positions = new int[256 * 8];
        for (int mask = 0; mask < 256; mask++)
        {
            int kept = 0;
            for (int bit = 0; bit < 8; bit++)
            {
                if ((mask >> bit & 1) != 0) positions[mask * 8 + kept++] = bit;
            }
        }

        return positions;
    }
}

/// <summary>
/// What the zero-column skipping of <see cref="PackedGemm"/> finds in one A on one tier: k columns that are zero in
/// every row of a register tile (<see cref="ZeroColumns"/> of <see cref="Columns"/> tile-columns), and the k blocks of
/// the row tiles that take the listed loop (<see cref="ListedBlocks"/> of <see cref="Blocks"/>; the others run dense).
/// </summary>
public readonly record struct ZeroColumnCount(long ZeroColumns, long Columns, int ListedBlocks, int Blocks);

public static partial class PackedGemm
{
    /// <summary>
    /// Counts what the loop nest of <see cref="Multiply(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Activation, Span{float}, SimdTier)"/>
    /// skips for A[m × k] on <paramref name="tier"/> (a product of at least two panels): the same scan over the same
    /// register tiles and k blocks. Rows below a whole tile run dense and are not counted; Scalar skips nothing.
    /// Benchmarks use it to show how much of an image's work is skipped, and that a worst-case input skips none.
    /// </summary>
    public static ZeroColumnCount CountZeroColumns(ReadOnlySpan<float> a, int m, int k, SimdTier tier)
    {
        KernelArguments.RequireLength(a.Length, (long)m * k, nameof(a), "m·k");
        int rowsPerTile = tier switch
        {
            SimdTier.Vector512 => Gemm6x32Avx512.Rows,
            SimdTier.Vector256 => Gemm6x16Fma3.Rows,
            SimdTier.Vector128 => Gemm2x32Simd128.Rows,
            _ => 0,
        };
        if (rowsPerTile == 0 || m < rowsPerTile || k == 0) return new ZeroColumnCount(0, 0, 0, 0);

        Span<int> columns = stackalloc int[KBlock];
        ref float aRef = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(a);
        long zero = 0, total = 0;
        int listed = 0, blocks = 0;
        for (int i0 = 0; i0 + rowsPerTile <= m; i0 += rowsPerTile)
        {
            for (int k0 = 0; k0 < k; k0 += KBlock)
            {
                int kc = Math.Min(KBlock, k - k0);
                int count = NonzeroColumns(ref Unsafe.Add(ref aRef, (nuint)i0 * (nuint)k + (nuint)k0), (nuint)k, rowsPerTile, kc,
                    ref columns[0], wide: false);
                zero += kc - count;
                total += kc;
                listed += count * DenseColumnShare.Denominator < kc * DenseColumnShare.Numerator ? 1 : 0;
                blocks++;
            }
        }

        return new ZeroColumnCount(zero, total, listed, blocks);
    }
}
