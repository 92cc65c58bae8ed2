using CapsEmbedded.Kernels;
using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Reference;

/// <summary>
/// The scalar reference model (<see cref="ReferenceModel"/>, any architecture) as an <see cref="ICapsNetSession"/>, for
/// code that runs whichever model it is given: the executable spec, slow and allocating, spread over a batch's workers.
/// </summary>
public sealed class ReferenceSession : ICapsNetSession
{
    private readonly CapsNetWeights _weights;
    private readonly BatchItemRunner _predictItem;

    public ReferenceSession(CapsNetWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        _weights = weights;
        Shape = ModelShape.Of(weights.Architecture);
        _predictItem = PredictItem;
    }

    public string ModelName => nameof(ReferenceModel);

    /// <summary>The architecture of the weights it runs.</summary>
    public CapsNetArchitecture Architecture => _weights.Architecture;

    public ModelShape Shape { get; }

    public IReadOnlyList<string> ClassNames => _weights.ClassNames;

    /// <summary>Always <see cref="SimdTier.Scalar"/>: the reference model has no other.</summary>
    public SimdTier Tier
    {
        get => SimdTier.Scalar;
        set
        {
            if (value != SimdTier.Scalar) throw new ArgumentException($"the reference model runs the scalar tier only, not {value}", nameof(value));
        }
    }

    public int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules = default, Span<float> reconstruction = default)
    {
        var output = ReferenceModel.Forward(_weights, image);
        output.Lengths.CopyTo(lengths);
        if (!capsules.IsEmpty) output.Capsules.CopyTo(capsules);
        if (!reconstruction.IsEmpty) output.Reconstruction.CopyTo(reconstruction);
        return output.PredictedClass;
    }

    /// <summary>On the calling thread: the reference model does not split an image.</summary>
    public int Predict(BatchContext context, ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules = default, Span<float> reconstruction = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Predict(image, lengths, capsules, reconstruction);
    }

    public void Reconstruct(ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction)
    {
        var a = Architecture;
        if (capsules.Length != a.DecoderInput)
            throw new ArgumentException($"capsules has {capsules.Length} values; the decoder takes {a.Classes}x{a.ClassDims}", nameof(capsules));
        var masked = new float[a.DecoderInput];
        ReferenceModel.Mask<float>(capsules, a.Classes, a.ClassDims, keep, masked);
        ReferenceModel.Decoder<float>(masked, _weights, reconstruction[..a.DecoderOutput]);
    }

    /// <summary>Worker threads only: the reference model allocates its own tensors.</summary>
    public BatchContext CreateBatchContext(int workerCount = 0) => new(scratchLength: 0, workerCount);

    public void PredictBatch(ReadOnlySpan<float> images, Span<float> lengths, Span<int> classes, BatchContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Run(_predictItem, images, Architecture.InputLength, lengths, Architecture.Classes, classes);
    }

    private int PredictItem(int worker, ReadOnlySpan<float> image, Span<float> lengths) => Predict(image, lengths);

    /// <summary>Nothing to free: the weights are managed arrays.</summary>
    public void Dispose()
    {
    }
}
