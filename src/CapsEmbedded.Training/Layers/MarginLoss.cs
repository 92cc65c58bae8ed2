using System.Numerics;

namespace CapsEmbedded.Training.Layers;

/// <summary>
/// Capsule lengths and the margin loss (eq. 4): L = Σ_k T_k max(0, m⁺ − |v_k|)² + λ (1 − T_k) max(0, |v_k| − m⁻)²,
/// m⁺ = 0.9, m⁻ = 0.1, λ = 0.5; T_k = 1 for every true class (one, or MultiMNIST's two).
/// </summary>
public static class MarginLoss
{
    public const double MPlus = 0.9, MMinus = 0.1, Lambda = 0.5;

    /// <summary>lengths[j] = |v_j|.</summary>
    public static void Lengths<T>(ReadOnlySpan<T> v, int j, int d, Span<T> lengths) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int jj = 0; jj < j; jj++)
        {
            T q = T.Zero;
            for (int dd = 0; dd < d; dd++) q += v[jj * d + dd] * v[jj * d + dd];
            lengths[jj] = T.Sqrt(q);
        }
    }

    /// <summary>The loss of one sample, and dL/d|v_k| · scale into <paramref name="dLengths"/>.</summary>
    public static T Forward<T>(ReadOnlySpan<T> lengths, int label, T scale, Span<T> dLengths) where T : unmanaged, IFloatingPointIeee754<T> =>
        Forward(lengths, new ReadOnlySpan<int>(in label), scale, dLengths);

    /// <summary>
    /// The loss of one sample whose true classes are <paramref name="labels"/> (T_k = 1 for each: MultiMNIST's two digits,
    /// §6), and dL/d|v_k| · scale into <paramref name="dLengths"/>.
    /// </summary>
    public static T Forward<T>(ReadOnlySpan<T> lengths, ReadOnlySpan<int> labels, T scale, Span<T> dLengths) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T mPlus = T.CreateTruncating(MPlus), mMinus = T.CreateTruncating(MMinus), lambda = T.CreateTruncating(Lambda);
        T two = T.CreateTruncating(2), loss = T.Zero;
        for (int k = 0; k < lengths.Length; k++)
        {
            if (labels.Contains(k))
            {
                T gap = T.Max(T.Zero, mPlus - lengths[k]);
                loss += gap * gap;
                dLengths[k] = -two * gap * scale;
            }
            else
            {
                T gap = T.Max(T.Zero, lengths[k] - mMinus);
                loss += lambda * gap * gap;
                dLengths[k] = two * lambda * gap * scale;
            }
        }
        return loss;
    }

    /// <summary>dv_j = dL/d|v_j| · v_j/|v_j| (0 where |v_j| = 0), overwriting dv.</summary>
    public static void LengthsBackward<T>(ReadOnlySpan<T> v, ReadOnlySpan<T> lengths, ReadOnlySpan<T> dLengths, int j, int d, Span<T> dv)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int jj = 0; jj < j; jj++)
        {
            T f = lengths[jj] == T.Zero ? T.Zero : dLengths[jj] / lengths[jj];
            for (int dd = 0; dd < d; dd++) dv[jj * d + dd] = f * v[jj * d + dd];
        }
    }
}
