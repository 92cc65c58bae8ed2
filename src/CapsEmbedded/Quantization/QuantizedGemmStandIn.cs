// replaced by Kernels/Int8/QuantizedGemm at merge: delete this file; the int8-kernels branch defines these same types
// in the same namespace, so the callers (using CapsEmbedded.Kernels.Int8) need no change.
using System.Numerics;

namespace CapsEmbedded.Kernels.Int8;

/// <summary>Stand-in: the int8 tiers of issue 12 (only <see cref="Scalar"/> runs here).</summary>
public enum Int8Tier { Scalar, AdvSimd, AdvSimdDp, Avx2, Avx512BW, AvxVnni }

/// <summary>Stand-in: which int8 tier runs here (always the scalar one until the real kernels are merged).</summary>
public static class Int8Tiers
{
    public static Int8Tier Best => Int8Tier.Scalar;

    public static bool IsSupported(Int8Tier t) => t == Int8Tier.Scalar;
}

/// <summary>
/// Stand-in for the int8 GEMM: C[i,j] = Σ A[i,kk]·B[j,kk] in exact int32, A u7 bytes [m][k], B s8 [n][k].
/// "Packing" is a copy (the real layout differs; callers only hand the packed bytes back to Multiply).
/// Vector&lt;T&gt; widening keeps the 10,000-digit evaluation within minutes; the arithmetic is exact either way.
/// </summary>
public static class QuantizedGemm
{
    public static int PackedLength(int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        return checked(n * k);
    }

    public static void Pack(ReadOnlySpan<sbyte> bOutIn, int n, int k, Span<sbyte> packed)
    {
        int length = PackedLength(n, k);
        if (bOutIn.Length < length) throw new ArgumentException($"bOutIn has {bOutIn.Length} values; n·k = {length}", nameof(bOutIn));
        if (packed.Length < length) throw new ArgumentException($"packed has {packed.Length} values; PackedLength = {length}", nameof(packed));
        bOutIn[..length].CopyTo(packed);
    }

    public static void Multiply(ReadOnlySpan<byte> a, int m, int k, ReadOnlySpan<sbyte> packedB, int n, Span<int> c) =>
        Multiply(a, m, k, packedB, n, c, 0, m, Int8Tiers.Best);

    public static void Multiply(ReadOnlySpan<byte> a, int m, int k, ReadOnlySpan<sbyte> packedB, int n, Span<int> c, Int8Tier tier) =>
        Multiply(a, m, k, packedB, n, c, 0, m, tier);

    public static void Multiply(ReadOnlySpan<byte> a, int m, int k, ReadOnlySpan<sbyte> packedB, int n, Span<int> c,
        int rowStart, int rowEnd, Int8Tier tier)
    {
        if (!Int8Tiers.IsSupported(tier)) throw new PlatformNotSupportedException($"int8 tier {tier} is not supported here");
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        if (a.Length < (long)m * k) throw new ArgumentException($"a has {a.Length} values; m·k = {(long)m * k}", nameof(a));
        if (packedB.Length < PackedLength(n, k)) throw new ArgumentException($"packedB has {packedB.Length} values; PackedLength = {PackedLength(n, k)}", nameof(packedB));
        if (c.Length < (long)m * n) throw new ArgumentException($"c has {c.Length} values; m·n = {(long)m * n}", nameof(c));
        if (rowStart < 0 || rowEnd > m || rowStart > rowEnd) throw new ArgumentOutOfRangeException(nameof(rowStart), $"rows [{rowStart},{rowEnd}) are not within [0,{m})");
        for (int j = 0; j < n; j++)
        {
            ReadOnlySpan<sbyte> b = packedB.Slice(j * k, k);
            for (int i = rowStart; i < rowEnd; i++) c[i * n + j] = Dot(a.Slice(i * k, k), b);
        }
    }

    private static int Dot(ReadOnlySpan<byte> a, ReadOnlySpan<sbyte> b)
    {
        int kk = 0;
        var sum = Vector<int>.Zero;
        for (; kk <= a.Length - Vector<byte>.Count; kk += Vector<byte>.Count)
        {
            Vector.Widen(new Vector<byte>(a[kk..]), out Vector<ushort> a0, out Vector<ushort> a1);
            Vector.Widen(new Vector<sbyte>(b[kk..]), out Vector<short> b0, out Vector<short> b1);
            // |u7 · s8| ≤ 127·127 fits in a short; widen the products before adding.
            Vector.Widen(Vector.AsVectorInt16(a0) * b0, out Vector<int> p0, out Vector<int> p1);
            Vector.Widen(Vector.AsVectorInt16(a1) * b1, out Vector<int> p2, out Vector<int> p3);
            sum += (p0 + p1) + (p2 + p3);
        }
        int total = Vector.Sum(sum);
        for (; kk < a.Length; kk++) total += a[kk] * b[kk];
        return total;
    }
}
