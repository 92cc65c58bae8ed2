using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

/// <summary>
/// The prediction vectors of eq. 2: û_{j|i} = W_ij u_i, for every primary capsule i (P dims) and digit capsule j (D dims).
/// </summary>
/// <remarks>
/// digit_caps.weight is [N][J][D][P] (W_ij row-major, D × P). <see cref="PackWeights"/> transposes each W_ij to [P][D], so
/// that û_{j|i} = Σ_p u_i[p] · column p: a broadcast of u_i[p] times D contiguous floats (2 Vector256 FMAs per p for D = 16),
/// accumulated in registers. The sum over p runs in the same order on every tier.
/// </remarks>
public static class CapsuleTransform
{
    /// <summary>Floats of W (and of the packed W): n·j·d·p.</summary>
    public static int WeightsLength(int n, int j, int d, int p) => checked(n * j * d * p);

    /// <summary>Transposes every W_ij of <paramref name="w"/> ([N][J][D][P]) into <paramref name="packed"/> ([N][J][P][D]).</summary>
    public static void PackWeights(ReadOnlySpan<float> w, int n, int j, int d, int p, Span<float> packed)
    {
        int length = Validate(n, j, d, p);
        RequireLength(w.Length, length, nameof(w));
        RequireLength(packed.Length, length, nameof(packed));
        int block = d * p;
        for (int ij = 0; ij < n * j; ij++)
        {
            ReadOnlySpan<float> source = w.Slice(ij * block, block);
            Span<float> target = packed.Slice(ij * block, block);
            for (int row = 0; row < d; row++)
            {
                for (int column = 0; column < p; column++)
                {
                    target[column * d + row] = source[row * p + column];
                }
            }
        }
    }

    /// <summary>û = W u for all i, j on the best tier.</summary>
    public static void Run(ReadOnlySpan<float> u, ReadOnlySpan<float> packedW, int n, int j, int d, int p, Span<float> uHat) =>
        Run(u, packedW, n, j, d, p, uHat, SimdTiers.Best);

    /// <summary>uHat[i][j][0..d) = Σ_p u[i][p] · packedW[i][j][p][0..d) (eq. 2).</summary>
    /// <param name="u">Primary capsules [N][P] (after squash).</param>
    /// <param name="packedW">W after <see cref="PackWeights"/>.</param>
    /// <param name="n">Primary capsules N.</param>
    /// <param name="j">Digit capsules J.</param>
    /// <param name="d">Digit capsule dims D.</param>
    /// <param name="p">Primary capsule dims P.</param>
    /// <param name="uHat">Output [N][J][D].</param>
    /// <param name="tier">SIMD tier.</param>
    public static void Run(ReadOnlySpan<float> u, ReadOnlySpan<float> packedW, int n, int j, int d, int p, Span<float> uHat, SimdTier tier)
    {
        ValidateRun(u.Length, packedW.Length, uHat.Length, n, j, d, p, tier);

        ref float uRef = ref MemoryMarshal.GetReference(u);
        ref float wRef = ref MemoryMarshal.GetReference(packedW);
        ref float outRef = ref MemoryMarshal.GetReference(uHat);
        for (int i = 0; i < n; i++)
        {
            ref float ui = ref Unsafe.Add(ref uRef, (nuint)(i * p));
            for (int jj = 0; jj < j; jj++)
            {
                int ij = i * j + jj;
                // û_{j|i}[t] = Σ_q u_i[q] · W_ij[q][t]: a weighted sum of W's rows, weights u_i.
                VectorMath.WeightedSum(ref Unsafe.Add(ref outRef, (nuint)ij * (nuint)d), ref ui, 1,
                    ref Unsafe.Add(ref wRef, (nuint)ij * (nuint)(p * d)), (nuint)d, p, d, tier);
            }
        }
    }

    /// <summary>Floats of the stack block the F16 overload widens W into: whole W_ij up to 16 KiB.</summary>
    private const int WidenedFloats = 4096;

    /// <summary>
    /// û as by the float32 overload, with W packed by <see cref="PackWeights"/> and stored as F16 (every value finite): a run
    /// of W_ij at a time (16 KiB of floats, in L1) is widened exactly (<see cref="HalfPanels"/>) and summed in the float32
    /// overload's order, so the result is its bits on the widened W while half the bytes of W are read (û streams W once).
    /// </summary>
    public static void Run(ReadOnlySpan<float> u, ReadOnlySpan<Half> packedW, int n, int j, int d, int p, Span<float> uHat, SimdTier tier)
    {
        ValidateRun(u.Length, packedW.Length, uHat.Length, n, j, d, p, tier);
        int block = p * d;
        if (block > WidenedFloats)
        {
            throw new ArgumentException($"W_ij of d·p = {block} floats is larger than the {WidenedFloats} the F16 kernel widens at once.", nameof(d));
        }

        Span<float> widened = stackalloc float[WidenedFloats];
        int perRun = WidenedFloats / block;
        ref float uRef = ref MemoryMarshal.GetReference(u);
        ref short wRef = ref Unsafe.As<Half, short>(ref MemoryMarshal.GetReference(packedW));
        ref float widenedRef = ref MemoryMarshal.GetReference(widened);
        ref float outRef = ref MemoryMarshal.GetReference(uHat);
        int pairs = n * j;
        for (int first = 0; first < pairs; first += perRun)
        {
            int count = Math.Min(perRun, pairs - first);
            HalfPanels.Widen(ref Unsafe.Add(ref wRef, (nuint)first * (nuint)block), ref widenedRef, (nuint)(count * block), tier);
            for (int ij = first; ij < first + count; ij++)
            {
                VectorMath.WeightedSum(ref Unsafe.Add(ref outRef, (nuint)ij * (nuint)d), ref Unsafe.Add(ref uRef, (nuint)(ij / j * p)), 1,
                    ref Unsafe.Add(ref widenedRef, (nuint)((ij - first) * block)), (nuint)d, p, d, tier);
            }
        }
    }

    /// <summary>Run's checks, alike for float32 and F16 W: the sizes, the tier, and the three spans' lengths.</summary>
    private static void ValidateRun(int uLength, int packedWLength, int uHatLength, int n, int j, int d, int p, SimdTier tier)
    {
        int length = Validate(n, j, d, p);
        SimdTiers.ThrowIfUnsupported(tier);
        RequireLength(uLength, (long)n * p, "u");
        RequireLength(packedWLength, length, "packedW");
        RequireLength(uHatLength, (long)n * j * d, "uHat");
    }

    private static int Validate(int n, int j, int d, int p)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(j);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(d);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(p);
        long length = (long)n * j * d * p;
        if (length > Array.MaxLength)
        {
            throw new ArgumentException($"W with n·j·d·p = {length} floats is larger than an array can hold.");
        }

        return (int)length;
    }

    private static void RequireLength(int actual, long expected, string name)
    {
        if (actual < expected)
        {
            throw new ArgumentException($"{name} has {actual} elements; expected at least {expected}.", name);
        }
    }
}
