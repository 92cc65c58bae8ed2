using System.Diagnostics;
using CapsEmbedded.Reference;
using CapsEmbedded.Weights;
using Xunit.Abstractions;

namespace CapsEmbedded.Tests.Reference;

/// <summary>Single (float arithmetic) against Double (double arithmetic) on the paper's network.</summary>
public class PrecisionTests(ITestOutputHelper log)
{
    private static readonly Lazy<CapsNetWeights> PaperWeights = new(() => CapsNetWeights.CreateRandom(CapsNetArchitecture.Paper, 2017));

    // The random init's W_ij (σ = 0.01) gives capsule lengths ~1e-4, where squash is nearly |s|·s and routing stays
    // nearly uniform. Scaling W by 50 gives lengths like a trained network's (0.57-0.86 here): the nonlinear regime.
    private static readonly Lazy<CapsNetWeights> PaperWeightsLongCapsules = new(() =>
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Paper, 2018);
        var w = weights.DigitWeight;
        for (int k = 0; k < w.Length; k++) w[k] *= 50;
        return weights;
    });

    // Two images keep the test short: a scalar paper forward pass takes ~0.7 s in Release and several in Debug.
    public static TheoryData<string, bool> Cases => new() { { "seven", false }, { "noise", true } };

    private static float[] Image(string name) => name switch
    {
        "seven" => SyntheticDigits.Seven(28),
        _ => SyntheticDigits.Noise(28, 28),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void SingleAndDoubleAgreeOnThePaperNetwork(string imageName, bool longCapsules)
    {
        var weights = longCapsules ? PaperWeightsLongCapsules.Value : PaperWeights.Value;
        var image = Image(imageName);
        var timer = Stopwatch.StartNew();
        var single = ReferenceModel.Forward(weights, image, ReferencePrecision.Single);
        var singleTime = timer.Elapsed;
        var precise = ReferenceModel.Forward(weights, image, ReferencePrecision.Double);
        log.WriteLine($"{imageName}: single {singleTime.TotalMilliseconds:F0} ms, double {(timer.Elapsed - singleTime).TotalMilliseconds:F0} ms");

        double worstLength = 0, worstCapsule = 0, worstPixel = 0;
        for (int j = 0; j < single.Lengths.Length; j++)
            worstLength = Math.Max(worstLength, Math.Abs(single.Lengths[j] - precise.Lengths[j]) / precise.Lengths[j]);
        double longest = precise.Lengths.Max();
        for (int k = 0; k < single.Capsules.Length; k++)
            worstCapsule = Math.Max(worstCapsule, Math.Abs(single.Capsules[k] - precise.Capsules[k]) / longest);
        for (int p = 0; p < single.Reconstruction.Length; p++)
            worstPixel = Math.Max(worstPixel, Math.Abs(single.Reconstruction[p] - precise.Reconstruction[p]));
        log.WriteLine($"lengths {string.Join(", ", precise.Lengths.Select(x => x.ToString("G6")))}");
        log.WriteLine($"worst relative length error {worstLength:E2}, capsule error / longest {worstCapsule:E2}, pixel {worstPixel:E2}");

        // Float sums of up to 20,736 products (primary conv: 256 channels × 9 × 9) carry a relative error of about
        // √n · 2⁻²⁴ ≈ 1e-5 (random-walk rounding), and routing sums 1152 terms more. We measure ≤ 2.2e-6 (lengths) and
        // ≤ 1.8e-6 (capsules); 1e-4 relative leaves a wide margin for other weights without hiding a real bug (a
        // wrong index or a missing term changes lengths by far more than 1e-4).
        const double relativeTolerance = 1e-4;
        Assert.True(worstLength < relativeTolerance, $"lengths differ by {worstLength:E2} relative");
        Assert.True(worstCapsule < relativeTolerance, $"capsules differ by {worstCapsule:E2} of the longest");
        Assert.True(worstPixel < 1e-5, $"reconstruction differs by {worstPixel:E2}");
        Assert.Equal(precise.PredictedClass, single.PredictedClass);
        Assert.Equal(precise.MaskedClass, single.MaskedClass);
    }
}
