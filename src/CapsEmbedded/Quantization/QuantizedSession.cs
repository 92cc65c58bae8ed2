using CapsEmbedded.Runtime;

namespace CapsEmbedded.Quantization;

/// <summary>
/// The int8 model (<see cref="QuantizedCapsNet"/>, any architecture) as an <see cref="ICapsNetSession"/>: one workspace for
/// the one-image calls; a <see cref="BatchContext"/> (its workers' scratch laid out by <see cref="ScratchLayout.Int8"/>) for
/// a batch or one image split over threads, so a call allocates nothing, as the generated sessions do. One call at a time.
/// </summary>
public sealed class QuantizedSession : Int8ModelSession<QuantizedCapsNet, QuantizedCapsNet.Workspace>
{
    /// <param name="model">The packed int8 model; disposed with the session unless <paramref name="ownsModel"/> is false.</param>
    /// <param name="classNames">One name per class (the quantised file's).</param>
    /// <param name="ownsModel">False for sessions that share one model.</param>
    public QuantizedSession(QuantizedCapsNet model, IReadOnlyList<string> classNames, bool ownsModel = true)
        : base(nameof(QuantizedCapsNet), Checked(model).Architecture, model, new QuantizedCapsNet.Workspace(model.Architecture),
            classNames, null, ownsModel)
    {
    }

    /// <summary>A session over the quantised weights (<see cref="QuantizedWeightsFile"/>, or made by <see cref="Quantizer"/>).</summary>
    public QuantizedSession(QuantizedCapsNetWeights weights)
        : this(QuantizedCapsNet.Create(weights), weights.Weights.ClassNames)
    {
    }

    /// <summary>Loads, validates and packs a file written by <c>capsnet quantize</c>.</summary>
    public static QuantizedSession Load(string path) => new(QuantizedWeightsFile.Load(path));

    /// <summary>The int8 model the session runs.</summary>
    public QuantizedCapsNet Model => Weights;

    public override int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules = default, Span<float> reconstruction = default) =>
        Weights.Predict(Workspace, image, lengths, capsules, reconstruction, Tier, Int8Tier);

    /// <summary>The one image split over the context's workers: the same bits as the one-thread Predict.</summary>
    public override int Predict(BatchContext context, ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules = default,
        Span<float> reconstruction = default) =>
        Weights.Predict(context, image, lengths, capsules, reconstruction, Tier, Int8Tier);

    public override void Reconstruct(ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction) =>
        Weights.Reconstruct(Workspace, capsules, keep, reconstruction, Tier);

    public override BatchContext CreateBatchContext(int workerCount = 0) => new(Weights.ScratchLayout.Length, workerCount);

    /// <summary>Each image on one worker with that worker's scratch: bit-identical to one Predict per image.</summary>
    public override void PredictBatch(ReadOnlySpan<float> images, Span<float> lengths, Span<int> classes, BatchContext context) =>
        Weights.PredictBatch(images, lengths, classes, context, Tier, Int8Tier);

    private static QuantizedCapsNet Checked(QuantizedCapsNet model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model;
    }
}
