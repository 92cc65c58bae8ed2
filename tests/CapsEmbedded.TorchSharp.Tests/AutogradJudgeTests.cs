using System.Globalization;
using CapsEmbedded.Data;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp.Tests;

/// <summary>
/// Autograd as the judge of the C# trainer's hand-written backward pass: same weights, same batch (no shifts), float on
/// both sides. The loss must agree to 1e-5 relative, and every tensor's gradient to 1e-4 relative in the 2-norm of the
/// difference, and element by element within 1e-3·|g| + 1e-4·max|g| (float sums in another order; the floor covers the
/// elements that are sums of cancelling terms). One full Adam step must then give the same weights.
/// </summary>
public class AutogradJudgeTests(ITestOutputHelper log)
{
    private const double LossTolerance = 1e-5, NormTolerance = 1e-4, ElementRelative = 1e-3, ElementFloor = 1e-4;

    private static (float[] Images, int[] Labels) Random(CapsNetArchitecture a, int batch, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var images = new float[batch * a.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = (float)random.NextDouble();
        var labels = Enumerable.Range(0, batch).Select(_ => random.NextInt(a.Classes)).ToArray();
        return (images, labels);
    }

    private static (float[] Images, int[] Labels) Mnist(int batch)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        var images = IdxReader.ReadImages(Path.Combine(dir, "t10k-200-images-idx3-ubyte"));
        var labels = IdxReader.ReadLabels(Path.Combine(dir, "t10k-200-labels-idx1-ubyte"));
        var x = new float[batch * 784];
        for (int k = 0; k < batch * 784; k++) x[k] = images.Pixels[k] / 255f;
        return (x, labels.Take(batch).Select(l => (int)l).ToArray());
    }

    /// <summary>The C# trainer's loss (per-image mean) and gradients (PyTorch layout) of the batch-mean loss.</summary>
    /// <param name="targets">True classes per image (labels [batch][targets]); with 2, <paramref name="reconstructionTargets"/>
    /// [batch][targets][input] (MultiMNIST's loss), else the images are their own targets.</param>
    private static (double Loss, CapsNetWeights Gradients) CSharp(CapsNetWeights weights, float[] images, int[] labels, int group,
        double reconstructionWeight = TrainingOptions.PaperReconstructionWeight, int targets = 1, float[]? reconstructionTargets = null)
    {
        var a = weights.Architecture;
        var layout = new ParameterLayout(a);
        var parameters = new float[layout.Count];
        layout.Import(weights, parameters.AsSpan());
        var worker = new CapsNetWorker<float>(a, layout, parameters, group, reconstructionWeight: reconstructionWeight, targets: targets);
        int batch = labels.Length / targets, input = a.InputLength;
        var totals = new StepTotals();
        for (int start = 0; start < batch; start += group)
        {
            int count = Math.Min(group, batch - start);
            var slice = images.AsSpan(start * input, count * input);
            var reconstruction = reconstructionTargets is null ? slice : reconstructionTargets.AsSpan(start * targets * input, count * targets * input);
            totals.Add(worker.TrainGroup(slice, labels.AsSpan(start * targets, count * targets), targets, reconstruction, count, 1f / batch));
        }
        var gradients = new CapsNetWeights(a);
        layout.Export<float>(worker.Gradients, gradients);
        return ((totals.MarginLoss + totals.ReconstructionLoss) / batch, gradients);
    }

    private void Judge(CapsNetWeights weights, float[] images, int[] labels, int group,
        double reconstructionWeight = TrainingOptions.PaperReconstructionWeight, int targets = 1, float[]? reconstructionTargets = null)
    {
        var (csLoss, csGrad) = CSharp(weights, images, labels, group, reconstructionWeight, targets, reconstructionTargets);
        using var trainer = new TorchTrainer(weights, CPU, reconstructionWeight);
        int batch = labels.Length / targets;
        var totals = trainer.Backward(images, labels, targets, reconstructionTargets, batch);
        double torchLoss = (totals.MarginLoss + totals.ReconstructionLoss) / batch;
        log.WriteLine(FormattableString.Invariant($"{weights.Architecture}, batch {batch} of {targets} target(s): loss C# {csLoss:R}, TorchSharp {torchLoss:R}, relative difference {Math.Abs(csLoss - torchLoss) / Math.Abs(torchLoss):E2}"));
        Assert.True(Math.Abs(csLoss - torchLoss) <= LossTolerance * Math.Abs(torchLoss), $"loss: C# {csLoss}, TorchSharp {torchLoss}");
        log.WriteLine($"{"tensor",-22} {"|g|",10} {"|Δ|/|g|",10} {"max|Δ|/max|g|",14} {"worst elem/allowed",18}");
        var failures = new List<string>();
        foreach (var (name, p) in trainer.Model.Tensors)
        {
            var torchGrad = new float[csGrad[name].Length];
            TorchCapsNet.CopyOut(p.grad!, torchGrad);
            var c = csGrad[name];
            double norm = 0, diffNorm = 0, maxG = 0, maxDiff = 0;
            for (int k = 0; k < c.Length; k++)
            {
                double d = (double)c[k] - torchGrad[k];
                norm += (double)torchGrad[k] * torchGrad[k];
                diffNorm += d * d;
                maxG = Math.Max(maxG, Math.Abs(torchGrad[k]));
                maxDiff = Math.Max(maxDiff, Math.Abs(d));
            }
            norm = Math.Sqrt(norm); diffNorm = Math.Sqrt(diffNorm);
            double worst = 0;
            for (int k = 0; k < c.Length; k++)
            {
                double allowed = ElementRelative * Math.Abs(torchGrad[k]) + ElementFloor * maxG;
                worst = Math.Max(worst, Math.Abs((double)c[k] - torchGrad[k]) / allowed);
            }
            double relative = diffNorm / norm;
            log.WriteLine(FormattableString.Invariant($"{name,-22} {norm,10:E2} {relative,10:E2} {maxDiff / maxG,14:E2} {worst,18:F3}"));
            if (reconstructionWeight == 0 && name.StartsWith("decoder.", StringComparison.Ordinal))
            {
                // Without the reconstruction loss nothing reaches the decoder, on either side.
                if (c.Any(g => g != 0) || torchGrad.Any(g => g != 0)) failures.Add($"{name}: non-zero gradient without the reconstruction loss");
                continue;
            }
            if (!(norm > 0)) failures.Add($"{name}: zero gradient, nothing is checked");
            if (!(relative <= NormTolerance)) failures.Add(FormattableString.Invariant($"{name}: |Δ|/|g| = {relative:E2}"));
            if (!(worst <= 1)) failures.Add(FormattableString.Invariant($"{name}: an element is {worst:F2}× beyond the tolerance"));
        }
        Assert.True(failures.Count == 0, string.Join("; ", failures));
    }

    [Fact]
    public void Tiny_network_gradients_agree_with_autograd()
    {
        var weights = TrainingInit.Create(CapsNetArchitecture.Tiny, 5, digitSigma: 0.5);
        var (images, labels) = Random(CapsNetArchitecture.Tiny, 12, 11);
        Judge(weights, images, labels, group: 5);
    }

    [Fact]
    public void Tiny_network_gradients_agree_with_autograd_at_one_routing_iteration_without_reconstruction()
    {
        // The ablation's settings (--routing 1 --reconstruction-weight 0): r comes from the architecture on both sides.
        var a = CapsNetArchitecture.Tiny with { RoutingIterations = 1 };
        var weights = TrainingInit.Create(a, 5, digitSigma: 0.5);
        var (images, labels) = Random(a, 12, 11);
        Judge(weights, images, labels, group: 5, reconstructionWeight: 0);
    }

    /// <summary>MultiMNIST's loss (§6): both true classes in the margin loss, each decoded from its own capsule against its own target.</summary>
    [Fact]
    public void Tiny_network_two_target_gradients_agree_with_autograd()
    {
        var a = CapsNetArchitecture.Tiny;
        var weights = TrainingInit.Create(a, 5, digitSigma: 0.5);
        var (images, _) = Random(a, 12, 11);
        var random = new DeterministicRandom(12);
        var labels = new int[24];
        for (int k = 0; k < 12; k++)
        {
            labels[2 * k] = random.NextInt(a.Classes);
            labels[2 * k + 1] = (labels[2 * k] + 1 + random.NextInt(a.Classes - 1)) % a.Classes;
        }
        var reconstructionTargets = new float[24 * a.InputLength];
        for (int k = 0; k < reconstructionTargets.Length; k++) reconstructionTargets[k] = (float)random.NextDouble();
        Judge(weights, images, labels, group: 5, targets: 2, reconstructionTargets: reconstructionTargets);
    }

    [Fact]
    public void Paper_network_gradients_agree_with_autograd_on_mnist_images()
    {
        var weights = TrainingInit.Create(CapsNetArchitecture.Paper, 3);
        var (images, labels) = Mnist(4);
        Judge(weights, images, labels, group: 3);
    }

    [Fact]
    public void One_adam_step_gives_the_same_weights()
    {
        var a = CapsNetArchitecture.Paper;
        var weights = TrainingInit.Create(a, 3);
        var (images, labels) = Mnist(4);
        using var cs = new CapsNetTrainer<float>(weights, threads: 1, groupSize: 4);
        cs.TrainStep(images, labels, labels.Length, 1e-3);
        var csAfter = cs.ExportWeights();
        using var torch = new TorchTrainer(weights, CPU);
        torch.TrainStep(images, labels, labels.Length, 1e-3);
        var torchAfter = torch.Model.ToWeights();
        var (_, csGrads) = CSharp(weights, images, labels, 4);
        var torchGrads = new CapsNetWeights(a);
        foreach (var (name, p) in torch.Model.Tensors) TorchCapsNet.CopyOut(p.grad!, torchGrads[name]);
        // Adam's first step moves each weight by lr·g/(|g| + ε): where |g| is near ε or at float-noise level the two
        // gradients' small differences (judged above) show in the step. So each element may differ by what the two
        // gradients predict, lr·|g_c/(|g_c|+ε) − g_t/(|g_t|+ε)|, plus 1e-7 for float rounding of the update.
        var failures = new List<string>();
        foreach (var spec in a.Tensors)
        {
            var c = csAfter[spec.Name];
            var t = torchAfter[spec.Name];
            var gc = csGrads[spec.Name];
            var gt = torchGrads[spec.Name];
            double worst = 0, moved = 0, maxDiff = 0;
            int signs = 0;
            for (int k = 0; k < c.Length; k++)
            {
                double d = Math.Abs((double)c[k] - t[k]);
                double expected = 1e-3 * Math.Abs(gc[k] / (Math.Abs((double)gc[k]) + 1e-8) - gt[k] / (Math.Abs((double)gt[k]) + 1e-8));
                if (Math.Sign(gc[k]) != Math.Sign(gt[k])) signs++;
                worst = Math.Max(worst, d - expected);
                maxDiff = Math.Max(maxDiff, d);
                moved = Math.Max(moved, Math.Abs(c[k] - weights[spec.Name][k]));
            }
            log.WriteLine(FormattableString.Invariant(
                $"{spec.Name,-22} max|Δw| {maxDiff:E2}, beyond the gradients' prediction {Math.Max(worst, 0):E2} (largest move {moved:E2}; gradient signs differ in {signs} of {c.Length})"));
            if (worst > 1e-7) failures.Add(FormattableString.Invariant($"{spec.Name}: weights differ by {worst:E2} more than the gradients explain after one Adam step"));
            if (!(moved > 1e-4)) failures.Add($"{spec.Name}: Adam did not move the weights");
        }
        Assert.True(failures.Count == 0, string.Join("; ", failures.Take(10)));
    }
}
