using System.Globalization;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Training;

/// <summary>
/// Carries a network trained on S×S images to the same network on a larger, zero-padded canvas S + 2·pad (MNIST's
/// 28×28 → MultiMNIST's 36×36), as a starting point for training there. The convolutions do not depend on the image
/// size, so conv1 and the primary-capsule conv are copied. W_ij belongs to a primary capsule's grid position: capsule
/// (type, y, x) of the larger grid takes the weights of (type, y − o, x − o), o = pad / (conv1 stride × primary
/// stride), where that lies in the source grid, and zeros on the new border ring: its predictions û_j|i are then 0,
/// so s_j (eq. 2) and the agreements are the source's and a digit at the canvas centre gets exactly the source
/// network's digit capsules; training grows the ring's weights from their gradient (∂L/∂W_ij = ∂L/∂û_j|i · u_iᵀ, u_i ≠ 0).
/// The decoder's hidden layers are copied; its output row for canvas pixel (y, x) is the source's row for pixel
/// (y − pad, x − pad), clamped into the source image (the source's border rows draw background).
/// </summary>
public static class CanvasTransfer
{
    /// <summary>Why <paramref name="source"/> cannot be carried to <paramref name="target"/>, or null when it can.</summary>
    public static string? Problem(CapsNetArchitecture source, CapsNetArchitecture target)
    {
        if (source with { InputSize = target.InputSize } != target)
            return $"only the input size may differ: the source is {source}, the target {target}";
        int grow = target.InputSize - source.InputSize, stride = source.Conv1Stride * source.PrimaryStride;
        if (grow <= 0 || grow % (2 * stride) != 0)
            return $"the canvas must grow by a positive multiple of 2 × {stride} pixels (pad a multiple of the conv strides' product {stride} on each side); "
                + $"{source.InputSize} → {target.InputSize} does not";
        return null;
    }

    /// <summary>The weights of <paramref name="target"/> made from <paramref name="source"/> as the class summary says.</summary>
    public static CapsNetWeights ToCanvas(CapsNetWeights source, CapsNetArchitecture target, string sourceDescription)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        var s = source.Architecture;
        if (Problem(s, target) is { } problem) throw new ArgumentException(problem, nameof(target));
        var result = new CapsNetWeights(target, source.Metadata);
        foreach (var name in new[]
                 {
                     CapsNetArchitecture.Conv1Weight, CapsNetArchitecture.Conv1Bias, CapsNetArchitecture.PrimaryWeight,
                     CapsNetArchitecture.PrimaryBias, CapsNetArchitecture.Fc1Weight, CapsNetArchitecture.Fc1Bias,
                     CapsNetArchitecture.Fc2Weight, CapsNetArchitecture.Fc2Bias,
                 })
            source[name].CopyTo(result[name], 0);

        int pad = (target.InputSize - s.InputSize) / 2;
        int gridOffset = pad / (s.Conv1Stride * s.PrimaryStride);
        int sourceGrid = s.PrimaryGridSize, targetGrid = target.PrimaryGridSize;
        int perCapsule = s.Classes * s.ClassDims * s.PrimaryDims; // W_ij for all j of one i, [J][D][Dp]
        for (int type = 0; type < s.PrimaryTypes; type++)
            for (int y = 0; y < targetGrid; y++)
                for (int x = 0; x < targetGrid; x++)
                {
                    int sy = y - gridOffset, sx = x - gridOffset;
                    if (sy < 0 || sy >= sourceGrid || sx < 0 || sx >= sourceGrid) continue; // the ring stays 0
                    int from = (type * sourceGrid * sourceGrid + sy * sourceGrid + sx) * perCapsule;
                    int to = (type * targetGrid * targetGrid + y * targetGrid + x) * perCapsule;
                    source.DigitWeight.AsSpan(from, perCapsule).CopyTo(result.DigitWeight.AsSpan(to, perCapsule));
                }

        int hidden = s.DecoderHidden2, side = s.InputSize, plane = side * side, targetSide = target.InputSize;
        for (int c = 0; c < s.InputChannels; c++)
            for (int y = 0; y < targetSide; y++)
                for (int x = 0; x < targetSide; x++)
                {
                    int sy = Math.Clamp(y - pad, 0, side - 1), sx = Math.Clamp(x - pad, 0, side - 1);
                    int from = c * plane + sy * side + sx, to = c * targetSide * targetSide + y * targetSide + x;
                    source.Fc3Weight.AsSpan(from * hidden, hidden).CopyTo(result.Fc3Weight.AsSpan(to * hidden, hidden));
                    result.Fc3Bias[to] = source.Fc3Bias[from];
                }

        foreach (var key in result.Metadata.Keys.Where(k => k.StartsWith("training.", StringComparison.Ordinal)).ToList())
            result.Metadata.Remove(key);
        result.Metadata["capsnet.init"] = string.Create(CultureInfo.InvariantCulture,
            $"canvas transfer from {sourceDescription} ({s.InputSize}x{s.InputSize} -> {target.InputSize}x{target.InputSize}): "
            + $"convs and decoder fc1/fc2 copied; W_ij from grid position (y-{gridOffset}, x-{gridOffset}), 0 on the new border; "
            + $"fc3 rows from pixel (y-{pad}, x-{pad}) clamped into the source");
        return result;
    }
}
