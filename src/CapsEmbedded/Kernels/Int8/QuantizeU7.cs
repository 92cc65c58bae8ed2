using System.Numerics;

namespace CapsEmbedded.Kernels.Int8;

/// <summary>
/// Float activations to u7 codes, the int8 GEMM's A: codes[t] = min(⌊x[t]·inverseScale + ½⌋, 127) for a ReLU output
/// x ≥ 0 (a negative x gives 0). Element-wise, so any split of x over threads gives the same bytes.
/// </summary>
public static class QuantizeU7
{
    /// <summary>The largest code: 7 bits, so that vpmaddubsw never saturates (see README.md).</summary>
    public const int MaxCode = 127;

    /// <summary>Quantises <paramref name="x"/> into <paramref name="codes"/> (at least as long).</summary>
    public static void Run(ReadOnlySpan<float> x, float inverseScale, Span<byte> codes)
    {
        if (codes.Length < x.Length) throw new ArgumentException($"codes has room for {codes.Length}; x has {x.Length}", nameof(codes));
        int t = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= 4 * Vector<float>.Count)
        {
            int step = 4 * Vector<float>.Count; // four float vectors narrow to one byte vector
            var scale = new Vector<float>(inverseScale);
            var half = new Vector<float>(0.5f);
            var top = new Vector<float>(MaxCode);
            Vector<int> Code(ReadOnlySpan<float> v) =>
                Vector.ConvertToInt32(Vector.Min(Vector.Max(new Vector<float>(v) * scale + half, Vector<float>.Zero), top));
            for (; t <= x.Length - step; t += step)
            {
                var v = x.Slice(t, step);
                var lo = Vector.Narrow(Code(v), Code(v[Vector<float>.Count..]));
                var hi = Vector.Narrow(Code(v[(2 * Vector<float>.Count)..]), Code(v[(3 * Vector<float>.Count)..]));
                Vector.AsVectorByte(Vector.Narrow(lo, hi)).CopyTo(codes[t..]);
            }
        }
        for (; t < x.Length; t++)
        {
            float v = x[t] * inverseScale + 0.5f;
            codes[t] = v >= 1f ? (byte)Math.Min((int)MathF.Min(v, MaxCode), MaxCode) : (byte)0;
        }
    }
}
