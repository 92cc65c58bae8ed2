using System.Numerics;

namespace CapsEmbedded.Reference;

/// <summary>
/// The paper's two losses for one image, accumulated in <see cref="double"/>. The double overloads take a
/// <see cref="ReferenceModel.Trace{T}"/> in double precision unrounded, for finite-difference gradient checks.
/// </summary>
public static class CapsNetLoss
{
    /// <summary>
    /// Margin loss (eq. 4) summed over classes k:
    /// L_k = T_k·max(0, m⁺ − |v_k|)² + λ·(1 − T_k)·max(0, |v_k| − m⁻)², with T_k = 1 only for <paramref name="label"/>.
    /// </summary>
    public static double Margin(ReadOnlySpan<float> lengths, int label, double mPlus = 0.9, double mMinus = 0.1,
        double lambda = 0.5) => MarginCore(lengths, label, mPlus, mMinus, lambda);

    /// <inheritdoc cref="Margin(ReadOnlySpan{float}, int, double, double, double)"/>
    public static double Margin(ReadOnlySpan<double> lengths, int label, double mPlus = 0.9, double mMinus = 0.1,
        double lambda = 0.5) => MarginCore(lengths, label, mPlus, mMinus, lambda);

    /// <summary>Reconstruction loss (§4.1): <paramref name="scale"/> × Σ (reconstruction − image)², 0.0005 in the paper.</summary>
    public static double Reconstruction(ReadOnlySpan<float> reconstruction, ReadOnlySpan<float> image, double scale = 0.0005)
        => ReconstructionCore(reconstruction, image, scale);

    /// <inheritdoc cref="Reconstruction(ReadOnlySpan{float}, ReadOnlySpan{float}, double)"/>
    public static double Reconstruction(ReadOnlySpan<double> reconstruction, ReadOnlySpan<float> image, double scale = 0.0005)
        => ReconstructionCore(reconstruction, image, scale);

    private static double MarginCore<T>(ReadOnlySpan<T> lengths, int label, double mPlus, double mMinus, double lambda)
        where T : IFloatingPointIeee754<T>
    {
        if (lengths.IsEmpty) throw new ArgumentException("lengths is empty: need one capsule length per class", nameof(lengths));
        if ((uint)label >= (uint)lengths.Length)
            throw new ArgumentOutOfRangeException(nameof(label), label,
                $"label must be a class in [0, {lengths.Length}) for {lengths.Length} capsule lengths");
        double loss = 0;
        for (int k = 0; k < lengths.Length; k++)
        {
            double length = double.CreateTruncating(lengths[k]);
            if (k == label)
            {
                double shortfall = Math.Max(0, mPlus - length);
                loss += shortfall * shortfall;
            }
            else
            {
                double excess = Math.Max(0, length - mMinus);
                loss += lambda * excess * excess;
            }
        }
        return loss;
    }

    private static double ReconstructionCore<T>(ReadOnlySpan<T> reconstruction, ReadOnlySpan<float> image, double scale)
        where T : IFloatingPointIeee754<T>
    {
        if (reconstruction.Length != image.Length)
            throw new ArgumentException(
                $"reconstruction has {reconstruction.Length} values but the image has {image.Length} pixels", nameof(reconstruction));
        double sumOfSquares = 0;
        for (int p = 0; p < image.Length; p++)
        {
            double error = double.CreateTruncating(reconstruction[p]) - image[p];
            sumOfSquares += error * error;
        }
        return scale * sumOfSquares;
    }
}
