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
public sealed class TorchTrainingSession : IDisposable
{
    private readonly TrainingLoop _loop;

    public TorchTrainingSession(TrainingOptions options, LabeledImages train, LabeledImages? test, Device device,
        TrainingCheckpoint? resume = null, CapsNetWeights? initialWeights = null)
    {
        TrainingLoop.CheckStart(options, train, test, resume, initialWeights);
        var a = options.Architecture;
        var layout = new ParameterLayout(a);
        var initial = resume is not null ? layout.ToWeights<float>(resume.Parameters)
            : initialWeights ?? TrainingInit.Create(a, options.Seed, options.DigitSigma);
        Trainer = new TorchTrainer(initial, device, options.ReconstructionWeight);
        if (resume is not null)
            Trainer.LoadMoments(layout.ToWeights<float>(resume.FirstMoment), layout.ToWeights<float>(resume.SecondMoment));
        _loop = new TrainingLoop(options, Trainer, train, test, resume?.State);
    }

    public TrainingOptions Options => _loop.Options;
    public TorchTrainer Trainer { get; }
    public TrainingState State => _loop.State;

    /// <inheritdoc cref="TrainingLoop.Run"/>
    public TrainingOutcome Run(TrainingObserver? observer = null, CancellationToken cancel = default) => _loop.Run(observer, cancel);

    /// <inheritdoc cref="TrainingLoop.TestError"/>
    public double TestError() => _loop.TestError();

    /// <summary>The current state as a checkpoint in the C# trainer's format.</summary>
    public TrainingCheckpoint Checkpoint() => _loop.Checkpoint();

    public void Dispose() => Trainer.Dispose();
}
