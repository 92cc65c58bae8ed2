using CapsEmbedded.Reference;

namespace CapsEmbedded.Tests.Reference;

/// <summary>Squash (eq. 1): v = |s|²/(1 + |s|²) · s/|s|, with v = 0 for s = 0.</summary>
public class SquashTests
{
    [Fact]
    public void ThreeFourVectorShrinksToTwentyFiveTwentySixthsOfItsDirection()
    {
        // |s| = 5 → |v| = 25/26, direction (0.6, 0.8).
        float[] single = { 3, 4 };
        ReferenceModel.Squash<float>(single);
        Assert.Equal(25f / 26 * 0.6f, single[0], 1e-6f);
        Assert.Equal(25f / 26 * 0.8f, single[1], 1e-6f);

        double[] precise = { 3, 4 };
        ReferenceModel.Squash<double>(precise);
        Assert.Equal(15.0 / 26, precise[0], 1e-15);
        Assert.Equal(20.0 / 26, precise[1], 1e-15);
    }

    [Fact]
    public void ZeroVectorStaysExactlyZero()
    {
        var single = new float[8];
        ReferenceModel.Squash<float>(single);
        Assert.All(single, x => Assert.Equal(0f, x));
        var precise = new double[16];
        ReferenceModel.Squash<double>(precise);
        Assert.All(precise, x => Assert.Equal(0.0, x));
    }

    [Fact]
    public void TinyVectorsGoToNormTimesVectorWithoutNaN()
    {
        // For small s, v ≈ |s|·s.
        float[] small = { 1e-10f, 2e-10f };
        ReferenceModel.Squash<float>(small);
        double norm = Math.Sqrt(5) * 1e-10;
        Assert.Equal(norm * 1e-10, small[0], norm * 1e-10 * 1e-5);
        Assert.Equal(norm * 2e-10, small[1], norm * 2e-10 * 1e-5);

        // |s|² underflows to 0 in float: the true v (≈1e-60) is not representable either, so 0 is exact enough.
        float[] underflow = { 1e-30f, -1e-30f };
        ReferenceModel.Squash<float>(underflow);
        Assert.All(underflow, x => Assert.Equal(0f, x));
    }

    [Fact]
    public void HugeVectorsBecomeUnitVectorsEvenWhenTheSquaredNormOverflows()
    {
        float[] large = { 3e18f, 4e18f }; // |s|² = 2.5e37 still fits in float
        ReferenceModel.Squash<float>(large);
        Assert.Equal(0.6f, large[0], 1e-6f);
        Assert.Equal(0.8f, large[1], 1e-6f);

        float[] overflow = { 3e20f, -4e20f }; // |s|² = 2.5e41 overflows float
        ReferenceModel.Squash<float>(overflow);
        Assert.Equal(0.6f, overflow[0], 1e-6f);
        Assert.Equal(-0.8f, overflow[1], 1e-6f);

        float[] nearMax = { float.MaxValue, float.MaxValue };
        ReferenceModel.Squash<float>(nearMax);
        Assert.Equal(MathF.Sqrt(0.5f), nearMax[0], 1e-6f);
        Assert.Equal(MathF.Sqrt(0.5f), nearMax[1], 1e-6f);

        double[] overflowDouble = { 3e200, 4e200 };
        ReferenceModel.Squash<double>(overflowDouble);
        Assert.Equal(0.6, overflowDouble[0], 1e-15);
        Assert.Equal(0.8, overflowDouble[1], 1e-15);
    }

    [Fact]
    public void LengthIsSquaredNormOverOnePlusSquaredNormAndDirectionIsKept()
    {
        var random = new DeterministicRandom(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int dims = 1 + random.NextInt(16);
            double magnitude = Math.Pow(10, random.NextUniform(-3, 3));
            var s = new double[dims];
            for (int d = 0; d < dims; d++) s[d] = magnitude * random.NextGaussian();
            double norm = Math.Sqrt(s.Sum(x => x * x));
            var v = (double[])s.Clone();
            ReferenceModel.Squash<double>(v);
            double expectedLength = norm * norm / (1 + norm * norm);
            Assert.Equal(expectedLength, Math.Sqrt(v.Sum(x => x * x)), 1e-12 * Math.Max(1, expectedLength));
            Assert.True(expectedLength < 1);
            for (int d = 0; d < dims; d++) Assert.Equal(s[d] / norm * expectedLength, v[d], 1e-12);
        }
    }

    [Fact]
    public void ManyVectorOverloadSquashesEachVectorOnItsOwn()
    {
        float[] vectors = { 3, 4, 0, 0, 0, 0, 0, 0, 1 }; // three 3-D vectors, the middle one zero
        ReferenceModel.Squash<float>(vectors, 3);
        Assert.Equal(15f / 26, vectors[0], 1e-6f);
        Assert.Equal(20f / 26, vectors[1], 1e-6f);
        Assert.Equal(0f, vectors[2]);
        Assert.All(vectors[3..6], x => Assert.Equal(0f, x));
        Assert.Equal(0.5f, vectors[8], 1e-7f); // |s| = 1 → |v| = 1/2
    }

    [Fact]
    public void ManyVectorOverloadRejectsALengthThatIsNotAWholeNumberOfVectors()
    {
        var error = Assert.Throws<ArgumentException>(() => ReferenceModel.Squash<float>(new float[7], 3));
        Assert.Contains("7", error.Message);
        Assert.Throws<ArgumentException>(() => ReferenceModel.Squash<float>(new float[4], 0));
    }

    [Fact]
    public void NaNPropagates()
    {
        float[] v = { float.NaN, 1 };
        ReferenceModel.Squash<float>(v);
        Assert.True(float.IsNaN(v[1]));
    }
}
