using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// The generated Tiny and Paper models against ReferenceModel, the Tiny Efficient-CapsNet against EfficientReferenceModel, and the split Predict against the one-thread one, in
/// child processes whose tier is lowered by DOTNET_Enable* switches (the cases are in <see cref="TierProbeTests"/>).
/// </summary>
public sealed class GeneratedModelTierProbeTests : TierProbeTests
{
    protected override string ProbeAssembly => typeof(GeneratedModelTierProbeTests).Assembly.Location;

    protected override string[] ProbeArguments => ["probe"];

    /// <summary>
    /// The child: <c>dotnet CapsEmbedded.Generator.Tests.dll probe</c> prints the probe lines of
    /// <see cref="TierProbeTests"/> and runs the models on the tier this process got. Exit code 0 = all good.
    /// </summary>
    public static int Probe()
    {
        SimdTier tier = MnistCapsNet.ActiveTier;
        Console.WriteLine($"best={SimdTiers.Best}");
        Console.WriteLine($"ran={tier}");
        Console.WriteLine($"isa={SimdTiers.InstructionSet(tier)}");
        if (TinyCapsNet.ActiveTier != tier)
        {
            Console.WriteLine($"result=fail: the two models took different tiers ({TinyCapsNet.ActiveTier}, {tier})");
            return 3;
        }

        bool ok = true;
        var tiny = ModelCheck.Tiny();
        for (int k = 0; k < 20; k++)
        {
            var image = TestData.RandomImage(TinyCapsNet.InputLength, (ulong)k + 1);
            var result = ModelCheck.Compare(tiny, TinyCapsNet.Architecture, ModelCheck.Reference("tiny", k, TestData.Tiny, image), image, tier);
            if (!result.WithinTolerance) Console.WriteLine($"tiny image {k}: {result}");
            ok &= result.WithinTolerance;
        }
        // The generated Efficient-CapsNet (BN folded) against the unfolded reference on this process's tier.
        var efficientFailures = EfficientModelCheck.Compare(tier, 10);
        foreach (var failure in efficientFailures.Take(10)) Console.WriteLine($"tiny efficient {failure}");
        Console.WriteLine($"tiny efficient: {(efficientFailures.Count == 0 ? "within tolerance" : efficientFailures.Count + " failures")}");
        ok &= efficientFailures.Count == 0;
        // The shipped MnistEfficientCapsNet on fixture digits, on this process's tier.
        var mnistEfficientFailures = EfficientModelCheck.CompareMnist(tier, 20);
        foreach (var failure in mnistEfficientFailures.Take(10)) Console.WriteLine(failure);
        Console.WriteLine($"mnist-efficient digits: {(mnistEfficientFailures.Count == 0 ? "within tolerance" : mnistEfficientFailures.Count + " failures")}");
        ok &= mnistEfficientFailures.Count == 0;
        var paper = ModelCheck.Paper();
        var digit = TestData.Digits[0];
        var paperResult = ModelCheck.Compare(paper, MnistCapsNet.Architecture, ModelCheck.Reference("paper-digit", 0, TestData.Paper, digit), digit, tier);
        Console.WriteLine($"paper digit 0: {paperResult}");
        ok &= paperResult.WithinTolerance;
        // The one image split over 3 workers: the same bits as one thread on this process's tier.
        float[] one = new float[MnistCapsNet.Classes], split = new float[MnistCapsNet.Classes];
        using (var workspace = new MnistCapsNet.Workspace())
            MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, workspace, digit, one);
        using (var context = MnistCapsNet.CreateBatchContext(3))
            MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, context, digit, split);
        bool same = one.AsSpan().SequenceEqual(split);
        if (!same) Console.WriteLine($"split Predict differs: {string.Join(",", split)} vs {string.Join(",", one)}");
        ok &= same;
        Console.WriteLine(ok ? "result=pass" : "result=fail: a model left its tolerance (lines above)");
        return ok ? 0 : 1;
    }
}
