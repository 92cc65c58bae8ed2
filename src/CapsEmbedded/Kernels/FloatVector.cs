using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace CapsEmbedded.Kernels;

/// <summary>
/// The float-vector operations the kernels' generic loops use (PackedGemm's register tiles, VectorMath), for one vector
/// type: the loops are written once against this because <c>ISimdVector</c> is not public in .NET 10. Implementations
/// are empty structs, so the JIT specialises each loop per type and the calls inline to single instructions.
/// </summary>
internal interface IFloatVector<TVec> where TVec : struct
{
    /// <summary>Lanes per vector.</summary>
    static abstract nuint Count { get; }

    static abstract TVec Zero { get; }

    static abstract TVec Load(ref float source, nuint offset);

    static abstract void Store(TVec value, ref float target, nuint offset);

    static abstract TVec Broadcast(float value);

    /// <summary>a·b + addend, fused on the tiers that require FMA.</summary>
    static abstract TVec MultiplyAdd(TVec a, TVec b, TVec addend);

    /// <summary>A vector whose lane 0 is <c>source[offset]</c> (the other lanes unspecified), for <see cref="MultiplyAddLane0"/>.</summary>
    static abstract TVec LoadLane0(ref float source, nuint offset);

    /// <summary>
    /// <c>MultiplyAdd(Broadcast(lane 0 of scalar), b, addend)</c>, the same bits: NEON multiplies by the lane itself
    /// (<c>FMLA v.4s, v.4s, v.s[0]</c>), so the register tiles need no <c>DUP</c> per broadcast value.
    /// </summary>
    static abstract TVec MultiplyAddLane0(TVec scalar, TVec b, TVec addend);

    static abstract TVec Add(TVec left, TVec right);

    static abstract TVec Subtract(TVec left, TVec right);

    static abstract TVec Multiply(TVec left, TVec right);

    /// <summary>max(x, 0).</summary>
    static abstract TVec Relu(TVec x);

    /// <summary>e^x per lane (the runtime's vector exp: within a few ulp of MathF.Exp).</summary>
    static abstract TVec Exp(TVec x);

    /// <summary>The sum of the lanes.</summary>
    static abstract float Sum(TVec x);
}

/// <summary>Vector512 (AVX-512F): fused multiply-add.</summary>
internal readonly struct F32x16 : IFloatVector<Vector512<float>>
{
    public static nuint Count => (nuint)Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref float source, nuint offset) => Vector512.LoadUnsafe(ref source, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref float target, nuint offset) => value.StoreUnsafe(ref target, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> addend) =>
        Vector512.FusedMultiplyAdd(a, b, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadLane0(ref float source, nuint offset) => Vector512.CreateScalarUnsafe(Unsafe.Add(ref source, offset));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAddLane0(Vector512<float> scalar, Vector512<float> b, Vector512<float> addend) =>
        Vector512.FusedMultiplyAdd(Vector512.Create(scalar.ToScalar()), b, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> left, Vector512<float> right) => left + right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> left, Vector512<float> right) => left - right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> left, Vector512<float> right) => left * right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Relu(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x) => Vector512.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> x) => Vector512.Sum(x);
}

/// <summary>Vector256: fused multiply-add (the tier requires AVX2 + FMA3).</summary>
internal readonly struct F32x8 : IFloatVector<Vector256<float>>
{
    public static nuint Count => (nuint)Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref float source, nuint offset) => Vector256.LoadUnsafe(ref source, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, ref float target, nuint offset) => value.StoreUnsafe(ref target, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> addend) =>
        Vector256.FusedMultiplyAdd(a, b, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadLane0(ref float source, nuint offset) => Vector256.CreateScalarUnsafe(Unsafe.Add(ref source, offset));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAddLane0(Vector256<float> scalar, Vector256<float> b, Vector256<float> addend) =>
        Vector256.FusedMultiplyAdd(Vector256.Create(scalar.ToScalar()), b, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> left, Vector256<float> right) => left + right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Subtract(Vector256<float> left, Vector256<float> right) => left - right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Multiply(Vector256<float> left, Vector256<float> right) => left * right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Relu(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x) => Vector256.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> x) => Vector256.Sum(x);
}

/// <summary>
/// Vector128: MultiplyAddEstimate, one fused instruction where the hardware has it (NEON FMLA, FMA3) and multiply + add
/// elsewhere (SSE without FMA, where a fused multiply-add would be a slow software fallback).
/// </summary>
internal readonly struct F32x4 : IFloatVector<Vector128<float>>
{
    public static nuint Count => (nuint)Vector128<float>.Count;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(ref float source, nuint offset) => Vector128.LoadUnsafe(ref source, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> value, ref float target, nuint offset) => value.StoreUnsafe(ref target, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Broadcast(float value) => Vector128.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> addend) =>
        Vector128.MultiplyAddEstimate(a, b, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadLane0(ref float source, nuint offset) => Vector128.CreateScalarUnsafe(Unsafe.Add(ref source, offset));
    /// <summary>On NEON FMLA by element (fused, as MultiplyAddEstimate is there); elsewhere broadcast + MultiplyAdd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAddLane0(Vector128<float> scalar, Vector128<float> b, Vector128<float> addend) =>
        AdvSimd.Arm64.IsSupported ? AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(addend, b, scalar, 0)
            : Vector128.MultiplyAddEstimate(Vector128.Create(scalar.ToScalar()), b, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> left, Vector128<float> right) => left + right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Subtract(Vector128<float> left, Vector128<float> right) => left - right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Multiply(Vector128<float> left, Vector128<float> right) => left * right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Relu(Vector128<float> x) => Vector128.Max(x, Vector128<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x) => Vector128.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector128<float> x) => Vector128.Sum(x);
}
