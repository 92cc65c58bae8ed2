using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// Training steps with autograd: forward, the batch-mean loss, backward, then <see cref="TorchAdam"/> (the C# trainer's
/// formula in tensor ops), whose moments are plain tensors that go into the project's checkpoint format.
/// </summary>
public sealed class TorchTrainer : ITrainer, IDisposable
{
    private readonly TorchAdam _adam;

    /// <param name="initial">Starting weights; their architecture (routing iterations included) is the trained network's.</param>
    /// <param name="device">Where the tensors live.</param>
    /// <param name="reconstructionWeight">Weight of the reconstruction loss (<see cref="TorchCapsNet.ReconstructionWeight"/>).</param>
    public TorchTrainer(CapsNetWeights initial, Device device, double reconstructionWeight = TrainingOptions.PaperReconstructionWeight)
    {
        if (TrainingOptions.ReconstructionWeightProblem(reconstructionWeight) is { } problem) throw new ArgumentOutOfRangeException(nameof(reconstructionWeight), problem);
        Model = new TorchCapsNet(initial, device) { ReconstructionWeight = reconstructionWeight };
        _adam = new TorchAdam(Model.Tensors);
    }

    public TorchCapsNet Model { get; }
    public CapsNetArchitecture Architecture => Model.Architecture;
    public Device Device => Model.Device;
    /// <summary>Adam steps taken so far.</summary>
    public long Step { get; set; }

    /// <summary>Images [B][input] in [0,1] (host floats) as a [B][C][S][S] tensor on the device.</summary>
    public Tensor Images(float[] images, int batch) => Images(images, batch, Architecture.InputChannels, Architecture.InputSize, Device);

    public Tensor Labels(int[] labels, int batch) => Labels(labels, batch, Device);

    /// <summary>Images [B][C·S·S] (host floats) as a [B][C][S][S] tensor on <paramref name="device"/>.</summary>
    public static Tensor Images(float[] images, int batch, int channels, int size, Device device)
    {
        using var host = tensor(images.AsSpan(0, batch * channels * size * size).ToArray(), new long[] { batch, channels, size, size });
        return host.to(device);
    }

    /// <summary>Class labels (host ints) as an int64 [B] tensor on <paramref name="device"/>.</summary>
    public static Tensor Labels(int[] labels, int batch, Device device)
    {
        using var host = tensor(labels.AsSpan(0, batch).ToArray().Select(l => (long)l).ToArray(), new long[] { batch });
        return host.to(device);
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
        _adam.Apply(Step, learningRate);
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

    /// <summary>Adam's moments as weight files (PyTorch layout), for checkpoints.</summary>
    public (CapsNetWeights First, CapsNetWeights Second) Moments()
    {
        var m = new CapsNetWeights(Architecture);
        var v = new CapsNetWeights(Architecture);
        var names = Model.Tensors;
        for (int k = 0; k < names.Count; k++)
        {
            TorchCapsNet.CopyOut(_adam.First[k], m[names[k].Name]);
            TorchCapsNet.CopyOut(_adam.Second[k], v[names[k].Name]);
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
            using (var t = tensor(first[names[k].Name], _adam.First[k].shape)) _adam.First[k].copy_(t);
            using (var t = tensor(second[names[k].Name], _adam.Second[k].shape)) _adam.Second[k].copy_(t);
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
        _adam.Dispose();
        Model.Dispose();
    }
}
