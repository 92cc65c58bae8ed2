using CapsEmbedded.Data;
using CapsEmbedded.Training;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// An Efficient-CapsNet run: <see cref="TrainingLoop"/> (epoch order, the authors' augmentation drawn from the loop's
/// checkpointed generator, the per-epoch schedule, test error, checkpoints, exact resume) over <see cref="TorchEfficientTrainer"/>,
/// its checkpoints <see cref="EfficientCheckpoint"/>s. It starts from the seed, a checkpoint (<c>--resume</c>: weights,
/// Adam and the loop's state) or a weight file's tensors (<c>--init-from</c>: weights and batch-norm statistics, Adam and
/// the schedule afresh).
/// </summary>
public sealed class TorchEfficientSession : TrainingLoopSession<TorchEfficientTrainer>
{
    private readonly int _trainImages;

    public TorchEfficientSession(TrainingOptions options, LabeledImages train, LabeledImages? test, Device device, EfficientCheckpoint? resume = null,
        IReadOnlyDictionary<string, float[]>? initial = null)
        : base(NewTrainer(options, train, test, device, resume, initial))
    {
        _trainImages = train.Count;
        Loop = new TrainingLoop(options, Trainer, TrainingSamples.Train(options, train), test is null ? null : TrainingSamples.Test(options, test),
            resume?.State, (path, state) => EfficientCheckpoint.Save(path, Trainer, Options, _trainImages, state));
    }

    // The trainer at the run's start, seeded, with the checkpoint's tensors or the weight file's, once the run's settings are checked.
    private static TorchEfficientTrainer NewTrainer(TrainingOptions options, LabeledImages train, LabeledImages? test, Device device,
        EfficientCheckpoint? resume, IReadOnlyDictionary<string, float[]>? initial)
    {
        if (resume is not null && initial is not null) throw new ArgumentException("a run starts from a checkpoint or from a weight file, not both");
        if (options.Data != TrainingDataKind.EfficientImages)
            throw new ArgumentException($"an Efficient-CapsNet run's data kind is {TrainingSamples.Name(TrainingDataKind.EfficientImages)}, not {TrainingSamples.Name(options.Data)}");
        if (resume is not null && resume.TrainImages != train.Count)
            throw new ArgumentException($"the checkpoint was trained on {resume.TrainImages} images, this data has {train.Count} (use the same --data and --limit)");
        if (resume is not null && resume.Options.ReconstructionWeight != options.ReconstructionWeight)
            throw new ArgumentException(FormattableString.Invariant(
                $"the checkpoint was trained with reconstruction weight {resume.Options.ReconstructionWeight}, not {options.ReconstructionWeight}"));
        TrainingLoop.CheckStart(options, train, test, null, null);
        var trainer = new TorchEfficientTrainer(options.Seed, device, options.ReconstructionWeight);
        if (resume is not null) trainer.LoadCheckpointTensors(resume.Tensors);
        if (initial is not null) trainer.Model.Load(initial); // Adam's moments stay zero, the step 0
        return trainer;
    }
}
