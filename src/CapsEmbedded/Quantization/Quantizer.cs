using System.Globalization;
using CapsEmbedded.Kernels;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Quantization;

/// <summary>
/// Post-training quantisation of the primary-capsule conv (scheme <see cref="QuantizedCapsNetWeights.Scheme"/>):
/// symmetric int8 weights with one scale per output channel, s_w = max|w| / 127, and one scale for the conv's input
/// (conv1's ReLU output, ≥ 0) mapped to the codes 0..127, s_a = clip / 127, the clip value calibrated on images.
/// </summary>
public static class Quantizer
{
    /// <summary>
    /// q = round(w / s_w[out]) with s_w[out] = max|w[out, …]| / 127, so every channel uses the full [−127, 127]; an all-zero
    /// channel gets scale 1 (any positive scale reproduces its zeros).
    /// </summary>
    public static void QuantizePerChannel(ReadOnlySpan<float> weight, int outputs, Span<sbyte> quantised, Span<float> scales)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputs);
        if (weight.Length % outputs != 0) throw new ArgumentException($"{weight.Length} weights do not split into {outputs} channels", nameof(weight));
        if (quantised.Length != weight.Length) throw new ArgumentException($"quantised has {quantised.Length} values for {weight.Length} weights", nameof(quantised));
        if (scales.Length != outputs) throw new ArgumentException($"{scales.Length} scales for {outputs} channels", nameof(scales));
        int perChannel = weight.Length / outputs;
        for (int o = 0; o < outputs; o++)
        {
            var w = weight.Slice(o * perChannel, perChannel);
            float max = 0f;
            foreach (float v in w)
            {
                if (!float.IsFinite(v)) throw new ArgumentException($"channel {o} holds {v}; only finite weights can be quantised", nameof(weight));
                max = MathF.Max(max, MathF.Abs(v));
            }
            float scale = max > 0f ? max / QuantizedCapsNetWeights.WeightLimit : 1f;
            scales[o] = scale;
            var q = quantised.Slice(o * perChannel, perChannel);
            for (int k = 0; k < perChannel; k++)
                q[k] = (sbyte)Math.Clamp((int)MathF.Round(w[k] / scale, MidpointRounding.AwayFromZero), -QuantizedCapsNetWeights.WeightLimit, QuantizedCapsNetWeights.WeightLimit);
        }
    }

    /// <summary>
    /// W of û (eq. 2) after <see cref="CapsuleTransform.PackWeights"/> ([N·J] blocks W_ij of P·D floats) to int8 with one
    /// symmetric scale per W_ij, s_ij = max|W_ij| / 127, by the per-channel rule with a block as the channel: the int8 model
    /// does this once at load (<see cref="QuantizedCapsNet"/>), and <see cref="Kernels.Int8.QuantizedTransform"/> reads it.
    /// </summary>
    public static void QuantizeDigitWeight(ReadOnlySpan<float> packedW, int n, int j, int d, int p, Span<sbyte> quantised, Span<float> scales)
    {
        int length = CapsuleTransform.WeightsLength(n, j, d, p);
        if (packedW.Length != length) throw new ArgumentException($"packedW has {packedW.Length} values; n·j·d·p = {length}", nameof(packedW));
        if (n == 0) return;
        QuantizePerChannel(packedW, n * j, quantised, scales);
    }

    /// <summary>
    /// The quantised model of <paramref name="weights"/> with input scale s_a = <paramref name="clip"/> / 127 (activations
    /// above the clip saturate at code 127). <paramref name="weights"/> is not changed.
    /// </summary>
    public static QuantizedCapsNetWeights Quantize(CapsNetWeights weights, float clip, string calibration) =>
        Quantize(weights, clip, calibration, default);

    /// <summary>
    /// As <see cref="Quantize(CapsNetWeights, float, string)"/>, with conv1's channels renumbered to
    /// <paramref name="conv1Order"/> (order[i]: the channel at place i; empty: as they are), conv1's weight rows and biases
    /// and the primary conv's input channels alike, so the model computes the same values
    /// (<see cref="Conv1ChannelGrouping"/>, which finds an order whose 4-channel groups are more often all zero).
    /// </summary>
    public static QuantizedCapsNetWeights Quantize(CapsNetWeights weights, float clip, string calibration, ReadOnlySpan<int> conv1Order)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (!QuantizedCapsNetWeights.IsScale(clip)) throw new ArgumentOutOfRangeException(nameof(clip), clip, "the clip value must be finite and > 0");
        var a = weights.Architecture;
        var copy = new CapsNetWeights(a, weights.Metadata);
        foreach (var spec in a.Tensors) weights[spec.Name].CopyTo(copy[spec.Name], 0);
        if (!conv1Order.IsEmpty) RenumberConv1Channels(weights, conv1Order, copy);
        var q = new sbyte[weights.PrimaryWeight.Length];
        var scales = new float[a.PrimaryChannels];
        QuantizePerChannel(copy.PrimaryWeight, a.PrimaryChannels, q, scales);
        copy.Metadata[QuantizedCapsNetWeights.CalibrationKey] = calibration;
        return new QuantizedCapsNetWeights(copy, q, scales, clip / QuantizedCapsNetWeights.ActivationLimit);
    }

    /// <summary>conv1's channel i of <paramref name="renumbered"/> is channel order[i] of <paramref name="weights"/>: its weight row, its bias, and the primary conv's input channel.</summary>
    private static void RenumberConv1Channels(CapsNetWeights weights, ReadOnlySpan<int> order, CapsNetWeights renumbered)
    {
        var a = weights.Architecture;
        Conv1ChannelGrouping.CheckOrder(order, a.Conv1Channels);
        int conv1Row = a.InputChannels * a.Conv1Kernel * a.Conv1Kernel, area = a.PrimaryKernel * a.PrimaryKernel;
        int primaryRow = a.Conv1Channels * area;
        for (int i = 0; i < order.Length; i++)
        {
            weights.Conv1Weight.AsSpan(order[i] * conv1Row, conv1Row).CopyTo(renumbered.Conv1Weight.AsSpan(i * conv1Row, conv1Row));
            renumbered.Conv1Bias[i] = weights.Conv1Bias[order[i]];
            for (int o = 0; o < a.PrimaryChannels; o++)
                weights.PrimaryWeight.AsSpan(o * primaryRow + order[i] * area, area).CopyTo(renumbered.PrimaryWeight.AsSpan(o * primaryRow + i * area, area));
        }
    }

    /// <summary>
    /// Runs conv1 + ReLU (float32, the runtime kernels) over <paramref name="count"/> images and returns the distribution of
    /// its outputs, the primary conv's input: max and a histogram for percentiles (two passes: the max, then the histogram).
    /// </summary>
    public static ActivationHistogram CalibrateConv1(CapsNetWeights weights, ReadOnlySpan<float> images, int count)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var a = weights.Architecture;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var conv1 = new Conv1Pass(weights, images, count);
        float max = 0f;
        for (int n = 0; n < count; n++)
            foreach (float v in conv1.Run(images, n))
                if (v > max) max = v;
        if (!float.IsFinite(max) || max <= 0f)
            throw new ArgumentException($"conv1's ReLU output over {count} images has maximum {max}; it cannot be calibrated", nameof(images));
        var histogram = new ActivationHistogram(max, count);
        for (int n = 0; n < count; n++) histogram.AddRange(conv1.Run(images, n));
        return histogram;
    }
}

/// <summary>The distribution of non-negative activations over a calibration set: max, counts, percentiles of the positive values.</summary>
public sealed class ActivationHistogram
{
    /// <summary>Bins over [0, max]: a percentile is resolved to max / 65536.</summary>
    public const int Bins = 1 << 16;

    private readonly long[] _counts = new long[Bins];

    internal ActivationHistogram(float max, int images)
    {
        Max = max;
        Images = images;
    }

    public float Max { get; }

    public int Images { get; }

    /// <summary>Values seen (zeros included).</summary>
    public long Count { get; private set; }

    /// <summary>Values above zero (what clipping can touch).</summary>
    public long Positive { get; private set; }

    internal void AddRange(ReadOnlySpan<float> values)
    {
        float perBin = Bins / Max;
        foreach (float v in values)
        {
            Count++;
            if (!(v > 0f)) continue;
            Positive++;
            _counts[Math.Min(Bins - 1, (int)(v * perBin))]++;
        }
    }

    /// <summary>The value below which <paramref name="percent"/> % of the positive values lie (upper edge of its bin); 100 = <see cref="Max"/>.</summary>
    public float Percentile(double percent)
    {
        if (!(percent > 0 && percent <= 100)) throw new ArgumentOutOfRangeException(nameof(percent), percent, "a percentile lies in (0, 100]");
        if (percent == 100) return Max;
        double target = percent / 100 * Positive;
        long seen = 0;
        for (int b = 0; b < Bins; b++)
        {
            seen += _counts[b];
            if (seen >= target) return Max * (b + 1) / Bins;
        }
        return Max;
    }

    /// <summary>Share of the positive values above <paramref name="clip"/> (they saturate at code 127).</summary>
    public double ClippedShare(float clip)
    {
        long above = 0;
        for (int b = 0; b < Bins; b++)
            if ((double)Max * b / Bins >= clip) above += _counts[b];
        return Positive == 0 ? 0 : (double)above / Positive;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Images} images, {Count:N0} values, {Positive:N0} positive, max {Max:G6}");
}
