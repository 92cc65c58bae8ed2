using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

/// <summary>
/// Efficient-CapsNet's FC-caps self-attention routing (Mazzia et al. 2021; the authors' FCCaps layer), one pass, no
/// iterations: predictions û_{j|i} = Σ_d x_{i,d} W[j, i, d, :]; agreement a_{j,i} = û_{j|i} · Σ_k û_{j|k} / √D_out;
/// c_{·,i} = softmax over the classes j; s_j = Σ_i (c_{j,i} + b_{j,i}) û_{j|i}; v_j = <see cref="EfficientSquash"/>(s_j).
/// The dot products and weighted sums run on the tier's vectors (VectorMath); the J·N softmax is scalar (J·N exps).
/// </summary>
public static class SelfAttentionRouting
{
    /// <summary>Floats of caller-owned scratch <see cref="Run(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int, int, Span{float}, Span{float}, SimdTier)"/> needs: û, the agreement/coupling table and Σ_k û_{j|k}.</summary>
    public static int ScratchLength(int capsules, int classes, int classDims) =>
        classes * capsules * classDims + 2 * classes * capsules + classDims;

    /// <summary>The routing on the best tier.</summary>
    public static void Run(ReadOnlySpan<float> primary, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int capsules, int dims,
        int classes, int classDims, Span<float> scratch, Span<float> outputs)
        => Run(primary, weight, bias, capsules, dims, classes, classDims, scratch, outputs, SimdTiers.Best);

    /// <summary>
    /// The routing: <paramref name="primary"/> x [N][D_in] (squashed), <paramref name="weight"/> W [J][N][D_in][D_out] (the
    /// authors' layout), <paramref name="bias"/> b [J][N]; writes the digit capsules v [J][D_out] to <paramref name="outputs"/>.
    /// <paramref name="scratch"/> holds at least <see cref="ScratchLength"/> floats; afterwards its first J·N·D_out are û
    /// [J][N][D_out] and the next N·J the coupling coefficients c [N][J] before the bias (each row sums to 1).
    /// </summary>
    public static void Run(ReadOnlySpan<float> primary, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int capsules, int dims,
        int classes, int classDims, Span<float> scratch, Span<float> outputs, SimdTier tier)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capsules);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dims);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classDims);
        SimdTiers.ThrowIfUnsupported(tier);
        Require(primary.Length, capsules * dims, "primary", "N·D_in");
        Require(weight.Length, classes * capsules * dims * classDims, "weight", "J·N·D_in·D_out");
        Require(bias.Length, classes * capsules, "bias", "J·N");
        Require(outputs.Length, classes * classDims, "outputs", "J·D_out");
        if (scratch.Length < ScratchLength(capsules, classes, classDims))
        {
            throw new ArgumentException(
                $"scratch has {scratch.Length} elements; expected at least {ScratchLength(capsules, classes, classDims)}.", nameof(scratch));
        }

        ref float x = ref MemoryMarshal.GetReference(primary);
        ref float w = ref MemoryMarshal.GetReference(weight);
        ref float uHat = ref MemoryMarshal.GetReference(scratch);
        ref float coupling = ref Unsafe.Add(ref uHat, (nuint)(classes * capsules * classDims)); // [N][J]
        ref float scaled = ref Unsafe.Add(ref coupling, (nuint)(classes * capsules)); // c + b, [J][N]
        ref float total = ref Unsafe.Add(ref scaled, (nuint)(classes * capsules)); // Σ_k û_{j|k}, [D_out]
        ref float v = ref MemoryMarshal.GetReference(outputs);
        nuint n = (nuint)capsules, d = (nuint)dims, j = (nuint)classes, o = (nuint)classDims;
        float inverseRoot = 1f / MathF.Sqrt(classDims);

        for (nuint cls = 0; cls < j; cls++)
        {
            ref float wClass = ref Unsafe.Add(ref w, cls * n * d * o);
            ref float uClass = ref Unsafe.Add(ref uHat, cls * n * o);
            // û_{j|i} = x_i · W[j, i]: D_in rows of W[j, i] weighted by x_i's components.
            for (nuint i = 0; i < n; i++)
            {
                VectorMath.WeightedSum(ref Unsafe.Add(ref uClass, i * o), ref Unsafe.Add(ref x, i * d), 1,
                    ref Unsafe.Add(ref wClass, i * d * o), o, dims, classDims, tier);
            }

            // Σ_k û_{j|k} = Σ_k Σ_d x_{k,d} W[j, k, d, :]: W[j] read as one (N·D_in)×D_out matrix against the flat x.
            VectorMath.WeightedSum(ref total, ref x, 1, ref wClass, o, capsules * dims, classDims, tier);
            for (nuint i = 0; i < n; i++)
            {
                Unsafe.Add(ref coupling, i * j + cls) = VectorMath.Dot(ref Unsafe.Add(ref uClass, i * o), ref total, classDims, tier) * inverseRoot;
            }
        }

        // c_{·,i} = softmax over the classes of a_{·,i} (max subtracted, as the reference's Softmax).
        for (nuint i = 0; i < n; i++)
        {
            ref float row = ref Unsafe.Add(ref coupling, i * j);
            float largest = row;
            for (nuint cls = 1; cls < j; cls++) largest = MathF.Max(largest, Unsafe.Add(ref row, cls));
            float sum = 0f;
            for (nuint cls = 0; cls < j; cls++)
            {
                float e = MathF.Exp(Unsafe.Add(ref row, cls) - largest);
                Unsafe.Add(ref row, cls) = e;
                sum += e;
            }

            for (nuint cls = 0; cls < j; cls++)
            {
                Unsafe.Add(ref row, cls) /= sum;
                Unsafe.Add(ref scaled, cls * n + i) = Unsafe.Add(ref row, cls) + bias[(int)(cls * n + i)];
            }
        }

        // s_j = Σ_i (c_{j,i} + b_{j,i}) û_{j|i}, then the Efficient squash.
        for (nuint cls = 0; cls < j; cls++)
        {
            ref float s = ref Unsafe.Add(ref v, cls * o);
            VectorMath.WeightedSum(ref s, ref Unsafe.Add(ref scaled, cls * n), 1, ref Unsafe.Add(ref uHat, cls * n * o), o, capsules,
                classDims, tier);
            EfficientSquash.SquashOne(ref s, classDims, tier);
        }
    }

    private static void Require(int length, int expected, string name, string formula)
    {
        if (length != expected)
        {
            throw new ArgumentException($"{name} has {length} elements; expected {formula} = {expected}.", name);
        }
    }
}
