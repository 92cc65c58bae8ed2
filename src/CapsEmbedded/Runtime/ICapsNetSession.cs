using CapsEmbedded.Kernels;

namespace CapsEmbedded.Runtime;

/// <summary>
/// A model as an object, the one engine interface for code that picks a model at run time: each generated float model
/// has a nested <c>Session</c> class that holds one set of its packed weights and one workspace and calls the model's
/// static methods (the same arithmetic, the same bits, no allocation per call), a generated int8 model's likewise; the
/// int8 model of any architecture is <see cref="Quantization.QuantizedSession"/> and the scalar reference model <see cref="Reference.ReferenceSession"/>. A session runs one call at a time; give each
/// thread its own session over the same <c>Weights</c> (constructed with <c>ownsWeights: false</c>, so that disposing one
/// session leaves the others' weights alone), or use <see cref="PredictBatch"/>.
/// </summary>
public interface ICapsNetSession : IDisposable
{
    /// <summary>The generated class's name, e.g. "MnistCapsNet".</summary>
    string ModelName { get; }

    /// <summary>
    /// What callers need of the network, whichever family it is (input size, classes, capsule dimensions, decoder output,
    /// multiply-adds); the family's full architecture is the generated class's static <c>Architecture</c>.
    /// </summary>
    ModelShape Shape { get; }

    /// <summary>One name per class j (those of the file its weights came from, unless the session was given others).</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>
    /// The SIMD tier every call of this session uses: the best this machine has unless set (to compare tiers, or to time
    /// one). Setting a tier this machine lacks throws a PlatformNotSupportedException naming the tier.
    /// </summary>
    SimdTier Tier { get; set; }

    /// <summary>Classifies one image: lengths |v_j|, the longest capsule's class; capsules and reconstruction when non-empty.</summary>
    int Predict(ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules = default, Span<float> reconstruction = default);

    /// <summary>
    /// As <see cref="Predict(ReadOnlySpan{float}, Span{float}, Span{float}, Span{float})"/>, with the one image's work split
    /// over the context's workers (for latency on several cores); the same bits for any worker count. A model whose forward
    /// pass is not split (Efficient-CapsNet, 0.7 ms of one core) runs it on the calling thread: the same bits as the one-thread call.
    /// </summary>
    int Predict(BatchContext context, ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules = default, Span<float> reconstruction = default);

    /// <summary>
    /// Classifies one image and ranks its capsules: writes all lengths |v_j| into <paramref name="lengths"/> and the
    /// classes of the <c>classes.Length</c> longest capsules, longest first, into <paramref name="classes"/> (and their
    /// lengths into <paramref name="longest"/> when non-empty), as <see cref="TopK.Longest(ReadOnlySpan{float}, Span{int}, Span{float})"/>
    /// ranks them; returns the longest capsule's class. MultiMNIST (paper §6) reads two classes, k = 2. No allocation.
    /// </summary>
    /// <exception cref="ArgumentException">k = 0, k above the class count, or <paramref name="longest"/> neither empty nor k long.</exception>
    int PredictTop(ReadOnlySpan<float> image, Span<float> lengths, Span<int> classes, Span<float> longest = default)
    {
        // Checked before the forward pass, so a bad k costs no inference.
        if (classes.IsEmpty || classes.Length > Shape.Classes)
            throw new ArgumentException($"k = {classes.Length} (the length of classes) must be 1..{Shape.Classes}", nameof(classes));
        Predict(image, lengths);
        TopK.Longest(lengths, classes, longest);
        return classes[0];
    }

    /// <summary>The decoder alone: an image from <paramref name="capsules"/> with every capsule but <paramref name="keep"/> zeroed.</summary>
    void Reconstruct(ReadOnlySpan<float> capsules, int keep, Span<float> reconstruction);

    /// <summary>Worker threads for <see cref="PredictBatch"/> (0 = one per core), each with scratch of this model's size.</summary>
    BatchContext CreateBatchContext(int workerCount = 0);

    /// <summary>Classifies <c>images.Length / InputLength</c> images over the context's workers: lengths [count·classes], classes [count].</summary>
    void PredictBatch(ReadOnlySpan<float> images, Span<float> lengths, Span<int> classes, BatchContext context);
}
