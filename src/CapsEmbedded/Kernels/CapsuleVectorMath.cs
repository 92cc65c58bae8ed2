using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CapsEmbedded.Kernels;

/// <summary>
/// The short-vector operations the capsule kernels share (capsules have 4–16 dims: 8 and 16 in the paper), on one tier:
/// widest vectors first, then narrower ones, then a scalar tail, so 8 and 16 dims never reach the scalar loop.
/// Callers validate lengths; these take <c>ref float</c> and a length.
/// </summary>
internal static class CapsuleVectorMath
{
    /// <summary>Σ x[t]².</summary>
    public static float SumOfSquares(ref float x, int length, SimdTier tier) => Dot(ref x, ref x, length, tier);

    /// <summary>Σ x[t]·y[t].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ref float x, ref float y, int length, SimdTier tier)
    {
        nuint count = (nuint)length;
        nuint t = 0;
        float sum = 0f;
        if (tier == SimdTier.Vector512 && count >= 16)
        {
            Vector512<float> acc = Vector512<float>.Zero;
            for (; t + 16 <= count; t += 16)
            {
                acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref x, t), Vector512.LoadUnsafe(ref y, t), acc);
            }

            sum += Vector512.Sum(acc);
        }

        if (tier >= SimdTier.Vector256 && t + 8 <= count)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            for (; t + 8 <= count; t += 8)
            {
                acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref x, t), Vector256.LoadUnsafe(ref y, t), acc);
            }

            sum += Vector256.Sum(acc);
        }

        if (tier >= SimdTier.Vector128 && t + 4 <= count)
        {
            Vector128<float> acc = Vector128<float>.Zero;
            for (; t + 4 <= count; t += 4)
            {
                acc = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref x, t), Vector128.LoadUnsafe(ref y, t), acc);
            }

            sum += Vector128.Sum(acc);
        }

        for (; t < count; t++)
        {
            sum += Unsafe.Add(ref x, t) * Unsafe.Add(ref y, t);
        }

        return sum;
    }

    /// <summary>x[t] *= scale.</summary>
    public static void Scale(ref float x, float scale, int length, SimdTier tier)
    {
        nuint count = (nuint)length;
        nuint t = 0;
        if (tier == SimdTier.Vector512)
        {
            for (; t + 16 <= count; t += 16)
            {
                (Vector512.LoadUnsafe(ref x, t) * scale).StoreUnsafe(ref x, t);
            }
        }

        if (tier >= SimdTier.Vector256)
        {
            for (; t + 8 <= count; t += 8)
            {
                (Vector256.LoadUnsafe(ref x, t) * scale).StoreUnsafe(ref x, t);
            }
        }

        if (tier >= SimdTier.Vector128)
        {
            for (; t + 4 <= count; t += 4)
            {
                (Vector128.LoadUnsafe(ref x, t) * scale).StoreUnsafe(ref x, t);
            }
        }

        for (; t < count; t++)
        {
            Unsafe.Add(ref x, t) *= scale;
        }
    }

    /// <summary>
    /// s[0..d) = Σ_i weight[i·weightStride] · x[i·xStride + 0..d), summed over i in order, each chunk of d in a register.
    /// </summary>
    public static void WeightedSum(ref float s, ref float weight, nuint weightStride, ref float x, nuint xStride, int count, int d,
        SimdTier tier)
    {
        nuint dims = (nuint)d;
        nuint rows = (nuint)count;
        nuint t = 0;
        if (tier == SimdTier.Vector512)
        {
            for (; t + 16 <= dims; t += 16)
            {
                Vector512<float> acc = Vector512<float>.Zero;
                for (nuint i = 0; i < rows; i++)
                {
                    acc = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref weight, i * weightStride)),
                        Vector512.LoadUnsafe(ref x, i * xStride + t), acc);
                }

                acc.StoreUnsafe(ref s, t);
            }
        }

        if (tier >= SimdTier.Vector256)
        {
            for (; t + 8 <= dims; t += 8)
            {
                Vector256<float> acc = Vector256<float>.Zero;
                for (nuint i = 0; i < rows; i++)
                {
                    acc = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref weight, i * weightStride)),
                        Vector256.LoadUnsafe(ref x, i * xStride + t), acc);
                }

                acc.StoreUnsafe(ref s, t);
            }
        }

        if (tier >= SimdTier.Vector128)
        {
            for (; t + 4 <= dims; t += 4)
            {
                Vector128<float> acc = Vector128<float>.Zero;
                for (nuint i = 0; i < rows; i++)
                {
                    acc = Vector128.MultiplyAddEstimate(Vector128.Create(Unsafe.Add(ref weight, i * weightStride)),
                        Vector128.LoadUnsafe(ref x, i * xStride + t), acc);
                }

                acc.StoreUnsafe(ref s, t);
            }
        }

        for (; t < dims; t++)
        {
            float sum = 0f;
            for (nuint i = 0; i < rows; i++)
            {
                sum += Unsafe.Add(ref weight, i * weightStride) * Unsafe.Add(ref x, i * xStride + t);
            }

            Unsafe.Add(ref s, t) = sum;
        }
    }

    /// <summary>x[t] = e^x[t] (the runtime's vector exp: within a few ulp of MathF.Exp).</summary>
    public static void ExpInPlace(Span<float> values, SimdTier tier)
    {
        ref float x = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(values);
        nuint count = (nuint)values.Length;
        nuint t = 0;
        if (tier == SimdTier.Vector512)
        {
            for (; t + 16 <= count; t += 16)
            {
                Vector512.Exp(Vector512.LoadUnsafe(ref x, t)).StoreUnsafe(ref x, t);
            }
        }

        if (tier >= SimdTier.Vector256)
        {
            for (; t + 8 <= count; t += 8)
            {
                Vector256.Exp(Vector256.LoadUnsafe(ref x, t)).StoreUnsafe(ref x, t);
            }
        }

        if (tier >= SimdTier.Vector128)
        {
            for (; t + 4 <= count; t += 4)
            {
                Vector128.Exp(Vector128.LoadUnsafe(ref x, t)).StoreUnsafe(ref x, t);
            }
        }

        for (; t < count; t++)
        {
            Unsafe.Add(ref x, t) = MathF.Exp(Unsafe.Add(ref x, t));
        }
    }
}
