using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

/// <summary>Routing by agreement, Procedure 1 of the paper, from the prediction vectors û_{j|i} to the digit capsules v_j.</summary>
/// <remarks>
/// b_ij = 0; r times: c_i = softmax_j(b_i) (eq. 3); s_j = Σ_i c_ij û_{j|i}; v_j = squash(s_j) (eq. 1);
/// b_ij += û_{j|i} · v_j — skipped after the last iteration, since nothing reads it. The sums over i run in the same order
/// on every tier; only the short dot products and axpys over d are vectorized.
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
        logits[..(int)pairs].Clear();
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            for (int i = 0; i < n; i++)
            {
                Softmax(logits.Slice(i * j, j), coupling.Slice(i * j, j));
            }

            // s_j = Σ_i c_ij û_{j|i}, accumulated in v, then v_j = squash(s_j).
            v[..(j * d)].Clear();
            for (int i = 0; i < n; i++)
            {
                for (int jj = 0; jj < j; jj++)
                {
                    int ij = i * j + jj;
                    CapsuleVectorMath.MultiplyAdd(ref Unsafe.Add(ref vRef, (nuint)(jj * d)), coupling[ij],
                        ref Unsafe.Add(ref uHatRef, (nuint)ij * (nuint)d), d, tier);
                }
            }

            for (int jj = 0; jj < j; jj++)
            {
                Squash.SquashOne(ref Unsafe.Add(ref vRef, (nuint)(jj * d)), d, tier);
            }

            if (iteration == iterations - 1)
            {
                break;
            }

            // Agreement: b_ij += û_{j|i} · v_j.
            for (int i = 0; i < n; i++)
            {
                for (int jj = 0; jj < j; jj++)
                {
                    int ij = i * j + jj;
                    logits[ij] += CapsuleVectorMath.Dot(ref Unsafe.Add(ref uHatRef, (nuint)ij * (nuint)d),
                        ref Unsafe.Add(ref vRef, (nuint)(jj * d)), d, tier);
                }
            }
        }
    }

    /// <summary>c = softmax(b) over one capsule's J logits (eq. 3), with the maximum subtracted so exp cannot overflow.</summary>
    private static void Softmax(ReadOnlySpan<float> b, Span<float> c)
    {
        float max = b[0];
        for (int t = 1; t < b.Length; t++)
        {
            max = MathF.Max(max, b[t]);
        }

        float sum = 0f;
        for (int t = 0; t < b.Length; t++)
        {
            float e = MathF.Exp(b[t] - max);
            c[t] = e;
            sum += e;
        }

        float inverse = 1f / sum;
        for (int t = 0; t < c.Length; t++)
        {
            c[t] *= inverse;
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
