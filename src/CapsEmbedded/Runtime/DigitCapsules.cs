using CapsEmbedded.Kernels;

namespace CapsEmbedded.Runtime;

/// <summary>
/// The layers after û, alike in every model (float32 in the float and the int8 models): routing (Procedure 1), the
/// capsule lengths and the longest, the mask and the decoder (§4.1), each on the regions of a <see cref="ScratchLayout"/>.
/// The generated models and <c>QuantizedCapsNet</c> call these; the sizes come from the layout's architecture.
/// </summary>
public static class DigitCapsules
{
    /// <summary>Routing by agreement (Procedure 1): û → v, r = RoutingIterations.</summary>
    public static void Route(ScratchLayout layout, Span<float> scratch, SimdTier tier)
    {
        var a = layout.Architecture;
        Routing.Run(layout.UHat.In(scratch), a.PrimaryCapsules, a.Classes, a.ClassDims, a.RoutingIterations, layout.Logits.In(scratch),
            layout.Coupling.In(scratch), layout.DigitCaps.In(scratch), tier);
    }

    /// <summary>Capsule lengths |v_j| into <paramref name="lengths"/>; returns the class of the longest (TopK.ArgMax).</summary>
    public static int Lengths(ScratchLayout layout, Span<float> scratch, Span<float> lengths, SimdTier tier)
    {
        var a = layout.Architecture;
        Span<float> classLengths = lengths.Slice(0, a.Classes);
        CapsuleLengths.Run(layout.DigitCaps.In(scratch), a.Classes, a.ClassDims, classLengths, tier);
        return TopK.ArgMax<float>(classLengths);
    }

    /// <summary>The decoder (<see cref="CapsuleDecoder"/>) on the masked capsules already in the scratch.</summary>
    public static void Decode(ScratchLayout layout, Span<float> scratch, DecoderWeights weights, Span<float> reconstruction,
        SimdTier tier)
        => CapsuleDecoder.Run(layout.Masked.In(scratch), weights, layout.Hidden1.In(scratch), layout.Hidden2.In(scratch),
            reconstruction.Slice(0, layout.Architecture.DecoderOutput), tier);

    /// <summary>
    /// The forward pass after û: routing, lengths, and what the caller asked for (<paramref name="capsules"/>, and
    /// <paramref name="reconstruction"/> from the longest capsule alone) when non-empty; returns the longest capsule's class.
    /// </summary>
    public static int Finish(ScratchLayout layout, Span<float> scratch, DecoderWeights decoder, Span<float> lengths,
        Span<float> capsules, Span<float> reconstruction, SimdTier tier)
    {
        Route(layout, scratch, tier);
        int predicted = Lengths(layout, scratch, lengths, tier);
        if (!capsules.IsEmpty) layout.DigitCaps.In(scratch).CopyTo(capsules);
        if (!reconstruction.IsEmpty)
        {
            Mask(layout, scratch, layout.DigitCaps.In(scratch), predicted);
            Decode(layout, scratch, decoder, reconstruction, tier);
        }
        return predicted;
    }

    /// <summary>
    /// The decoder alone on <paramref name="capsules"/> (classes·classDims, class-major) with every capsule but
    /// <paramref name="keep"/> zeroed; the arguments are checked here.
    /// </summary>
    public static void Reconstruct(ScratchLayout layout, Span<float> scratch, DecoderWeights decoder, ReadOnlySpan<float> capsules,
        int keep, Span<float> reconstruction, SimdTier tier)
    {
        ModelArguments.CheckTier(tier);
        ModelArguments.CheckReconstruct(layout.Architecture, capsules, keep, reconstruction);
        Mask(layout, scratch, capsules, keep);
        Decode(layout, scratch, decoder, reconstruction, tier);
    }

    /// <summary>The decoder's input: <paramref name="capsules"/> with every capsule but <paramref name="keep"/> set to zero.</summary>
    public static void Mask(ScratchLayout layout, Span<float> scratch, ReadOnlySpan<float> capsules, int keep)
        => CapsuleMask.Keep(capsules, layout.Architecture.ClassDims, keep, layout.Masked.In(scratch));
}
