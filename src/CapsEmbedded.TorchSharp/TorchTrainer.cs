using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// Training steps with autograd: forward, the batch-mean loss, backward, then Adam with the C# trainer's formula
/// (<see cref="AdamOptimizer{T}"/>: β1 0.9, β2 0.999, ε 1e-8, p −= lr·m̂/(√v̂ + ε)) written in tensor ops, so its
/// moments are plain tensors that go into the project's checkpoint format.
/// </summary>
public sealed class TorchTrainer : ITrainer, IDisposable
{
    private readonly List<Tensor> _m = new(), _v = new();

    /// <param name="initial">Starting weights; their architecture (routing iterations included) is the trained network's.</param>
    /// <param name="device">Where the tensors live.</param>
    /// <param name="reconstructionWeight">Weight of the reconstruction loss (<see cref="TorchCapsNet.ReconstructionWeight"/>).</param>
    public TorchTrainer(CapsNetWeights initial, Device device, double reconstructionWeight = TrainingOptions.PaperReconstructionWeight)
    {
        if (TrainingOptions.ReconstructionWeightProblem(reconstructionWeight) is { } problem) throw new ArgumentOutOfRangeException(nameof(reconstructionWeight), problem);
        Model = new TorchCapsNet(initial, device) { ReconstructionWeight = reconstructionWeight };
        foreach (var (_, p) in Model.Tensors)
        {
            _m.Add(zeros_like(p).requires_grad_(false));
            _v.Add(zeros_like(p).requires_grad_(false));
        }
    }

    public TorchCapsNet Model { get; }
    public CapsNetArchitecture Architecture => Model.Architecture;
    public Device Device => Model.Device;
    /// <summary>Adam steps taken so far.</summary>
    public long Step { get; set; }

    /// <summary>Images [B][input] in [0,1] (host floats) as a [B][C][S][S] tensor on the device.</summary>
    public Tensor Images(float[] images, int batch)
    {
        var a = Architecture;
        using var host = tensor(images.AsSpan(0, batch * a.InputLength).ToArray(), new long[] { batch, a.InputChannels, a.InputSize, a.InputSize });
        return host.to(Device);
    }

    public Tensor Labels(int[] labels, int batch)
    {
        using var host = tensor(labels.AsSpan(0, batch).ToArray().Select(l => (long)l).ToArray(), new long[] { batch });
        return host.to(Device);
    }

    /// <summary>Forward and backward of the batch-mean loss: the gradients are left in each parameter's <c>.grad</c>;
    /// returns the sums over the batch.</summary>
    public StepTotals Backward(float[] images, int[] labels, int batch)
    {
        using var scope = NewDisposeScope();
        foreach (var (_, p) in Model.Tensors) p.grad?.zero_();
        var x = Images(images, batch);
        var y = Labels(labels, batch);
        var (loss, margin, recon, lengths) = Model.Loss(x, y);
        loss.backward();
        int correct = (int)lengths.argmax(1).eq(y).sum().item<long>();
        return new StepTotals { MarginLoss = margin.item<float>(), ReconstructionLoss = recon.item<float>(), Correct = correct, Samples = batch };
    }

    /// <summary>
    /// One step: <see cref="Backward(float[], int[], int)"/>, then Adam at <paramref name="learningRate"/>. Throws
    /// <see cref="NonFiniteLossException"/> before touching the parameters if the loss is not finite.
    /// </summary>
    public StepTotals TrainStep(float[] images, int[] labels, int batch, double learningRate) =>
        TrainStep(images, labels, 1, null, batch, learningRate);

    /// <summary>One step of images with <paramref name="targets"/> true classes each (<see cref="ITrainer.TrainStep"/>).</summary>
    public StepTotals TrainStep(float[] images, int[] labels, int targets, float[]? reconstructionTargets, int batch, double learningRate)
    {
        var totals = Backward(images, labels, targets, reconstructionTargets, batch);
        if (!double.IsFinite(totals.MarginLoss) || !double.IsFinite(totals.ReconstructionLoss))
            throw new NonFiniteLossException(Step + 1, totals.MarginLoss, totals.ReconstructionLoss);
        Step++;
        ApplyAdam(learningRate);
        return totals;
    }

    /// <summary>
    /// Forward and backward of images with <paramref name="targets"/> true classes each (MultiMNIST:
    /// <see cref="TorchCapsNet.Loss(Tensor, Tensor, Tensor)"/>); one target without reconstruction targets is <see cref="Backward(float[], int[], int)"/>.
    /// </summary>
    public StepTotals Backward(float[] images, int[] labels, int targets, float[]? reconstructionTargets, int batch)
    {
        if (targets == 1 && reconstructionTargets is null) return Backward(images, labels, batch);
        if (reconstructionTargets is null) throw new ArgumentException("two or more targets need their reconstruction targets", nameof(reconstructionTargets));
        var a = Architecture;
        using var scope = NewDisposeScope();
        foreach (var (_, p) in Model.Tensors) p.grad?.zero_();
        var x = Images(images, batch);
        using var hostLabels = tensor(labels.AsSpan(0, batch * targets).ToArray().Select(l => (long)l).ToArray(), new long[] { batch, targets });
        using var hostTargets = tensor(reconstructionTargets.AsSpan(0, batch * targets * a.InputLength).ToArray(), new long[] { batch, targets, a.InputLength });
        var (loss, margin, recon, lengths) = Model.Loss(x, hostLabels.to(Device), hostTargets.to(Device));
        loss.backward();
        using var hostLengths = lengths.cpu();
        var l = hostLengths.data<float>().ToArray();
        int correct = 0;
        for (int k = 0; k < batch; k++)
            if (CapsNetWorker<float>.Recognised(l.AsSpan(k * a.Classes, a.Classes), labels.AsSpan(k * targets, targets))) correct++;
        return new StepTotals { MarginLoss = margin.item<float>(), ReconstructionLoss = recon.item<float>(), Correct = correct, Samples = batch };
    }

    /// <summary>The <paramref name="top"/> longest capsules' classes of images [count][input], longest first ([count][top]).</summary>
    public void Predict(float[] images, int count, int top, int[] predictions)
    {
        if (top == 1)
        {
            Predict(images, count, predictions);
            return;
        }
        // The k longest on the host, with the C# trainer's tie rule.
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var lengths = Model.forward(Images(images, count)).cpu();
        var l = lengths.data<float>().ToArray();
        int classes = Architecture.Classes;
        for (int k = 0; k < count; k++)
            CapsNetWorker<float>.TopClasses(l.AsSpan(k * classes, classes), predictions.AsSpan(k * top, top));
    }

    private void ApplyAdam(double learningRate)
    {
        const double b1 = AdamOptimizer<float>.Beta1, b2 = AdamOptimizer<float>.Beta2;
        double correction1 = 1 / (1 - Math.Pow(b1, Step)), correction2 = 1 / (1 - Math.Pow(b2, Step));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var parameters = Model.Tensors;
        for (int k = 0; k < parameters.Count; k++)
        {
            var p = parameters[k].Tensor;
            var g = p.grad ?? throw new InvalidOperationException($"{parameters[k].Name} has no gradient");
            _m[k].mul_(b1).add_(g, alpha: 1 - b1);
            _v[k].mul_(b2).addcmul_(g, g, value: 1 - b2);
            var update = _m[k].mul(correction1).mul_(learningRate).div_(_v[k].mul(correction2).sqrt_().add_(AdamOptimizer<float>.Epsilon));
            p.sub_(update);
        }
    }

    /// <summary>Adam's moments as weight files (PyTorch layout), for checkpoints.</summary>
    public (CapsNetWeights First, CapsNetWeights Second) Moments()
    {
        var m = new CapsNetWeights(Architecture);
        var v = new CapsNetWeights(Architecture);
        var names = Model.Tensors;
        for (int k = 0; k < names.Count; k++)
        {
            TorchCapsNet.CopyOut(_m[k], m[names[k].Name]);
            TorchCapsNet.CopyOut(_v[k], v[names[k].Name]);
        }
        return (m, v);
    }

    /// <summary>Parameters and moments in the C# trainer's flat layout, the checkpoint's.</summary>
    public (float[] Parameters, float[] FirstMoment, float[] SecondMoment) ExportState()
    {
        var layout = new ParameterLayout(Architecture);
        var (m, v) = Moments();
        return (ToTrainingLayout(layout, Model.ToWeights()), ToTrainingLayout(layout, m), ToTrainingLayout(layout, v));
    }

    private static float[] ToTrainingLayout(ParameterLayout layout, CapsNetWeights weights)
    {
        var flat = new float[layout.Count];
        layout.Import(weights, flat.AsSpan());
        return flat;
    }

    public void LoadMoments(CapsNetWeights first, CapsNetWeights second)
    {
        using var _ = no_grad();
        var names = Model.Tensors;
        for (int k = 0; k < names.Count; k++)
        {
            using (var t = tensor(first[names[k].Name], _m[k].shape)) _m[k].copy_(t);
            using (var t = tensor(second[names[k].Name], _v[k].shape)) _v[k].copy_(t);
        }
    }

    /// <summary>Predicted classes (longest capsule) of images [count][input], no decoder.</summary>
    public void Predict(float[] images, int count, int[] predictions)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var lengths = Model.forward(Images(images, count));
        using var classes = lengths.argmax(1).cpu();
        var data = classes.data<long>();
        for (int k = 0; k < count; k++) predictions[k] = (int)data[k];
    }

    public void Dispose()
    {
        foreach (var t in _m.Concat(_v)) t.Dispose();
        Model.Dispose();
    }
}
