using CapsEmbedded.Kernels;

namespace CapsEmbedded.Runtime;

/// <summary>
/// The argument checks of every generated model's public methods, with the model's architecture for the sizes: each
/// exception names the argument, what it holds and what the model needs.
/// </summary>
public static class ModelArguments
{
    /// <summary>A float SIMD tier this process runs (an undefined value is not one): else PlatformNotSupportedException.</summary>
    public static void CheckTier(SimdTier tier)
    {
        if (!SimdTiers.IsSupported(tier))
            throw new PlatformNotSupportedException($"SIMD tier {tier} is not supported on this machine");
    }

    /// <summary>One image and room for its lengths, and (when non-empty) its capsules and reconstruction.</summary>
    public static void CheckImage(CapsNetArchitecture a, ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules,
        Span<float> reconstruction)
        => CheckImage(a.InputSize, a.InputChannels, a.Classes, a.ClassDims, a.DecoderOutput, image, lengths, capsules, reconstruction);

    /// <summary>
    /// As the other overload, from the sizes alone (a model of any family): a square input of <paramref name="inputSize"/>²
    /// × <paramref name="inputChannels"/> values, <paramref name="classes"/> × <paramref name="classDims"/> capsules, a
    /// decoder of <paramref name="decoderOutput"/> pixels.
    /// </summary>
    public static void CheckImage(int inputSize, int inputChannels, int classes, int classDims, int decoderOutput,
        ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules, Span<float> reconstruction)
    {
        int inputLength = inputSize * inputSize * inputChannels;
        if (image.Length != inputLength)
            throw new ArgumentException(
                $"the image has {image.Length} values; this model takes {inputLength} ({inputSize}x{inputSize}x{inputChannels})",
                nameof(image));
        if (lengths.Length < classes)
            throw new ArgumentException($"lengths has room for {lengths.Length} values; the model has {classes} classes", nameof(lengths));
        if (!capsules.IsEmpty && capsules.Length < classes * classDims)
            throw new ArgumentException($"capsules has room for {capsules.Length} values; {classes}x{classDims} are needed", nameof(capsules));
        if (!reconstruction.IsEmpty && reconstruction.Length < decoderOutput)
            throw new ArgumentException($"reconstruction has room for {reconstruction.Length} values; {decoderOutput} are needed",
                nameof(reconstruction));
    }

    /// <summary>Whole images, one after another; returns their count.</summary>
    public static int CheckImages(CapsNetArchitecture a, ReadOnlySpan<float> images) => CheckImages(a.InputLength, images);

    /// <summary>Whole images of <paramref name="inputLength"/> floats, one after another; returns their count.</summary>
    public static int CheckImages(int inputLength, ReadOnlySpan<float> images)
    {
        if (images.Length % inputLength != 0)
            throw new ArgumentException($"images has {images.Length} values, not a multiple of the image size {inputLength}", nameof(images));
        return images.Length / inputLength;
    }

    /// <summary>Room for the lengths [count·classes] and classes [count] of <paramref name="count"/> images.</summary>
    public static void CheckBatchOutputs(CapsNetArchitecture a, int count, Span<float> lengths, Span<int> classes)
    {
        if (lengths.Length < (long)count * a.Classes)
            throw new ArgumentException($"lengths has room for {lengths.Length} values; {count} images need {(long)count * a.Classes}",
                nameof(lengths));
        if (classes.Length < count)
            throw new ArgumentException($"classes has room for {classes.Length} values; the batch has {count} images", nameof(classes));
    }

    /// <summary>The decoder's arguments: all the capsules, a class to keep, room for the reconstruction.</summary>
    public static void CheckReconstruct(CapsNetArchitecture a, ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction)
    {
        if (capsules.Length != a.DecoderInput)
            throw new ArgumentException($"capsules has {capsules.Length} values; the decoder takes {a.Classes}x{a.ClassDims}", nameof(capsules));
        if ((uint)keep >= (uint)a.Classes)
            throw new ArgumentOutOfRangeException(nameof(keep), keep, $"the class to keep must be in 0..{a.Classes - 1}");
        if (reconstruction.Length < a.DecoderOutput)
            throw new ArgumentException($"reconstruction has room for {reconstruction.Length} values; {a.DecoderOutput} are needed",
                nameof(reconstruction));
    }

    /// <summary>A batch context whose workers' scratch holds <paramref name="scratchLength"/> floats.</summary>
    public static void CheckContext(BatchContext context, int scratchLength)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.ScratchLength < scratchLength)
            throw new ArgumentException(
                $"the context's scratch holds {context.ScratchLength} floats; this model needs {scratchLength} (use CreateBatchContext)",
                nameof(context));
    }
}
