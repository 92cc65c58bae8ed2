using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace CapsEmbedded.Kernels.Int8;

/// <summary>
/// The prediction vectors of eq. 2 with W in int8: û_{j|i} = s_ij · Σ_p u_i[p] · q_ij[p], one scale s_ij per W_ij
/// (symmetric, s_ij = max|W_ij| / 127) and u_i in float32. W is read as one byte per weight, a quarter of float32.
/// </summary>
/// <remarks>
/// q is in <see cref="CapsuleTransform.PackWeights"/>' layout [N][J][P][D] (column p of W_ij, D contiguous bytes). Every
/// tier computes each output the same way: acc = 0, acc = fma(u_i[p], (float)q[p][t], acc) for p = 0..P−1 in order, then
/// acc · s_ij, so the tiers give the same bits as the scalar loop (the widening of a byte to float is exact).
/// </remarks>
public static class QuantizedTransform
{
    /// <summary>uHat[i][j][0..d) = scales[i·J + j] · Σ_p u[i][p] · quantised[i][j][p][0..d) (eq. 2).</summary>
    /// <param name="u">Primary capsules [N][P] (after squash).</param>
    /// <param name="quantised">W_ij in int8, packed [N][J][P][D] (<see cref="Quantization.Quantizer.QuantizeDigitWeight"/>).</param>
    /// <param name="scales">s_ij [N][J].</param>
    /// <param name="n">Primary capsules N.</param>
    /// <param name="j">Digit capsules J.</param>
    /// <param name="d">Digit capsule dims D.</param>
    /// <param name="p">Primary capsule dims P.</param>
    /// <param name="uHat">Output [N][J][D].</param>
    /// <param name="tier">SIMD tier (every tier gives the same bits).</param>
    public static unsafe void Run(ReadOnlySpan<float> u, ReadOnlySpan<sbyte> quantised, ReadOnlySpan<float> scales, int n, int j, int d, int p,
        Span<float> uHat, SimdTier tier)
    {
        int length = CapsuleTransform.WeightsLength(n, j, d, p);
        SimdTiers.ThrowIfUnsupported(tier);
        KernelArguments.RequireLength(u.Length, (long)n * p, nameof(u), "n·p");
        KernelArguments.RequireLength(quantised.Length, length, nameof(quantised), "n·j·d·p");
        KernelArguments.RequireLength(scales.Length, (long)n * j, nameof(scales), "n·j");
        KernelArguments.RequireLength(uHat.Length, (long)n * j * d, nameof(uHat), "n·j·d");

        ref float uRef = ref MemoryMarshal.GetReference(u);
        fixed (sbyte* pinned = quantised) // the x64 256-bit path loads bytes by address
        {
            RunPinned(ref uRef, ref *pinned, scales, n, j, d, p, uHat, tier);
        }
    }

    private static void RunPinned(ref float uRef, ref sbyte qRef, ReadOnlySpan<float> scales, int n, int j, int d, int p, Span<float> uHat,
        SimdTier tier)
    {
        ref float scaleRef = ref MemoryMarshal.GetReference(scales);
        ref float outRef = ref MemoryMarshal.GetReference(uHat);
        nuint dims = (nuint)d, block = (nuint)(d * p);
        for (int i = 0; i < n; i++)
        {
            ref float ui = ref Unsafe.Add(ref uRef, (nuint)(i * p));
            for (int jj = 0; jj < j; jj++)
            {
                nuint ij = (nuint)(i * j + jj);
                ref sbyte w = ref Unsafe.Add(ref qRef, ij * block);
                ref float output = ref Unsafe.Add(ref outRef, ij * dims);
                float scale = Unsafe.Add(ref scaleRef, ij);
                nuint t = 0;
                if (tier == SimdTier.Vector512) t = Chunks512(ref output, ref ui, ref w, scale, p, dims, t);
                if (tier >= SimdTier.Vector256) t = Chunks256(ref output, ref ui, ref w, scale, p, dims, t);
                if (tier >= SimdTier.Vector128) t = Chunks128(ref output, ref ui, ref w, scale, p, dims, t);
                for (; t < dims; t++)
                {
                    float acc = 0f;
                    for (int q = 0; q < p; q++)
                        acc = MathF.FusedMultiplyAdd(Unsafe.Add(ref ui, q), Unsafe.Add(ref w, (nuint)q * dims + t), acc);
                    Unsafe.Add(ref output, t) = acc * scale;
                }
            }
        }
    }

    // Each width: chunks of as many outputs as float lanes; a chunk's bytes (one per lane) are loaded and sign-extended to
    // int32, converted exactly to float, and multiply-added into the chunk's accumulator, p in order.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Chunks512(ref float output, ref float ui, ref sbyte w, float scale, int p, nuint dims, nuint t)
    {
        for (; t + 16 <= dims; t += 16)
        {
            Vector512<float> acc = Vector512<float>.Zero;
            nuint at = t;
            for (int q = 0; q < p; q++, at += dims)
            {
                Vector512<short> bytes = Vector512.WidenLower(Vector128.LoadUnsafe(ref w, at).ToVector256Unsafe().ToVector512Unsafe());
                Vector512<float> weight = Vector512.ConvertToSingle(Vector512.WidenLower(bytes));
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref ui, q)), weight, acc);
            }

            (acc * scale).StoreUnsafe(ref output, t);
        }

        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe nuint Chunks256(ref float output, ref float ui, ref sbyte w, float scale, int p, nuint dims, nuint t)
    {
        // Two chunks per pass where d allows (û's d = 16): u_i[p] is broadcast once for both, and on x64 each 8 bytes are
        // loaded and sign-extended by one vpmovsxbd (w is pinned by Run).
        for (; t + 16 <= dims; t += 16)
        {
            Vector256<float> low = Vector256<float>.Zero, high = Vector256<float>.Zero;
            nuint at = t;
            for (int q = 0; q < p; q++, at += dims)
            {
                Vector256<float> uq = Vector256.Create(Unsafe.Add(ref ui, q));
                low = Vector256.FusedMultiplyAdd(uq, Widen256(ref Unsafe.Add(ref w, at)), low);
                high = Vector256.FusedMultiplyAdd(uq, Widen256(ref Unsafe.Add(ref w, at + 8)), high);
            }

            (low * scale).StoreUnsafe(ref output, t);
            (high * scale).StoreUnsafe(ref output, t + 8);
        }

        for (; t + 8 <= dims; t += 8)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            nuint at = t;
            for (int q = 0; q < p; q++, at += dims)
                acc = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ui, q)), Widen256(ref Unsafe.Add(ref w, at)), acc);

            (acc * scale).StoreUnsafe(ref output, t);
        }

        return t;
    }

    /// <summary>8 bytes at <paramref name="bytes"/> (pinned) as 8 floats, exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> Widen256(ref sbyte bytes)
    {
        if (Avx2.IsSupported) return Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32((sbyte*)Unsafe.AsPointer(ref bytes)));
        Vector128<sbyte> eight = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<long>(ref Unsafe.As<sbyte, byte>(ref bytes))).AsSByte();
        return Vector256.ConvertToSingle(Vector256.WidenLower(Vector256.WidenLower(eight.ToVector256Unsafe())));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Chunks128(ref float output, ref float ui, ref sbyte w, float scale, int p, nuint dims, nuint t)
    {
        if (AdvSimd.Arm64.IsSupported) t = Chunks16AdvSimd(ref output, ref ui, ref w, scale, p, dims, t);

        // Four chunks per pass where d allows (û's d = 16): one 16-byte load and one broadcast of u_i[p] serve 16 outputs,
        // instead of a load through a general register and a broadcast per 4.
        for (; t + 16 <= dims; t += 16)
        {
            Vector128<float> acc0 = Vector128<float>.Zero, acc1 = Vector128<float>.Zero;
            Vector128<float> acc2 = Vector128<float>.Zero, acc3 = Vector128<float>.Zero;
            nuint at = t;
            for (int q = 0; q < p; q++, at += dims)
            {
                Vector128<sbyte> bytes = Vector128.LoadUnsafe(ref w, at);
                Vector128<short> low = Vector128.WidenLower(bytes), high = Vector128.WidenUpper(bytes);
                Vector128<float> uq = Vector128.Create(Unsafe.Add(ref ui, q));
                acc0 = Vector128.FusedMultiplyAdd(uq, Vector128.ConvertToSingle(Vector128.WidenLower(low)), acc0);
                acc1 = Vector128.FusedMultiplyAdd(uq, Vector128.ConvertToSingle(Vector128.WidenUpper(low)), acc1);
                acc2 = Vector128.FusedMultiplyAdd(uq, Vector128.ConvertToSingle(Vector128.WidenLower(high)), acc2);
                acc3 = Vector128.FusedMultiplyAdd(uq, Vector128.ConvertToSingle(Vector128.WidenUpper(high)), acc3);
            }

            (acc0 * scale).StoreUnsafe(ref output, t);
            (acc1 * scale).StoreUnsafe(ref output, t + 4);
            (acc2 * scale).StoreUnsafe(ref output, t + 8);
            (acc3 * scale).StoreUnsafe(ref output, t + 12);
        }

        for (; t + 4 <= dims; t += 4)
        {
            Vector128<float> acc = Vector128<float>.Zero;
            nuint at = t;
            for (int q = 0; q < p; q++, at += dims)
            {
                Vector128<sbyte> four = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<int>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref w, at)))).AsSByte();
                Vector128<float> weight = Vector128.ConvertToSingle(Vector128.WidenLower(Vector128.WidenLower(four)));
                acc = Vector128.FusedMultiplyAdd(Vector128.Create(Unsafe.Add(ref ui, q)), weight, acc);
            }

            (acc * scale).StoreUnsafe(ref output, t);
        }

        return t;
    }

    /// <summary>
    /// The 16-output pass on NEON: SSHLL/SSHLL2 sign-extend the 16 bytes in place and FMLA by element takes u_i[p] from a
    /// register holding u_i[p..p+4), so no broadcast and no register copies per p. Same fma per output, p in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Chunks16AdvSimd(ref float output, ref float ui, ref sbyte w, float scale, int p, nuint dims, nuint t)
    {
        for (; t + 16 <= dims; t += 16)
        {
            Vector128<float> acc0 = Vector128<float>.Zero, acc1 = Vector128<float>.Zero;
            Vector128<float> acc2 = Vector128<float>.Zero, acc3 = Vector128<float>.Zero;
            nuint at = t;
            int q = 0;
            for (; q + 4 <= p; q += 4, at += 4 * dims)
            {
                Vector128<float> u4 = Vector128.LoadUnsafe(ref ui, (nuint)q);
                MultiplyAdd16(ref acc0, ref acc1, ref acc2, ref acc3, Vector128.LoadUnsafe(ref w, at), u4, 0);
                MultiplyAdd16(ref acc0, ref acc1, ref acc2, ref acc3, Vector128.LoadUnsafe(ref w, at + dims), u4, 1);
                MultiplyAdd16(ref acc0, ref acc1, ref acc2, ref acc3, Vector128.LoadUnsafe(ref w, at + 2 * dims), u4, 2);
                MultiplyAdd16(ref acc0, ref acc1, ref acc2, ref acc3, Vector128.LoadUnsafe(ref w, at + 3 * dims), u4, 3);
            }

            for (; q < p; q++, at += dims)
            {
                Vector128<float> u1 = Vector128.CreateScalarUnsafe(Unsafe.Add(ref ui, q));
                MultiplyAdd16(ref acc0, ref acc1, ref acc2, ref acc3, Vector128.LoadUnsafe(ref w, at), u1, 0);
            }

            (acc0 * scale).StoreUnsafe(ref output, t);
            (acc1 * scale).StoreUnsafe(ref output, t + 4);
            (acc2 * scale).StoreUnsafe(ref output, t + 8);
            (acc3 * scale).StoreUnsafe(ref output, t + 12);
        }

        return t;
    }

    /// <summary>acc0..acc3 = fma(u[lane], (float)bytes[0..16), acc0..acc3), each product fused as in the scalar loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyAdd16(ref Vector128<float> acc0, ref Vector128<float> acc1, ref Vector128<float> acc2,
        ref Vector128<float> acc3, Vector128<sbyte> bytes, Vector128<float> u, [ConstantExpected(Max = 3)] byte lane)
    {
        Vector128<short> low = AdvSimd.SignExtendWideningLower(bytes.GetLower());
        Vector128<short> high = AdvSimd.SignExtendWideningUpper(bytes);
        Vector128<float> w0 = AdvSimd.ConvertToSingle(AdvSimd.SignExtendWideningLower(low.GetLower()));
        Vector128<float> w1 = AdvSimd.ConvertToSingle(AdvSimd.SignExtendWideningUpper(low));
        Vector128<float> w2 = AdvSimd.ConvertToSingle(AdvSimd.SignExtendWideningLower(high.GetLower()));
        Vector128<float> w3 = AdvSimd.ConvertToSingle(AdvSimd.SignExtendWideningUpper(high));
        acc0 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(acc0, w0, u, lane);
        acc1 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(acc1, w1, u, lane);
        acc2 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(acc2, w2, u, lane);
        acc3 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(acc3, w3, u, lane);
    }
}
