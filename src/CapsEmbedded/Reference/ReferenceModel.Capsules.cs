using System.Numerics;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Reference;

// The capsule stages: squash (eq. 1), primary capsules, uHat (eq. 2), routing (eq. 3, Procedure 1),
// lengths and the decoder mask.
public static partial class ReferenceModel
{
    /// <summary>
    /// Squash (eq. 1) in place: v = |s|²/(1 + |s|²) · s/|s|, computed as v = s · |s|/(1 + |s|²); v = 0 exactly for s = 0.
    /// </summary>
    /// <remarks>
    /// Tiny s: when |s|² underflows to 0 the true v (of size |s|²) is below the type's range too, so 0 is right.
    /// Huge s: when |s|² overflows, v is the unit vector s/|s| (the limit), found by scaling with max |s_k| first.
    /// NaN or infinite components give NaN.
    /// </remarks>
    public static void Squash<T>(Span<T> vector) where T : IFloatingPointIeee754<T>
    {
        T squaredNorm = T.Zero;
        for (int k = 0; k < vector.Length; k++) squaredNorm += vector[k] * vector[k];
        if (squaredNorm == T.Zero)
        {
            vector.Clear();
            return;
        }
        if (T.IsPositiveInfinity(squaredNorm))
        {
            ScaleToUnitLength(vector);
            return;
        }
        T scale = T.Sqrt(squaredNorm) / (T.One + squaredNorm);
        for (int k = 0; k < vector.Length; k++) vector[k] *= scale;
    }

    /// <summary>Squashes (eq. 1) each of the consecutive <paramref name="dims"/>-long vectors in place.</summary>
    public static void Squash<T>(Span<T> vectors, int dims) where T : IFloatingPointIeee754<T>
    {
        if (dims < 1 || vectors.Length % dims != 0)
            throw new ArgumentException($"{vectors.Length} values are not a whole number of {dims}-D vectors", nameof(dims));
        for (int start = 0; start < vectors.Length; start += dims) Squash(vectors.Slice(start, dims));
    }

    // s/|s| without forming |s|²: divide by the largest |s_k| first, so the squares are in [0, dims].
    private static void ScaleToUnitLength<T>(Span<T> vector) where T : IFloatingPointIeee754<T>
    {
        T largest = T.Zero;
        for (int k = 0; k < vector.Length; k++) largest = T.Max(largest, T.Abs(vector[k]));
        T squaredNorm = T.Zero;
        for (int k = 0; k < vector.Length; k++)
        {
            vector[k] /= largest;
            squaredNorm += vector[k] * vector[k];
        }
        T inverseNorm = T.One / T.Sqrt(squaredNorm);
        for (int k = 0; k < vector.Length; k++) vector[k] *= inverseNorm;
    }

    /// <summary>
    /// The primary capsules (§4): conv with primary_caps.weight/bias on conv1's output, regrouped into capsules
    /// (<see cref="RegroupPrimaryCapsules{T}"/>) and squashed (eq. 1).
    /// </summary>
    /// <param name="conv1Output">conv1 after ReLU, [conv1Channels][conv1OutSize][conv1OutSize].</param>
    /// <param name="weights">The network (primary_caps.weight and .bias, and every size).</param>
    /// <param name="capsules">u_i, [primaryCapsules][primaryDims].</param>
    public static void PrimaryCapsules<T>(ReadOnlySpan<T> conv1Output, CapsNetWeights weights, Span<T> capsules)
        where T : IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(weights);
        var preSquash = new T[weights.Architecture.PrimaryCapsules * weights.Architecture.PrimaryDims];
        PrimaryCapsules(conv1Output, weights, preSquash, capsules);
    }

    /// <summary>The primary capsules, also returning s_i, the regrouped conv output before squash.</summary>
    public static void PrimaryCapsules<T>(ReadOnlySpan<T> conv1Output, CapsNetWeights weights, Span<T> preSquash,
        Span<T> capsules) where T : IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(weights);
        var a = weights.Architecture;
        int grid = a.PrimaryGridSize;
        var convOutput = new T[a.PrimaryChannels * grid * grid];
        Conv2d(conv1Output, a.Conv1Channels, a.Conv1OutSize, a.Conv1OutSize, weights.PrimaryWeight, weights.PrimaryBias,
            a.PrimaryChannels, a.PrimaryKernel, a.PrimaryStride, convOutput);
        RegroupPrimaryCapsules<T>(convOutput, a.PrimaryTypes, a.PrimaryDims, grid, preSquash);
        RequireLength(capsules.Length, preSquash.Length, "primary capsules", nameof(capsules));
        preSquash.CopyTo(capsules);
        Squash(capsules, a.PrimaryDims);
    }

    /// <summary>
    /// Regroups the primary conv's channels into capsules: channel k is capsule type k / dims, dimension k % dims, and
    /// the capsule at grid cell (y, x) of type t is i = t·grid² + y·grid + x (type-major), so
    /// capsules[i, d] = convOutput[t·dims + d, y, x].
    /// </summary>
    public static void RegroupPrimaryCapsules<T>(ReadOnlySpan<T> convOutput, int types, int dims, int grid, Span<T> capsules)
        where T : IFloatingPointIeee754<T>
    {
        long size = (long)types * dims * grid * grid;
        RequireLength(convOutput.Length, size, "primary conv output", nameof(convOutput));
        RequireLength(capsules.Length, size, "primary capsules", nameof(capsules));
        int cells = grid * grid;
        for (int type = 0; type < types; type++)
        for (int cell = 0; cell < cells; cell++)
        {
            int capsule = type * cells + cell;
            for (int d = 0; d < dims; d++)
                capsules[capsule * dims + d] = convOutput[(type * dims + d) * cells + cell];
        }
    }

    /// <summary>
    /// Prediction vectors (eq. 2): û_{j|i} = W_ij u_i, with W_ij = digitWeight[i, j], a classDims × primaryDims matrix.
    /// </summary>
    /// <param name="primary">u_i, [capsules][primaryDims].</param>
    /// <param name="digitWeight">[capsules][classes][classDims][primaryDims] (digit_caps.weight).</param>
    /// <param name="capsules">Primary capsules i.</param>
    /// <param name="classes">Digit capsules j.</param>
    /// <param name="classDims">Dimensions of a digit capsule.</param>
    /// <param name="primaryDims">Dimensions of a primary capsule.</param>
    /// <param name="uHat">û, [capsules][classes][classDims].</param>
    public static void CapsuleTransform<T>(ReadOnlySpan<T> primary, ReadOnlySpan<float> digitWeight, int capsules, int classes,
        int classDims, int primaryDims, Span<T> uHat) where T : IFloatingPointIeee754<T>
    {
        RequireLength(primary.Length, (long)capsules * primaryDims, "primary capsules", nameof(primary));
        RequireLength(digitWeight.Length, (long)capsules * classes * classDims * primaryDims, "digit weight", nameof(digitWeight));
        RequireLength(uHat.Length, (long)capsules * classes * classDims, "uHat", nameof(uHat));
        for (int i = 0; i < capsules; i++)
        {
            var u = primary.Slice(i * primaryDims, primaryDims);
            for (int j = 0; j < classes; j++)
            for (int d = 0; d < classDims; d++)
            {
                int row = ((i * classes + j) * classDims + d) * primaryDims;
                T sum = T.Zero;
                for (int p = 0; p < primaryDims; p++) sum += Widen<T>(digitWeight[row + p]) * u[p];
                uHat[(i * classes + j) * classDims + d] = sum;
            }
        }
    }

    /// <summary>Softmax (eq. 3): p_j = e^(b_j) / Σ_k e^(b_k), shifted by max b so no term overflows.</summary>
    public static void Softmax<T>(ReadOnlySpan<T> logits, Span<T> probabilities) where T : IFloatingPointIeee754<T>
    {
        if (logits.IsEmpty) throw new ArgumentException("softmax of an empty vector", nameof(logits));
        RequireLength(probabilities.Length, logits.Length, "softmax output", nameof(probabilities));
        T largest = logits[0];
        for (int k = 1; k < logits.Length; k++) largest = T.Max(largest, logits[k]);
        T sum = T.Zero;
        for (int k = 0; k < logits.Length; k++)
        {
            probabilities[k] = T.Exp(logits[k] - largest);
            sum += probabilities[k];
        }
        for (int k = 0; k < logits.Length; k++) probabilities[k] /= sum;
    }

    /// <summary>
    /// Routing by agreement (Procedure 1): b_ij = 0; then <paramref name="iterations"/> times:
    /// c_i = softmax_j(b_i) (eq. 3); s_j = Σ_i c_ij û_{j|i} (eq. 2); v_j = squash(s_j) (eq. 1);
    /// b_ij += û_{j|i} · v_j — skipped after the last iteration, since nothing reads it.
    /// </summary>
    /// <param name="uHat">û, [capsules][classes][dims].</param>
    /// <param name="capsules">Primary capsules i.</param>
    /// <param name="classes">Digit capsules j.</param>
    /// <param name="dims">Dimensions of a digit capsule.</param>
    /// <param name="iterations">r, at least 1 (3 in the paper).</param>
    /// <param name="logits">Out: the final b_ij, [capsules][classes].</param>
    /// <param name="coupling">Out: the last iteration's c_ij, [capsules][classes].</param>
    /// <param name="outputs">Out: the digit capsules v_j, [classes][dims].</param>
    public static void Routing<T>(ReadOnlySpan<T> uHat, int capsules, int classes, int dims, int iterations,
        Span<T> logits, Span<T> coupling, Span<T> outputs) where T : IFloatingPointIeee754<T>
    {
        if (iterations < 1) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "routing needs at least 1 iteration");
        RequireLength(uHat.Length, (long)capsules * classes * dims, "uHat", nameof(uHat));
        RequireLength(logits.Length, (long)capsules * classes, "routing logits", nameof(logits));
        RequireLength(coupling.Length, (long)capsules * classes, "coupling coefficients", nameof(coupling));
        RequireLength(outputs.Length, (long)classes * dims, "digit capsules", nameof(outputs));

        logits.Clear();
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            for (int i = 0; i < capsules; i++)
                Softmax<T>(logits.Slice(i * classes, classes), coupling.Slice(i * classes, classes));

            outputs.Clear();
            for (int i = 0; i < capsules; i++)
            for (int j = 0; j < classes; j++)
            {
                T c = coupling[i * classes + j];
                var prediction = uHat.Slice((i * classes + j) * dims, dims);
                var s = outputs.Slice(j * dims, dims);
                for (int d = 0; d < dims; d++) s[d] += c * prediction[d];
            }
            Squash(outputs, dims);

            if (iteration == iterations - 1) break;
            for (int i = 0; i < capsules; i++)
            for (int j = 0; j < classes; j++)
            {
                var prediction = uHat.Slice((i * classes + j) * dims, dims);
                var v = outputs.Slice(j * dims, dims);
                T agreement = T.Zero;
                for (int d = 0; d < dims; d++) agreement += prediction[d] * v[d];
                logits[i * classes + j] += agreement;
            }
        }
    }

    /// <summary>Capsule lengths |v_j| = √(Σ_d v_jd²): the class probabilities.</summary>
    public static void Lengths<T>(ReadOnlySpan<T> capsules, int classes, int dims, Span<T> lengths)
        where T : IFloatingPointIeee754<T>
    {
        RequireLength(capsules.Length, (long)classes * dims, "capsules", nameof(capsules));
        RequireLength(lengths.Length, classes, "lengths", nameof(lengths));
        for (int j = 0; j < classes; j++)
        {
            T squaredNorm = T.Zero;
            for (int d = 0; d < dims; d++) squaredNorm += capsules[j * dims + d] * capsules[j * dims + d];
            lengths[j] = T.Sqrt(squaredNorm);
        }
    }

    /// <summary>The decoder mask (§4.1): copies capsule <paramref name="keepClass"/> and zeroes every other one.</summary>
    public static void Mask<T>(ReadOnlySpan<T> capsules, int classes, int dims, int keepClass, Span<T> masked)
        where T : IFloatingPointIeee754<T>
    {
        RequireLength(capsules.Length, (long)classes * dims, "capsules", nameof(capsules));
        RequireLength(masked.Length, (long)classes * dims, "masked capsules", nameof(masked));
        if ((uint)keepClass >= (uint)classes)
            throw new ArgumentOutOfRangeException(nameof(keepClass), keepClass, $"class must be in [0, {classes})");
        masked.Clear();
        capsules.Slice(keepClass * dims, dims).CopyTo(masked.Slice(keepClass * dims, dims));
    }
}
