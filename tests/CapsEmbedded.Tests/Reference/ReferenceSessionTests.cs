using CapsEmbedded.Kernels;
using CapsEmbedded.Reference;
using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Reference;

/// <summary>The scalar reference model as an <see cref="Runtime.ICapsNetSession"/>: the bits of <see cref="ReferenceModel.Forward"/>, one image or a batch.</summary>
public sealed class ReferenceSessionTests
{
    [Fact]
    public void Predict_PredictBatch_and_Reconstruct_give_the_reference_models_bits()
    {
        var a = CapsNetArchitecture.Tiny;
        var weights = CapsNetWeights.CreateRandom(a, seed: 4);
        using var session = new ReferenceSession(weights);
        Assert.Equal(nameof(ReferenceModel), session.ModelName);
        Assert.Equal(a, session.Architecture);
        Assert.Equal(ModelShape.Of(a), session.Shape);
        Assert.Equal(SimdTier.Scalar, session.Tier);
        Assert.Throws<ArgumentException>(() => session.Tier = SimdTier.Vector128);

        const int count = 9;
        var random = new DeterministicRandom(12);
        var images = new float[count * a.InputLength];
        for (int i = 0; i < images.Length; i++) images[i] = random.NextDouble() < 0.3 ? (float)random.NextDouble() : 0f;
        using var context = session.CreateBatchContext(3);
        var lengths = new float[count * a.Classes];
        var classes = new int[count];
        session.PredictBatch(images, lengths, classes, context);
        for (int n = 0; n < count; n++)
        {
            var image = images.AsSpan(n * a.InputLength, a.InputLength);
            var expected = ReferenceModel.Forward(weights, image);
            Assert.Equal(expected.PredictedClass, classes[n]);
            Assert.Equal(expected.Lengths, lengths.AsSpan(n * a.Classes, a.Classes).ToArray());

            var (one, capsules, reconstruction) = (new float[a.Classes], new float[a.DecoderInput], new float[a.DecoderOutput]);
            Assert.Equal(expected.PredictedClass, session.Predict(image, one, capsules, reconstruction));
            Assert.Equal(expected.Lengths, one);
            Assert.Equal(expected.Capsules, capsules);
            Assert.Equal(expected.Reconstruction, reconstruction);
            var decoded = new float[a.DecoderOutput];
            session.Reconstruct(capsules, expected.PredictedClass, decoded);
            Assert.Equal(expected.Reconstruction, decoded);
        }
    }
}
