using CapsEmbedded.Data;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// <c>capsnet train</c>'s run loop (<see cref="TrainingLoop"/>, the same as <see cref="TrainingSession"/>'s) driving the
/// TorchSharp trainer: the same epoch order, shifts, learning-rate schedule, per-epoch test error, and checkpoints in the
/// same format (<see cref="TrainingCheckpoint"/>), so a run can be resumed exactly by this tool — or by
/// <c>capsnet train --resume</c>, and the other way round.
/// </summary>
public sealed class TorchTrainingSession : TrainingLoopSession<TorchTrainer>
{
    public TorchTrainingSession(TrainingOptions options, LabeledImages train, LabeledImages? test, Device device,
        TrainingCheckpoint? resume = null, CapsNetWeights? initialWeights = null)
        : base(NewTrainer(options, train, test, device, resume, initialWeights))
    {
        Loop = new TrainingLoop(options, Trainer, train, test, resume?.State);
    }

    /// <summary>The current state as a checkpoint in the C# trainer's format.</summary>
    public TrainingCheckpoint Checkpoint() => Loop.Checkpoint();

    // The trainer at the run's start: seeded, from initialWeights, or the checkpoint's parameters and moments.
    private static TorchTrainer NewTrainer(TrainingOptions options, LabeledImages train, LabeledImages? test, Device device,
        TrainingCheckpoint? resume, CapsNetWeights? initialWeights)
    {
        TrainingLoop.CheckStart(options, train, test, resume, initialWeights);
        var a = options.Architecture;
        var layout = new ParameterLayout(a);
        var initial = resume is not null ? layout.ToWeights<float>(resume.Parameters)
            : initialWeights ?? TrainingInit.Create(a, options.Seed, options.DigitSigma);
        var trainer = new TorchTrainer(initial, device, options.ReconstructionWeight);
        if (resume is not null)
            trainer.LoadMoments(layout.ToWeights<float>(resume.FirstMoment), layout.ToWeights<float>(resume.SecondMoment));
        return trainer;
    }
}
