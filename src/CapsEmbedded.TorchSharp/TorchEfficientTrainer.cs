using CapsEmbedded.Training;
using TorchSharp;
using static TorchSharp.torch;
using W = CapsEmbedded.TorchSharp.EfficientWeightsWriter;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// Efficient-CapsNet training steps for <see cref="TrainingLoop"/>: the module in train mode (batch statistics), the
/// batch-mean loss, backward, <see cref="TorchAdam"/>; predictions in eval mode (running statistics). Its checkpoints are
/// <see cref="EfficientCheckpoint"/>s (parameters, batch-norm statistics, Adam's moments, the loop's state).
/// </summary>
public sealed class TorchEfficientTrainer : ITrainer, IDisposable
{
    private readonly TorchAdam _adam;

    /// <param name="seed">Seed of the initialisation (<see cref="TorchEfficientCapsNet.Initialize"/>).</param>
    /// <param name="device">Where the tensors live.</param>
    /// <param name="reconstructionWeight">Weight of the reconstruction loss (<see cref="TorchEfficientCapsNet.ReconstructionWeight"/>).</param>
    public TorchEfficientTrainer(ulong seed, Device device, double reconstructionWeight = TrainingOptions.PaperReconstructionWeight)
    {
        if (TrainingOptions.ReconstructionWeightProblem(reconstructionWeight) is { } problem) throw new ArgumentOutOfRangeException(nameof(reconstructionWeight), problem);
        Model = new TorchEfficientCapsNet(device) { ReconstructionWeight = reconstructionWeight };
        Model.Initialize(seed);
        _adam = new TorchAdam(Model.Parameters);
    }

    public TorchEfficientCapsNet Model { get; }
    public Device Device => Model.Device;
    public long Step { get; set; }

    private static int InputLength => W.InputSize * W.InputSize * W.InputChannels;

    /// <summary>Forward and backward in train mode; the gradients are left in each parameter's <c>.grad</c>.</summary>
    public StepTotals Backward(float[] images, int[] labels, int batch)
    {
        using var scope = NewDisposeScope();
        Model.train();
        foreach (var (_, p) in Model.Parameters) p.grad?.zero_();
        var x = TorchTrainer.Images(images, batch, W.InputChannels, W.InputSize, Device);
        var y = TorchTrainer.Labels(labels, batch, Device);
        var (loss, margin, recon, lengths) = Model.Loss(x, y);
        loss.backward();
        int correct = (int)lengths.argmax(1).eq(y).sum().item<long>();
        return new StepTotals { MarginLoss = margin.item<float>(), ReconstructionLoss = recon.item<float>(), Correct = correct, Samples = batch };
    }

    public StepTotals TrainStep(float[] images, int[] labels, int targets, float[]? reconstructionTargets, int batch, double learningRate)
    {
        if (targets != 1 || reconstructionTargets is not null) throw new NotSupportedException("Efficient-CapsNet trains on single images (one target each)");
        var totals = Backward(images, labels, batch);
        if (!double.IsFinite(totals.MarginLoss) || !double.IsFinite(totals.ReconstructionLoss))
            throw new NonFiniteLossException(Step + 1, totals.MarginLoss, totals.ReconstructionLoss);
        Step++;
        _adam.Apply(Step, learningRate);
        return totals;
    }

    /// <summary>The <paramref name="top"/> longest capsules' classes, in eval mode (running batch-norm statistics).</summary>
    public void Predict(float[] images, int count, int top, int[] predictions)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        Model.eval();
        try
        {
            using var lengths = Model.forward(TorchTrainer.Images(images, count, W.InputChannels, W.InputSize, Device)).cpu();
            var l = lengths.data<float>().ToArray();
            for (int k = 0; k < count; k++)
                CapsNetWorker<float>.TopClasses(l.AsSpan(k * W.Classes, W.Classes), predictions.AsSpan(k * top, top));
        }
        finally
        {
            Model.train();
        }
    }

    /// <summary>The trained parameters and Adam's moments, each flattened and concatenated in the spec's order.</summary>
    public (float[] Parameters, float[] FirstMoment, float[] SecondMoment) ExportState()
    {
        var parameters = Model.Parameters;
        return (Flatten(parameters.Select(p => (Tensor)p.Tensor)), Flatten(_adam.First), Flatten(_adam.Second));
    }

    private static float[] Flatten(IEnumerable<Tensor> tensors) =>
        tensors.SelectMany(t =>
        {
            var values = new float[t.numel()];
            TorchCapsNet.CopyOut(t, values);
            return values;
        }).ToArray();

    /// <summary>The module's tensors and Adam's moments by name (<c>adam.m.NAME</c>, <c>adam.v.NAME</c>): a checkpoint's tensors.</summary>
    public Dictionary<string, float[]> CheckpointTensors()
    {
        var all = Model.ToTensors();
        var parameters = Model.Parameters;
        for (int k = 0; k < parameters.Count; k++)
        {
            foreach (var (prefix, moment) in new[] { ("adam.m.", _adam.First[k]), ("adam.v.", _adam.Second[k]) })
            {
                var values = new float[moment.numel()];
                TorchCapsNet.CopyOut(moment, values);
                all[prefix + parameters[k].Name] = values;
            }
        }
        return all;
    }

    /// <summary>Restores <see cref="CheckpointTensors"/>.</summary>
    public void LoadCheckpointTensors(IReadOnlyDictionary<string, float[]> tensors)
    {
        Model.Load(tensors);
        using var _ = no_grad();
        var parameters = Model.Parameters;
        for (int k = 0; k < parameters.Count; k++)
            foreach (var (prefix, moment) in new[] { ("adam.m.", _adam.First[k]), ("adam.v.", _adam.Second[k]) })
            {
                var values = tensors.TryGetValue(prefix + parameters[k].Name, out var v) ? v : throw new ArgumentException($"tensor {prefix}{parameters[k].Name} is missing");
                using var source = tensor(values, moment.shape);
                moment.copy_(source);
            }
    }

    public void Dispose()
    {
        _adam.Dispose();
        Model.Dispose();
    }
}
