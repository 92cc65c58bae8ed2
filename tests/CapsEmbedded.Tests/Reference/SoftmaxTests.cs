using CapsEmbedded.Reference;

namespace CapsEmbedded.Tests.Reference;

/// <summary>Softmax (eq. 3) used for the coupling coefficients c_ij.</summary>
public class SoftmaxTests
{
    [Fact]
    public void KnownLogitsGiveProportionalProbabilities()
    {
        // e^0 : e^(ln 2) : e^(ln 3) = 1 : 2 : 3.
        double[] logits = { 0, Math.Log(2), Math.Log(3) };
        var p = new double[3];
        ReferenceModel.Softmax<double>(logits, p);
        Assert.Equal(1.0 / 6, p[0], 1e-15);
        Assert.Equal(2.0 / 6, p[1], 1e-15);
        Assert.Equal(3.0 / 6, p[2], 1e-15);
    }

    [Fact]
    public void ZeroLogitsGiveUniformProbabilities()
    {
        var p = new float[10];
        ReferenceModel.Softmax<float>(new float[10], p);
        Assert.All(p, x => Assert.Equal(0.1f, x, 1e-7f));
    }

    [Fact]
    public void RowsSumToOneAndHugeLogitsDoNotOverflow()
    {
        var random = new DeterministicRandom(3);
        for (int trial = 0; trial < 100; trial++)
        {
            int n = 1 + random.NextInt(12);
            var logits = new float[n];
            for (int k = 0; k < n; k++) logits[k] = random.NextUniform(-100, 100);
            var p = new float[n];
            ReferenceModel.Softmax<float>(logits, p);
            Assert.Equal(1.0, p.Sum(x => (double)x), 1e-6);
            Assert.All(p, x => Assert.InRange(x, 0f, 1f));
        }

        var huge = new float[2];
        ReferenceModel.Softmax<float>(new float[] { 1000, 1000 }, huge);
        Assert.Equal(new[] { 0.5f, 0.5f }, huge);
    }

    [Fact]
    public void RejectsEmptyAndMismatchedSpans()
    {
        Assert.Throws<ArgumentException>(() => ReferenceModel.Softmax<float>(ReadOnlySpan<float>.Empty, Span<float>.Empty));
        Assert.Throws<ArgumentException>(() => ReferenceModel.Softmax<float>(new float[3], new float[2]));
    }
}
