using CapsEmbedded.Training;

namespace CapsEmbedded.Tests.Training;

public class SmallPartsTests
{
    [Fact]
    public void The_primary_weight_gradient_folded_once_per_step_equals_folding_every_group()
    {
        // The trainer sums dW2ᵀ over a step's groups and folds it into Gradients once; GradientCheckTests check the
        // per-group fold (the default) against finite differences. Both must give the same gradient, to rounding.
        var arch = CapsNetArchitecture.Tiny;
        var (layout, parameters) = GradientCheckTests.StartingPoint(arch, seed: 3);
        var random = new DeterministicRandom(4);
        var images = new double[4 * arch.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = random.NextDouble();
        int[] labels = { 1, 0, 2, 1 };

        var everyGroup = new CapsNetWorker<double>(arch, layout, parameters, groupSize: 2);
        var oncePerStep = new CapsNetWorker<double>(arch, layout, parameters, groupSize: 2);
        for (int g = 0; g < 2; g++)
        {
            var groupImages = images.AsSpan(g * 2 * arch.InputLength, 2 * arch.InputLength);
            everyGroup.TrainGroup(groupImages, labels.AsSpan(g * 2, 2), 2, 0.25);
            oncePerStep.TrainGroup(groupImages, labels.AsSpan(g * 2, 2), 2, 0.25, foldPrimaryWeightGradient: false);
        }
        var w2 = layout[CapsNetArchitecture.PrimaryWeight];
        Assert.All(oncePerStep.Gradients.AsSpan(w2.Offset, w2.Length).ToArray(), v => Assert.Equal(0.0, v)); // still pending
        oncePerStep.FoldPrimaryWeightGradient();
        oncePerStep.FoldPrimaryWeightGradient(); // nothing pending: no second addition
        Assert.Contains(everyGroup.Gradients.AsSpan(w2.Offset, w2.Length).ToArray(), v => v != 0);
        for (int k = 0; k < layout.Count; k++)
            Assert.True(Math.Abs(everyGroup.Gradients[k] - oncePerStep.Gradients[k]) <= 1e-12 * (1 + Math.Abs(everyGroup.Gradients[k])),
                $"gradient {k}: {everyGroup.Gradients[k]} vs {oncePerStep.Gradients[k]}");
    }

    [Fact]
    public void Random_shift_moves_pixels_and_pads_with_zeros()
    {
        var image = new byte[16];
        image[1 * 4 + 1] = 255; // (y 1, x 1)
        image[0] = 51;          // (0, 0) falls off when shifted left/up
        var shifted = new float[16];
        RandomShift.Apply(image, 1, 4, dx: 2, dy: 1, shifted);
        Assert.Equal(1f, shifted[2 * 4 + 3]);
        Assert.Equal(0.2f, shifted[1 * 4 + 2], 6);
        Assert.Equal(2, shifted.Count(x => x != 0));
        RandomShift.Apply(image, 1, 4, dx: -1, dy: -1, shifted);
        Assert.Equal(1f, shifted[0]);
        Assert.Equal(1, shifted.Count(x => x != 0));
        RandomShift.Apply(image, 1, 4, dx: 0, dy: 0, shifted);
        Assert.Equal(0.2f, shifted[0], 6);
    }

    [Fact]
    public void Adam_first_step_moves_each_parameter_by_the_learning_rate_against_the_gradient_sign()
    {
        var adam = new AdamOptimizer<double>(3);
        var p = new double[] { 1, 1, 1 };
        var g0 = new double[] { 0.5, -2, 0 };
        var g1 = new double[] { 0.5, 0, 0 };
        adam.Update(p, new[] { g0, g1 }, 0, 3, step: 1, learningRate: 0.1);
        // Bias-corrected first step: m̂ = g, v̂ = g², so Δ = −lr·g/(|g| + ε).
        Assert.Equal(0.9, p[0], 6);
        Assert.Equal(1.1, p[1], 6);
        Assert.Equal(1.0, p[2], 12);
        Assert.All(g0, x => Assert.Equal(0.0, x)); // gradients consumed
        Assert.All(g1, x => Assert.Equal(0.0, x));
    }
}
