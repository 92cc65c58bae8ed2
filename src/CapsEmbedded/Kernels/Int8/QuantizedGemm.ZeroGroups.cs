// Zero groups of A: the int8 form of PackedGemm.ZeroColumns.cs. The micro-kernels read A four bytes (one k group) at a
// time, so the unit skipped is a group where every row of a register tile's A is zero: its 16·4 products per row are
// exact zeros and the int32 sums are the same with or without them (integer addition; any order gives the same bits).
// The primary capsules' A is conv1's ReLU output quantised to u7, channels last, so a group is 4 channels of one pixel
// of conv1's output; on digits two thirds of them are zero in a given row (the x64 tiles are 1 row high for that).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CapsEmbedded.Kernels.Int8;

public static partial class QuantizedGemm
{
    /// <summary>
    /// Writes to <paramref name="groups"/> (<paramref name="count"/> ints) the k groups g of A[rows × 4·count] (rows
    /// <paramref name="lda"/> bytes apart) where some row has a non-zero byte among its 4 at 4g, in increasing order, and
    /// returns how many. Branch-free per group, like <see cref="PackedGemm.NonzeroColumns"/>.
    /// </summary>
    internal static int NonzeroGroups(ref byte a, nuint lda, int rows, int count, ref int groups)
    {
        int kept = 0;
        int g = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; g + 8 <= count; g += 8)
            {
                Vector256<byte> any = Vector256.LoadUnsafe(ref a, (nuint)g * 4);
                for (int r = 1; r < rows; r++)
                {
                    any |= Vector256.LoadUnsafe(ref a, (nuint)r * lda + (nuint)g * 4);
                }

                uint zero = Vector256.Equals(any.AsInt32(), Vector256<int>.Zero).ExtractMostSignificantBits();
                kept = PackedGemm.AppendSetBits(~zero & 0xFF, 8, g, ref groups, kept);
            }
        }

        if (Vector128.IsHardwareAccelerated && !Vector256.IsHardwareAccelerated && rows == 1)
        {
            // The 1-row tiles of the 128-bit tier (NEON's SDOT 1×64): 8 groups a step, their two compares narrowed to 8
            // 16-bit lanes, each lane's bit plus 256 summed over the zero lanes (one ADDV): the low byte is the zero
            // groups' mask, the high one how many they are. The table's address is read once.
            var bitOfLane = Vector128.Create((ushort)0x101, 0x102, 0x104, 0x108, 0x110, 0x120, 0x140, 0x180);
            ref int setBitPositions = ref PackedGemm.SetBitPositions;
            for (; g + 8 <= count; g += 8)
            {
                nuint at = (nuint)g * 4;
                Vector128<int> zero0 = Vector128.Equals(Vector128.LoadUnsafe(ref a, at).AsInt32(), Vector128<int>.Zero);
                Vector128<int> zero1 = Vector128.Equals(Vector128.LoadUnsafe(ref a, at + 16).AsInt32(), Vector128<int>.Zero);
                uint zero = Vector128.Sum(Vector128.Narrow(zero0, zero1).AsUInt16() & bitOfLane);
                PackedGemm.WriteSetBitPositions8(~zero & 0xFF, g, ref groups, kept, ref setBitPositions);
                kept += 8 - (int)(zero >> 8);
            }
        }

        if (Vector128.IsHardwareAccelerated)
        {
            for (; g + 4 <= count; g += 4)
            {
                Vector128<byte> any = Vector128.LoadUnsafe(ref a, (nuint)g * 4);
                for (int r = 1; r < rows; r++)
                {
                    any |= Vector128.LoadUnsafe(ref a, (nuint)r * lda + (nuint)g * 4);
                }

                uint zero = Vector128.Equals(any.AsInt32(), Vector128<int>.Zero).ExtractMostSignificantBits();
                kept = PackedGemm.AppendSetBits(~zero & 0xF, 4, g, ref groups, kept);
            }
        }

        for (; g < count; g++)
        {
            int any = 0;
            for (int r = 0; r < rows; r++)
            {
                any |= Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a, (nuint)r * lda + (nuint)g * 4));
            }

            Unsafe.Add(ref groups, kept) = g;
            kept += any != 0 ? 1 : 0;
        }

        return kept;
    }
}
