using CapsEmbedded.Training;
using CapsEmbedded.Training.Layers;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Training;

/// <summary>
/// Every backward pass against central finite differences in double precision (h = 1e-6), on the tiny architecture.
/// Tolerance: |analytic − numeric| ≤ 1e-6 + 1e-4·|numeric|; double central differences are good to ~1e-9 here, the
/// slack covers the kinks of ReLU and max(0, ·) should a perturbation cross one.
/// </summary>
public class GradientCheckTests
{
    private const double H = 1e-6;

    private static void AssertClose(double analytic, double numeric, string what)
    {
        double tolerance = 1e-6 + 1e-4 * Math.Abs(numeric);
        Assert.True(Math.Abs(analytic - numeric) <= tolerance,
            $"{what}: analytic {analytic:G10} vs numeric {numeric:G10}");
    }

    /// <summary>
    /// For each k of <paramref name="indices"/> (default: every index of <paramref name="x"/>): analytic[k] against the
    /// central difference (loss(x + h·e_k) − loss(x − h·e_k)) / 2h; x is restored after each.
    /// </summary>
    private static void AssertMatchesFiniteDifferences(double[] x, double[] analytic, Func<double> loss, Func<int, string> what,
        IEnumerable<int>? indices = null)
    {
        foreach (int k in indices ?? Enumerable.Range(0, x.Length))
        {
            double keep = x[k];
            x[k] = keep + H; double up = loss();
            x[k] = keep - H; double down = loss();
            x[k] = keep;
            AssertClose(analytic[k], (up - down) / (2 * H), what(k));
        }
    }

    private static double[] RandomArray(DeterministicRandom random, int length, double scale = 1)
    {
        var x = new double[length];
        for (int k = 0; k < length; k++) x[k] = scale * random.NextGaussian();
        return x;
    }

    private static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        double s = 0;
        for (int k = 0; k < x.Length; k++) s += x[k] * y[k];
        return s;
    }

    [Fact]
    public void Squash_backward_matches_finite_differences()
    {
        var random = new DeterministicRandom(1);
        const int count = 5, dims = 4;
        var s = RandomArray(random, count * dims);
        var weights = RandomArray(random, count * dims);
        var v = new double[count * dims];
        double Loss() { SquashLayer.Forward<double>(s, count, dims, v); return Dot(v, weights); }
        var ds = new double[count * dims];
        SquashLayer.Backward<double>(s, weights, count, dims, ds);
        AssertMatchesFiniteDifferences(s, ds, Loss, k => $"ds[{k}]");
        // s = 0: squash is flat there, the gradient is 0.
        SquashLayer.Backward<double>(new double[4], new double[] { 1, 2, 3, 4 }, 1, 4, ds);
        Assert.All(ds.AsSpan(0, 4).ToArray(), x => Assert.Equal(0.0, x));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Routing_backward_matches_finite_differences_through_every_iteration(int iterations)
    {
        var random = new DeterministicRandom(2);
        const int n = 7, j = 3, d = 4;
        var uHat = RandomArray(random, n * j * d, 0.5);
        var weights = RandomArray(random, j * d);
        var logits = new double[n * j];
        var c = new double[iterations * n * j];
        var s = new double[iterations * j * d];
        var v = new double[iterations * j * d];
        double Loss()
        {
            RoutingLayer.Forward<double>(uHat, n, j, d, iterations, logits, c, s, v);
            return Dot(v.AsSpan((iterations - 1) * j * d), weights);
        }
        Loss();
        var dUHat = new double[n * j * d];
        RoutingLayer.Backward<double>(uHat, c, s, v, weights, n, j, d, iterations, dUHat,
            new double[n * j], new double[n * j], new double[j * d], new double[j * d], new double[j]);
        AssertMatchesFiniteDifferences(uHat, dUHat, Loss, k => $"dû[{k}] r={iterations}");
    }

    public static TheoryData<int, int> TransformShapes() => new()
    {
        { 5, 1 }, { 5, 3 },
        // D = two vectors takes the register-blocked path (16 floats in training; 2 × Vector<double>.Count here).
        { 2 * System.Numerics.Vector<double>.Count, 1 }, { 2 * System.Numerics.Vector<double>.Count, 3 },
    };

    [Theory]
    [MemberData(nameof(TransformShapes))]
    public void Capsule_transform_backward_matches_finite_differences(int d, int count)
    {
        var random = new DeterministicRandom(3);
        const int n = 4, j = 3, p = 3;
        var u = RandomArray(random, count * n * p);
        var w = RandomArray(random, n * j * p * d);
        var weights = RandomArray(random, count * n * j * d);
        var uHat = new double[n * j * d];
        double Loss()
        {
            double total = 0;
            for (int g = 0; g < count; g++)
            {
                CapsuleTransformLayer.Forward<double>(u.AsSpan(g * n * p, n * p), w, n, j, d, p, uHat);
                total += Dot(uHat, weights.AsSpan(g * n * j * d, n * j * d));
            }
            return total;
        }
        var dw = new double[w.Length];
        var du = new double[u.Length];
        CapsuleTransformLayer.Backward<double>(u, w, weights, count, n, j, d, p, dw, du);
        AssertMatchesFiniteDifferences(u, du, Loss, k => $"du[{k}]");
        AssertMatchesFiniteDifferences(w, dw, Loss, k => $"dW[{k}]");
    }

    /// <summary>
    /// Capsule lengths of j random 3D capsules (seeded, scaled), a margin loss on them (<paramref name="forward"/>: lengths,
    /// dLengths → loss), and the backward pass of both against finite differences; returns the loss as a function of the
    /// capsules, with the lengths it last computed.
    /// </summary>
    private static (Func<double> Loss, double[] Lengths) CheckMarginLossBackward(ulong seed, int j, double scale,
        Func<double[], double[], double> forward)
    {
        const int d = 3;
        var v = RandomArray(new DeterministicRandom(seed), j * d, scale);
        var lengths = new double[j];
        var dLengths = new double[j];
        double Loss() { MarginLoss.Lengths<double>(v, j, d, lengths); return forward(lengths, dLengths); }
        Loss();
        var dv = new double[j * d];
        MarginLoss.LengthsBackward<double>(v, lengths, dLengths, j, d, dv);
        AssertMatchesFiniteDifferences(v, dv, Loss, k => $"dv[{k}]");
        return (Loss, lengths);
    }

    [Fact]
    public void Margin_loss_and_lengths_backward_match_finite_differences() =>
        CheckMarginLossBackward(seed: 4, j: 4, scale: 0.3, (lengths, dLengths) => MarginLoss.Forward<double>(lengths, 2, 1.0, dLengths));

    [Fact]
    public void Two_label_margin_loss_backward_matches_finite_differences()
    {
        int[] labels = [3, 1];
        var (loss, lengths) = CheckMarginLossBackward(seed: 6, j: 5, scale: 0.4,
            (capsuleLengths, dLengths) => MarginLoss.Forward<double>(capsuleLengths, labels, 1.0, dLengths));
        // T = 1 for both: each label's term is the m⁺ one, the others the λ·m⁻ one.
        double actual = loss(), expected = 0;
        for (int k = 0; k < lengths.Length; k++)
            expected += k is 3 or 1 ? Math.Pow(Math.Max(0, 0.9 - lengths[k]), 2) : 0.5 * Math.Pow(Math.Max(0, lengths[k] - 0.1), 2);
        Assert.Equal(expected, actual, 14);
    }

    [Fact]
    public void Primary_patches_col2im_is_the_adjoint_of_im2col()
    {
        var random = new DeterministicRandom(5);
        const int c = 3, size = 7, kernel = 3, stride = 2;
        int outSize = (size - kernel) / stride + 1, columns = kernel * kernel * c;
        var x = RandomArray(random, size * size * c);
        var y = RandomArray(random, outSize * outSize * columns);
        var patches = new double[y.Length];
        Patches.FromHwc<double>(x, c, size, size, kernel, stride, patches);
        var back = new double[x.Length];
        Patches.ToHwc<double>(y, c, size, size, kernel, stride, back);
        Assert.Equal(Dot(patches, y), Dot(x, back), 10);
    }

    /// <summary>Loss = mean over the group of margin + reconstruction, through the worker that trains.</summary>
    private static double WorkerLoss(CapsNetWorker<double> worker, double[] images, int[] labels)
    {
        var totals = worker.TrainGroup(images, labels, labels.Length, 1.0 / labels.Length);
        return (totals.MarginLoss + totals.ReconstructionLoss) / labels.Length;
    }

    public static TheoryData<string> Tensors() => new()
    {
        CapsNetArchitecture.Conv1Weight, CapsNetArchitecture.Conv1Bias, CapsNetArchitecture.PrimaryWeight,
        CapsNetArchitecture.PrimaryBias, CapsNetArchitecture.DigitWeight, CapsNetArchitecture.Fc1Weight,
        CapsNetArchitecture.Fc1Bias, CapsNetArchitecture.Fc2Weight, CapsNetArchitecture.Fc2Bias,
        CapsNetArchitecture.Fc3Weight, CapsNetArchitecture.Fc3Bias,
    };

    [Theory]
    [MemberData(nameof(Tensors))]
    public void Whole_network_gradient_matches_finite_differences(string tensor) => CheckWholeNetwork(CapsNetArchitecture.Tiny, tensor);

    /// <summary>Class capsules of two vectors' width (8 doubles with 256-bit vectors): the paper's fast û paths, in double.</summary>
    [Theory]
    [InlineData(CapsNetArchitecture.DigitWeight)]
    [InlineData(CapsNetArchitecture.PrimaryWeight)]
    [InlineData(CapsNetArchitecture.Fc1Weight)]
    public void Whole_network_gradient_with_wide_capsules_matches_finite_differences(string tensor) =>
        CheckWholeNetwork(CapsNetArchitecture.Tiny with { ClassDims = 2 * System.Numerics.Vector<double>.Count }, tensor);

    /// <summary>MultiMNIST's loss (§6): both true classes in the margin loss, each decoded from its own capsule against its own target.</summary>
    [Theory]
    [MemberData(nameof(Tensors))]
    public void Whole_network_gradient_with_two_targets_matches_finite_differences(string tensor) =>
        CheckWholeNetwork(CapsNetArchitecture.Tiny, tensor, targets: 2);

    /// <summary>Loss of a group of images with two labels and two reconstruction targets each.</summary>
    private static double WorkerLoss(CapsNetWorker<double> worker, double[] images, int[] labels, double[] reconstructionTargets)
    {
        int count = labels.Length / 2;
        var totals = worker.TrainGroup(images, labels, 2, reconstructionTargets, count, 1.0 / count);
        return (totals.MarginLoss + totals.ReconstructionLoss) / count;
    }

    /// <summary><paramref name="arch"/> at a random start (W_ij σ = 0.5) in double, in training layout, as the gradient checks take it.</summary>
    internal static (ParameterLayout Layout, double[] Parameters) StartingPoint(CapsNetArchitecture arch, ulong seed)
    {
        var layout = new ParameterLayout(arch);
        var parameters = new double[layout.Count];
        layout.Import(TrainingInit.Create(arch, seed, digitSigma: 0.5), parameters);
        return (layout, parameters);
    }

    private static void CheckWholeNetwork(CapsNetArchitecture arch, string tensor, int targets)
    {
        var (layout, parameters) = StartingPoint(arch, seed: 11);
        var worker = new CapsNetWorker<double>(arch, layout, parameters, groupSize: 3, targets: targets) { MaskedLiveShareLimit = 1 };
        var random = new DeterministicRandom(13);
        var images = new double[3 * arch.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = random.NextDouble();
        var reconstructionTargets = new double[3 * targets * arch.InputLength];
        for (int k = 0; k < reconstructionTargets.Length; k++) reconstructionTargets[k] = random.NextDouble();
        int[] labels = { 0, 2, 2, 1, 1, 0 };

        Array.Clear(worker.Gradients);
        WorkerLoss(worker, images, labels, reconstructionTargets);
        var analytic = (double[])worker.Gradients.Clone();
        var segment = layout[tensor];
        int[] checks = Enumerable.Range(0, Math.Min(segment.Length, 24))
            .Select(t => segment.Offset + (segment.Length <= 24 ? t : random.NextInt(segment.Length))).ToArray();
        AssertMatchesFiniteDifferences(parameters, analytic, () => WorkerLoss(worker, images, labels, reconstructionTargets),
            k => $"{tensor}[{k - segment.Offset}] (two targets)", checks);
        Assert.Contains(analytic.AsSpan(segment.Offset, segment.Length).ToArray(), g => g != 0);
    }

    [Fact]
    public void Each_target_is_decoded_from_its_own_capsule_and_both_terms_add_up()
    {
        var arch = CapsNetArchitecture.Tiny;
        var (layout, parameters) = StartingPoint(arch, seed: 11);
        var random = new DeterministicRandom(14);
        var image = new double[arch.InputLength];
        for (int k = 0; k < image.Length; k++) image[k] = random.NextDouble();
        var first = new double[arch.InputLength];
        var second = new double[arch.InputLength];
        for (int k = 0; k < first.Length; k++) (first[k], second[k]) = (random.NextDouble(), random.NextDouble());
        var one = new CapsNetWorker<double>(arch, layout, parameters, groupSize: 1);
        var two = new CapsNetWorker<double>(arch, layout, parameters, groupSize: 1, targets: 2);
        var a = one.TrainGroup(image, [2], 1, first, 1, 1.0);
        var b = one.TrainGroup(image, [0], 1, second, 1, 1.0);
        var both = two.TrainGroup(image, [2, 0], 2, [.. first, .. second], 1, 1.0);
        Assert.Equal(a.ReconstructionLoss + b.ReconstructionLoss, both.ReconstructionLoss, 12);
        one.Forward(image, 1, [2]);
        Assert.Equal(one.Reconstruction(0).ToArray(), two.Reconstruction(0).ToArray());
        one.Forward(image, 1, [0]);
        Assert.Equal(one.Reconstruction(0).ToArray(), two.Reconstruction(1).ToArray());
    }

    [Fact]
    public void Two_targets_are_recognised_only_when_they_are_the_two_longest_capsules()
    {
        double[] lengths = [0.2, 0.9, 0.1, 0.8, 0.85];
        Assert.True(CapsNetWorker<double>.Recognised(lengths, [1, 4]));
        Assert.True(CapsNetWorker<double>.Recognised(lengths, [4, 1]));
        Assert.False(CapsNetWorker<double>.Recognised(lengths, [1, 3]));
        Assert.False(CapsNetWorker<double>.Recognised(lengths, [1, 1]));
        Assert.True(CapsNetWorker<double>.Recognised(lengths, [1]));
        Assert.False(CapsNetWorker<double>.Recognised(lengths, [4]));
        // Ties go to the earlier class, as the one-label argmax does.
        Assert.True(CapsNetWorker<double>.Recognised([0.5, 0.5, 0.5], [0, 1]));
        Assert.False(CapsNetWorker<double>.Recognised([0.5, 0.5, 0.5], [1, 2]));
        var top = new int[2];
        CapsNetWorker<double>.TopClasses(lengths, top);
        Assert.Equal([1, 4], top);
    }

    private static void CheckWholeNetwork(CapsNetArchitecture arch, string tensor)
    {
        var layout = new ParameterLayout(arch);
        var parameters = new double[layout.Count];
        // W_ij larger than the default σ = 0.01 so that routing and the margin loss see non-trivial values.
        var weights = TrainingInit.Create(arch, seed: 11, digitSigma: 0.5);
        layout.Import(weights, parameters);
        // The masked dA1 path (the one training with trained weights takes) whatever this start's share of positive
        // conv1 outputs; MaskedInputGradientTests tie the dense path to it.
        var worker = new CapsNetWorker<double>(arch, layout, parameters, groupSize: 3) { MaskedLiveShareLimit = 1 };
        var random = new DeterministicRandom(12);
        var images = new double[3 * arch.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = random.NextDouble();
        int[] labels = { 0, 2, 1 };

        Array.Clear(worker.Gradients);
        WorkerLoss(worker, images, labels);
        var analytic = (double[])worker.Gradients.Clone();
        var segment = layout[tensor];
        // All of a small tensor, 24 random elements of a larger one.
        int[] checks = Enumerable.Range(0, Math.Min(segment.Length, 24))
            .Select(t => segment.Offset + (segment.Length <= 24 ? t : random.NextInt(segment.Length))).ToArray();
        AssertMatchesFiniteDifferences(parameters, analytic, () => WorkerLoss(worker, images, labels),
            k => $"{tensor}[{k - segment.Offset}]", checks);
        Assert.Contains(analytic.AsSpan(segment.Offset, segment.Length).ToArray(), g => g != 0);
        Assert.True(worker.MaskedGroups > 0, "the masked path did not run");
    }
}
