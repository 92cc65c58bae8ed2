using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

/// <summary>Routing by agreement, Procedure 1 of the paper, from the prediction vectors û_{j|i} to the digit capsules v_j.</summary>
/// <remarks>
/// b_ij = 0; r times: c_i = softmax_j(b_i) (eq. 3); s_j = Σ_i c_ij û_{j|i}; v_j = squash(s_j) (eq. 1);
/// b_ij += û_{j|i} · v_j — skipped after the last iteration, since nothing reads it. The sums over i run in the same order
/// on every tier (s_j is accumulated over i in registers, one chunk of d at a time); the dot products over d and the
/// exponentials are vectorized.
/// </remarks>
public static class Routing
{
    /// <summary>Procedure 1 on the best tier.</summary>
    public static void Run(ReadOnlySpan<float> uHat, int n, int j, int d, int iterations, Span<float> logits, Span<float> coupling,
        Span<float> v) => Run(uHat, n, j, d, iterations, logits, coupling, v, SimdTiers.Best);

    /// <summary>Procedure 1.</summary>
    /// <param name="uHat">Prediction vectors [N][J][D].</param>
    /// <param name="n">Primary capsules N.</param>
    /// <param name="j">Digit capsules J.</param>
    /// <param name="d">Digit capsule dims D.</param>
    /// <param name="iterations">Routing iterations r ≥ 1 (3 in the paper).</param>
    /// <param name="logits">Scratch for b, N·J floats.</param>
    /// <param name="coupling">Output: the final coupling coefficients c [N][J].</param>
    /// <param name="v">Output: the digit capsules [J][D].</param>
    /// <param name="tier">SIMD tier.</param>
    public static void Run(ReadOnlySpan<float> uHat, int n, int j, int d, int iterations, Span<float> logits, Span<float> coupling,
        Span<float> v, SimdTier tier)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(j);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(d);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(iterations);
        SimdTiers.ThrowIfUnsupported(tier);
        long pairs = (long)n * j;
        RequireLength(uHat.Length, pairs * d, nameof(uHat), "n·j·d");
        RequireLength(logits.Length, pairs, nameof(logits), "n·j");
        RequireLength(coupling.Length, pairs, nameof(coupling), "n·j");
        RequireLength(v.Length, (long)j * d, nameof(v), "j·d");

        ref float uHatRef = ref MemoryMarshal.GetReference(uHat);
        ref float vRef = ref MemoryMarshal.GetReference(v);
        ref float couplingRef = ref MemoryMarshal.GetReference(coupling);
        Span<float> b = logits[..(int)pairs];
        Span<float> c = coupling[..(int)pairs];
        b.Clear();
        nuint rowStride = (nuint)(j * d); // from û_{j|i} to û_{j|i+1}
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            if (iteration == 0)
            {
                // softmax of b = 0: every c_ij = 1/J, without spending an exp on it.
                c.Fill(1f / j);
            }
            else
            {
                Softmax(b, c, n, j, tier);
            }

            for (int jj = 0; jj < j; jj++)
            {
                // s_j = Σ_i c_ij û_{j|i}, then v_j = squash(s_j).
                ref float vj = ref Unsafe.Add(ref vRef, (nuint)(jj * d));
                VectorMath.WeightedSum(ref vj, ref Unsafe.Add(ref couplingRef, jj), (nuint)j,
                    ref Unsafe.Add(ref uHatRef, (nuint)(jj * d)), rowStride, n, d, tier);
                Squash.SquashOne(ref vj, d, tier);
            }

            if (iteration == iterations - 1)
            {
                break;
            }

            // Agreement: b_ij += û_{j|i} · v_j.
            ref float bRef = ref MemoryMarshal.GetReference(b);
            for (int i = 0; i < n; i++)
            {
                VectorMath.AddDots(ref Unsafe.Add(ref bRef, (nuint)(i * j)), ref Unsafe.Add(ref uHatRef, (nuint)i * rowStride),
                    ref vRef, j, d, tier);
            }
        }
    }

    /// <summary>
    /// c_i = softmax_j(b_i) for every i (eq. 3). The maximum of each b_i is subtracted so that exp cannot overflow; the
    /// exponentials of all N·J logits then run as one flat vector loop.
    /// </summary>
    private static void Softmax(ReadOnlySpan<float> b, Span<float> c, int n, int j, SimdTier tier)
    {
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> bi = b.Slice(i * j, j);
            float max = bi[0];
            for (int t = 1; t < j; t++)
            {
                max = MathF.Max(max, bi[t]);
            }

            Span<float> ci = c.Slice(i * j, j);
            for (int t = 0; t < j; t++)
            {
                ci[t] = bi[t] - max;
            }
        }

        VectorMath.ExpInPlace(c, tier);
        for (int i = 0; i < n; i++)
        {
            Span<float> ci = c.Slice(i * j, j);
            float sum = 0f;
            for (int t = 0; t < j; t++)
            {
                sum += ci[t];
            }

            float inverse = 1f / sum;
            for (int t = 0; t < j; t++)
            {
                ci[t] *= inverse;
            }
        }
    }

    private static void RequireLength(int actual, long expected, string name, string formula)
    {
        if (actual < expected)
        {
            throw new ArgumentException($"{name} has {actual} elements; expected at least {formula} = {expected}.", name);
        }
    }
}
