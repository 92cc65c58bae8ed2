using CapsEmbedded.Reference;
using CapsEmbedded.Training;

namespace CapsEmbedded.Tests.Training;

/// <summary>
/// The trainer's forward pass against the reference model (the executable spec) on the same weights.
/// Tolerances: double vs double 1e-12 (different summation order only); float vs the reference's double pass 2e-5
/// absolute on values of order 1 (float rounding through two convs, routing and three FC layers).
/// </summary>
public class ReferenceAgreementTests
{
    private static void AssertAll(ReadOnlySpan<double> actual, double[] expected, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int k = 0; k < expected.Length; k++)
            Assert.True(Math.Abs(actual[k] - expected[k]) <= tolerance, $"{what}[{k}]: trainer {actual[k]:G9}, reference {expected[k]:G9}");
    }

    private static double[] Widen(ReadOnlySpan<float> x)
    {
        var y = new double[x.Length];
        for (int k = 0; k < x.Length; k++) y[k] = x[k];
        return y;
    }

    [Theory]
    [InlineData(-1, 0.5)]
    [InlineData(1, 0.5)]
    [InlineData(-1, 0.01)]
    public void Forward_equals_reference_model_on_tiny(int maskClass, double digitSigma)
    {
        var arch = CapsNetArchitecture.Tiny;
        var weights = TrainingInit.Create(arch, seed: 21, digitSigma);
        var random = new DeterministicRandom(22);
        var image = new float[arch.InputLength];
        for (int k = 0; k < image.Length; k++) image[k] = (float)random.NextDouble();
        var reference = ReferenceModel.Forward(weights, image, ReferencePrecision.Double, maskClass);

        var layout = new ParameterLayout(arch);
        var pd = new double[layout.Count];
        layout.Import(weights, pd);
        var wd = new CapsNetWorker<double>(arch, layout, pd, 2);
        wd.Forward(Array.ConvertAll(image, x => (double)x), 1, new[] { maskClass });
        var trace = ReferenceModel.Trace<double>(weights, image, maskClass);
        AssertAll(wd.Lengths(0), trace.Lengths, 1e-12, "lengths (double)");
        AssertAll(wd.Capsules(0), trace.Capsules, 1e-12, "capsules (double)");
        AssertAll(wd.Reconstruction(0), trace.Reconstruction, 1e-12, "reconstruction (double)");
        AssertAll(wd.PrimaryCapsules(0), trace.PrimaryCapsules, 1e-12, "primary capsules (double)");
        AssertAll(wd.Coupling(0), trace.Coupling, 1e-12, "coupling (double)");

        var pf = new float[layout.Count];
        layout.Import(weights, pf);
        var wf = new CapsNetWorker<float>(arch, layout, pf, 1);
        wf.Forward(image, 1, new[] { maskClass });
        AssertAll(Widen(wf.Lengths(0)), Widen(reference.Lengths), 2e-5, "lengths (float)");
        AssertAll(Widen(wf.Capsules(0)), Widen(reference.Capsules), 2e-5, "capsules (float)");
        AssertAll(Widen(wf.Reconstruction(0)), Widen(reference.Reconstruction), 2e-5, "reconstruction (float)");
        Assert.Equal(reference.PredictedClass, wf.Predicted(0));
    }

    [Fact]
    public void Forward_equals_reference_model_on_the_paper_network()
    {
        var arch = CapsNetArchitecture.Paper;
        var weights = TrainingInit.Create(arch, seed: 5);
        var random = new DeterministicRandom(6);
        var image = new float[arch.InputLength];
        for (int k = 0; k < image.Length; k++) image[k] = (float)random.NextDouble();
        var reference = ReferenceModel.Forward(weights, image, ReferencePrecision.Double, maskClass: 3);
        var layout = new ParameterLayout(arch);
        var pf = new float[layout.Count];
        layout.Import(weights, pf);
        var wf = new CapsNetWorker<float>(arch, layout, pf, 1);
        wf.Forward(image, 1, new[] { 3 });
        // Lengths are ~0.01-0.1 here; capsule values smaller still: 1e-5 absolute is ~1e-4 relative.
        AssertAll(Widen(wf.Lengths(0)), Widen(reference.Lengths), 1e-5, "lengths");
        AssertAll(Widen(wf.Capsules(0)), Widen(reference.Capsules), 1e-5, "capsules");
        AssertAll(Widen(wf.Reconstruction(0)), Widen(reference.Reconstruction), 1e-5, "reconstruction");
        AssertAll(Widen(wf.PrimaryCapsules(0)), Widen(reference.PrimaryCapsules), 1e-5, "primary capsules");
    }

    [Fact]
    public void Weights_round_trip_through_the_training_layout()
    {
        var arch = CapsNetArchitecture.Tiny;
        var weights = TrainingInit.Create(arch, seed: 8);
        var layout = new ParameterLayout(arch);
        var flat = new float[layout.Count];
        layout.Import(weights, flat);
        var back = new CapsEmbedded.Weights.CapsNetWeights(arch);
        layout.Export<float>(flat, back);
        foreach (var spec in arch.Tensors) Assert.Equal(weights[spec.Name], back[spec.Name]);
    }
}
