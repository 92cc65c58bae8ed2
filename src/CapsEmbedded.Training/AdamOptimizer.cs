using System.Numerics;

namespace CapsEmbedded.Training;

/// <summary>
/// Adam (Kingma and Ba) with the paper's settings: β1 0.9, β2 0.999, ε 1e-8. The per-thread gradients are summed here
/// in thread order (fixed, so a run is deterministic for a given thread count), used, and cleared, in one pass over
/// a range of the parameters — so the update itself can be split across threads.
/// </summary>
public sealed class AdamOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

    public AdamOptimizer(int parameterCount)
    {
        FirstMoment = new T[parameterCount];
        SecondMoment = new T[parameterCount];
    }

    /// <summary>m: the running mean of gradients.</summary>
    public T[] FirstMoment { get; }
    /// <summary>v: the running mean of squared gradients.</summary>
    public T[] SecondMoment { get; }

    /// <summary>
    /// For parameters [start, start+length): g = Σ_t gradients[t]; m = β1 m + (1−β1) g; v = β2 v + (1−β2) g²;
    /// p −= lr · (m / (1−β1^step)) / (√(v / (1−β2^step)) + ε); gradients cleared. <paramref name="step"/> counts from 1.
    /// </summary>
    public void Update(Span<T> parameters, IReadOnlyList<T[]> gradients, int start, int length, long step, double learningRate)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), "Adam steps count from 1");
        T b1 = T.CreateTruncating(Beta1), b2 = T.CreateTruncating(Beta2);
        T oneMinusB1 = T.One - b1, oneMinusB2 = T.One - b2;
        T correction1 = T.CreateTruncating(1 / (1 - Math.Pow(Beta1, step)));
        T correction2 = T.CreateTruncating(1 / (1 - Math.Pow(Beta2, step)));
        T lr = T.CreateTruncating(learningRate), eps = T.CreateTruncating(Epsilon);
        var m = FirstMoment.AsSpan(start, length);
        var v = SecondMoment.AsSpan(start, length);
        var p = parameters.Slice(start, length);
        var g0 = gradients[0].AsSpan(start, length);
        for (int t = 1; t < gradients.Count; t++)
        {
            var gt = gradients[t].AsSpan(start, length);
            CapsEmbedded.Kernels.VectorMath.Add<T>(gt, g0);
            gt.Clear();
        }
        for (int k = 0; k < length; k++)
        {
            T g = g0[k];
            T mk = b1 * m[k] + oneMinusB1 * g;
            T vk = b2 * v[k] + oneMinusB2 * g * g;
            m[k] = mk;
            v[k] = vk;
            p[k] -= lr * (mk * correction1) / (T.Sqrt(vk * correction2) + eps);
        }
        g0.Clear();
    }
}
