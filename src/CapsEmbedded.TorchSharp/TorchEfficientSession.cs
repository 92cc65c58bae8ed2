using CapsEmbedded.Data;
using CapsEmbedded.Training;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// An Efficient-CapsNet run: <see cref="TrainingLoop"/> (epoch order, the authors' augmentation drawn from the loop's
/// checkpointed generator, the per-epoch schedule, test error, checkpoints, exact resume) over <see cref="TorchEfficientTrainer"/>,
/// its checkpoints <see cref="EfficientCheckpoint"/>s.
/// </summary>
public sealed class TorchEfficientSession : TrainingLoopSession<TorchEfficientTrainer>
{
    private readonly int _trainImages;

    public TorchEfficientSession(TrainingOptions options, LabeledImages train, LabeledImages? test, Device device, EfficientCheckpoint? resume = null)
        : base(NewTrainer(options, train, test, device, resume))
    {
        _trainImages = train.Count;
        Loop = new TrainingLoop(options, Trainer, TrainingSamples.Train(options, train), test is null ? null : TrainingSamples.Test(options, test),
            resume?.State, (path, state) => EfficientCheckpoint.Save(path, Trainer, Options, _trainImages, state));
    }

    // The trainer at the run's start, seeded or with the checkpoint's tensors, once the run's settings are checked.
    private static TorchEfficientTrainer NewTrainer(TrainingOptions options, LabeledImages train, LabeledImages? test, Device device,
        EfficientCheckpoint? resume)
    {
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
        return trainer;
    }
}
