using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using CapsEmbedded.Kernels;

namespace CapsEmbedded.Weights;

/// <summary>
/// The storage precisions a CapsNet weight file may use — F32, F16 (IEEE binary16) and BF16 (bfloat16) — and the
/// conversions between them. Narrower tensors are widened to float32 when read or packed, so the kernels only ever
/// see float32; narrowing rounds to nearest, ties to even, and refuses a value that would become ±Inf.
/// </summary>
public static class WeightPrecision
{
    /// <summary>Bytes per element of a weight dtype CapsNet tensors may have, or 0 for any other dtype.</summary>
    public static int BytesPerElement(string dtype) => dtype switch
    {
        SafeTensorsDType.F32 => 4,
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        _ => 0,
    };

    /// <summary>
    /// Widens little-endian <paramref name="dtype"/> values to float32 (exact: every F16 and BF16 value, subnormals,
    /// ±0, ±Inf and NaN included, is a float32). <paramref name="source"/> may be unaligned.
    /// </summary>
    public static void Widen(ReadOnlySpan<byte> source, string dtype, Span<float> destination)
    {
        int size = BytesPerElement(dtype);
        if (size == 0) throw new ArgumentException($"dtype {dtype} is not a weight precision (F32, F16, BF16)", nameof(dtype));
        if (source.Length != (long)destination.Length * size)
            throw new ArgumentException($"{source.Length} bytes of {dtype} are not {destination.Length} values", nameof(source));
        switch (dtype)
        {
            case SafeTensorsDType.F32 when BitConverter.IsLittleEndian:
                source.CopyTo(MemoryMarshal.AsBytes(destination)); // byte copy: no alignment needed, bits kept
                break;
            case SafeTensorsDType.F32:
                for (int k = 0; k < destination.Length; k++)
                    destination[k] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadInt32LittleEndian(source[(4 * k)..]));
                break;
            case SafeTensorsDType.F16 when BitConverter.IsLittleEndian:
                WidenHalf(source, destination, SimdTiers.Best);
                break;
            case SafeTensorsDType.F16:
                for (int k = 0; k < destination.Length; k++)
                    destination[k] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * k)..]));
                break;
            default:
                for (int k = 0; k < destination.Length; k++)
                    destination[k] = BFloat16ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * k)..]));
                break;
        }
    }

    /// <summary>
    /// Widens little-endian F16 bytes (possibly unaligned) to float32 on <paramref name="tier"/>, with the bits of
    /// <c>(float)Half</c> for every input: the vector tiers run .NET's own branch-free conversion (exponent rebias, subnormals
    /// by one float subtraction, Inf/NaN exponent doubled) lane by lane, so even a signalling NaN is quieted alike.
    /// </summary>
    public static void WidenHalf(ReadOnlySpan<byte> source, Span<float> destination, SimdTier tier)
    {
        SimdTiers.ThrowIfUnsupported(tier);
        if (source.Length != (long)destination.Length * 2)
            throw new ArgumentException($"{source.Length} bytes of F16 are not {destination.Length} values", nameof(source));
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("F16 bytes are little-endian; this machine is big-endian");
        HalfWidening.Run<IeeeHalf>(ref Unsafe.As<byte, short>(ref MemoryMarshal.GetReference(source)),
            ref MemoryMarshal.GetReference(destination), (nuint)destination.Length, tier);
    }

    /// <summary>
    /// System.Half's explicit conversion to float (.NET 8+), lane by lane: its constants, and its steps on the bits of lanes
    /// sign-extended from 16 bits (every mask below drops the extended copies of the sign).
    /// </summary>
    private readonly struct IeeeHalf : IHalfConversion
    {
        private const int HalfExponentMask = 0x7C00, HalfSignMask = 0x8000, HalfToSingleBitsMask = 0x0FFF_E000;
        private const int HalfToSingleShift = 13, HalfSignToSingle = 16;
        private const int ExponentLowerBound = 0x3880_0000, ExponentOffset = 0x3800_0000;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Convert(Vector512<int> bits)
        {
            var exponent = bits & Vector512.Create(HalfExponentMask);
            var subnormalBound = Vector512.Equals(exponent, Vector512<int>.Zero) & Vector512.Create(ExponentLowerBound); // 2^-14 for subnormals
            var infinityOrNaN = Vector512.Equals(exponent, Vector512.Create(HalfExponentMask)) & Vector512.Create(ExponentOffset);
            // (Half's "offset << 1" for Inf/NaN is offset + offset there, as a subnormal is never Inf/NaN.)
            var offset = (Vector512.Create(ExponentOffset) | subnormalBound) + infinityOrNaN;
            var rebiased = ((bits << HalfToSingleShift) & Vector512.Create(HalfToSingleBitsMask)) + offset;
            var magnitude = (rebiased.AsSingle() - subnormalBound.AsSingle()).AsInt32();
            return (magnitude | ((bits & Vector512.Create(HalfSignMask)) << HalfSignToSingle)).AsSingle();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Convert(Vector256<int> bits)
        {
            var exponent = bits & Vector256.Create(HalfExponentMask);
            var subnormalBound = Vector256.Equals(exponent, Vector256<int>.Zero) & Vector256.Create(ExponentLowerBound);
            var infinityOrNaN = Vector256.Equals(exponent, Vector256.Create(HalfExponentMask)) & Vector256.Create(ExponentOffset);
            var offset = (Vector256.Create(ExponentOffset) | subnormalBound) + infinityOrNaN;
            var rebiased = ((bits << HalfToSingleShift) & Vector256.Create(HalfToSingleBitsMask)) + offset;
            var magnitude = (rebiased.AsSingle() - subnormalBound.AsSingle()).AsInt32();
            return (magnitude | ((bits & Vector256.Create(HalfSignMask)) << HalfSignToSingle)).AsSingle();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Convert(Vector128<int> bits)
        {
            var exponent = bits & Vector128.Create(HalfExponentMask);
            var subnormalBound = Vector128.Equals(exponent, Vector128<int>.Zero) & Vector128.Create(ExponentLowerBound);
            var infinityOrNaN = Vector128.Equals(exponent, Vector128.Create(HalfExponentMask)) & Vector128.Create(ExponentOffset);
            var offset = (Vector128.Create(ExponentOffset) | subnormalBound) + infinityOrNaN;
            var rebiased = ((bits << HalfToSingleShift) & Vector128.Create(HalfToSingleBitsMask)) + offset;
            var magnitude = (rebiased.AsSingle() - subnormalBound.AsSingle()).AsInt32();
            return (magnitude | ((bits & Vector128.Create(HalfSignMask)) << HalfSignToSingle)).AsSingle();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Convert(short bits) => (float)BitConverter.Int16BitsToHalf(bits);
    }

    /// <summary>
    /// Narrows float32 values to little-endian <paramref name="dtype"/> bytes, rounding to nearest, ties to even.
    /// A finite value that would round to ±Inf (|x| ≥ 65520 for F16) is refused: the exception names the tensor,
    /// the index and the value. NaN and ±Inf are kept as they are (the reader's finite check refuses them earlier).
    /// </summary>
    /// <exception cref="WeightFormatException">A value overflows the narrower type.</exception>
    public static void Narrow(ReadOnlySpan<float> source, string dtype, Span<byte> destination, string fileName, string tensorName)
    {
        int size = BytesPerElement(dtype);
        if (size == 0) throw new ArgumentException($"dtype {dtype} is not a weight precision (F32, F16, BF16)", nameof(dtype));
        if (destination.Length != (long)source.Length * size)
            throw new ArgumentException($"{destination.Length} bytes of {dtype} cannot hold {source.Length} values", nameof(destination));
        if (dtype == SafeTensorsDType.F32 && BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(source).CopyTo(destination); // NaN payloads and −0 survive
            return;
        }
        for (int k = 0; k < source.Length; k++)
        {
            float x = source[k];
            switch (dtype)
            {
                case SafeTensorsDType.F32:
                    BinaryPrimitives.WriteInt32LittleEndian(destination[(4 * k)..], BitConverter.SingleToInt32Bits(x));
                    continue;
                case SafeTensorsDType.F16:
                    Half h = (Half)x; // IEEE 754 round to nearest, ties to even (subnormals included)
                    if (Half.IsInfinity(h) && float.IsFinite(x)) throw Overflow(fileName, tensorName, k, x, dtype, "±65504");
                    BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * k)..], BitConverter.HalfToUInt16Bits(h));
                    continue;
                default:
                    ushort b = SingleToBFloat16(x);
                    if ((b & 0x7FFF) == 0x7F80 && float.IsFinite(x)) throw Overflow(fileName, tensorName, k, x, dtype, "±3.3895314e38");
                    BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * k)..], b);
                    continue;
            }
        }
    }

    /// <summary>bfloat16 bits → float32: the 16 bits are the top half of the float32 (exact).</summary>
    public static float BFloat16ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>
    /// float32 → bfloat16 bits, round to nearest, ties to even (as PyTorch's and TensorFlow's conversions): add 0x7FFF plus
    /// the lowest kept bit, then truncate. A NaN stays a NaN (quiet bit set, so truncating its payload cannot make it Inf).
    /// </summary>
    public static ushort SingleToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)(bits >> 16);
    }

    private static WeightFormatException Overflow(string fileName, string tensorName, int index, float value, string dtype, string range) =>
        new(fileName, tensorName, $"value {index} is {value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}, "
            + $"outside the range of {dtype} ({range}); it would become infinite, so the tensor cannot be stored as {dtype}");
}
