using CapsEmbedded.Reference;

namespace CapsEmbedded.Tests.Reference;

/// <summary>Routing by agreement (Procedure 1) on hand-made prediction vectors.</summary>
public class RoutingTests
{
    // Two primary capsules i, two classes j, 2-D: û laid out [i][j][d].
    //   û_{0|0} = (2, 0)   û_{1|0} = (1, 0)
    //   û_{0|1} = (4, 8)   û_{1|1} = (−1, 0)
    private static readonly double[] HandPredictions = { 2, 0, 1, 0, 4, 8, -1, 0 };

    private static (T[] Logits, T[] Coupling, T[] Outputs) Route<T>(T[] predictions, int n, int j, int d, int iterations)
        where T : System.Numerics.IFloatingPointIeee754<T>
    {
        var logits = new T[n * j];
        var coupling = new T[n * j];
        var outputs = new T[j * d];
        ReferenceModel.Routing<T>(predictions, n, j, d, iterations, logits, coupling, outputs);
        return (logits, coupling, outputs);
    }

    [Fact]
    public void OneIterationUsesUniformCouplingSoEachOutputIsTheSquashedMeanPrediction()
    {
        var (logits, coupling, v) = Route(HandPredictions, 2, 2, 2, iterations: 1);
        Assert.All(coupling, c => Assert.Equal(0.5, c, 1e-15));
        // s_0 = ½(2,0) + ½(4,8) = (3,4) → v_0 = 25/26 · (0.6, 0.8); s_1 = ½(1,0) + ½(−1,0) = 0 → v_1 = 0.
        Assert.Equal(15.0 / 26, v[0], 1e-15);
        Assert.Equal(20.0 / 26, v[1], 1e-15);
        Assert.Equal(0.0, v[2]);
        Assert.Equal(0.0, v[3]);
        // The agreement update after the last iteration is skipped: b stays 0.
        Assert.All(logits, b => Assert.Equal(0.0, b));
    }

    [Fact]
    public void TwoIterationsFollowProcedureOneByHand()
    {
        // After iteration 1: b_i0 = û_{0|i}·v_0, b_i1 = û_{1|i}·v_1 = 0.
        double b00 = 2 * 15.0 / 26, b10 = (4 * 15.0 + 8 * 20.0) / 26;
        // Iteration 2: c_i0 = e^(b_i0) / (e^(b_i0) + e^0), c_i1 = 1 − c_i0.
        double c00 = 1 / (1 + Math.Exp(-b00)), c10 = 1 / (1 + Math.Exp(-b10));
        double[] s0 = { c00 * 2 + c10 * 4, c10 * 8 };
        double[] s1 = { (1 - c00) * 1 + (1 - c10) * -1, 0 };
        double[] v0 = SquashByHand(s0), v1 = SquashByHand(s1);

        var (logits, coupling, v) = Route(HandPredictions, 2, 2, 2, iterations: 2);
        Assert.Equal(new[] { b00, 0, b10, 0 }, logits, new ToleranceComparer(1e-14));
        Assert.Equal(new[] { c00, 1 - c00, c10, 1 - c10 }, coupling, new ToleranceComparer(1e-14));
        Assert.Equal(v0.Concat(v1), v, new ToleranceComparer(1e-14));

        var single = Route(HandPredictions.Select(x => (float)x).ToArray(), 2, 2, 2, iterations: 2);
        Assert.Equal(v0.Concat(v1), single.Outputs.Select(x => (double)x), new ToleranceComparer(1e-6));
        Assert.Equal(new[] { c00, 1 - c00, c10, 1 - c10 }, single.Coupling.Select(x => (double)x), new ToleranceComparer(1e-6));
    }

    private static double[] SquashByHand(double[] s)
    {
        double squared = s.Sum(x => x * x);
        return s.Select(x => x * squared / (1 + squared) / Math.Sqrt(squared)).ToArray();
    }

    [Fact]
    public void CouplingOfEveryPrimaryCapsuleSumsToOneAndOutputsAreShorterThanOne()
    {
        const int n = 50, j = 7, d = 5;
        var random = new DeterministicRandom(11);
        var predictions = new float[n * j * d];
        for (int k = 0; k < predictions.Length; k++) predictions[k] = (float)random.NextGaussian();
        var (_, coupling, v) = Route(predictions, n, j, d, iterations: 3);
        for (int i = 0; i < n; i++) Assert.Equal(1.0, coupling.Skip(i * j).Take(j).Sum(c => (double)c), 1e-6);
        var lengths = new float[j];
        ReferenceModel.Lengths<float>(v, j, d, lengths);
        Assert.All(lengths, length => Assert.InRange(length, 0f, 1f));
    }

    [Fact]
    public void AgreementRaisesCouplingToTheCapsuleThePredictionAgreesWith()
    {
        // Three primary capsules all predict class 0 along +x; their class-1 predictions point different ways.
        double[] predictions = { 1, 0, 0, 1, 1, 0, 0, -1, 1, 0, -1, 0 };
        var (_, coupling, _) = Route(predictions, 3, 2, 2, iterations: 3);
        for (int i = 0; i < 3; i++) Assert.True(coupling[i * 2] > 0.5, $"c_{i}0 = {coupling[i * 2]}");
    }

    [Fact]
    public void RejectsWrongSizesAndZeroIterations()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            ReferenceModel.Routing<float>(new float[8], 2, 2, 2, 0, new float[4], new float[4], new float[4]));
        var error = Assert.Throws<ArgumentException>(() =>
            ReferenceModel.Routing<float>(new float[7], 2, 2, 2, 3, new float[4], new float[4], new float[4]));
        Assert.Contains("uHat", error.Message);
        Assert.Throws<ArgumentException>(() =>
            ReferenceModel.Routing<float>(new float[8], 2, 2, 2, 3, new float[4], new float[3], new float[4]));
    }
}

/// <summary>Element-wise equality within an absolute tolerance, for Assert.Equal on sequences.</summary>
internal sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
{
    public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
    public int GetHashCode(double obj) => 0;
}
