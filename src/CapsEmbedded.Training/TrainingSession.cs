using CapsEmbedded.Data;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Training;

/// <summary>
/// A training run of the C# trainer over a data set: <see cref="TrainingLoop"/> (epochs of shuffled batches with random
/// shifts, Adam with exponential decay, a test evaluation per epoch, checkpoints, exact resume) driving a
/// <see cref="CapsNetTrainer{T}"/> in float; the maths is <see cref="CapsNetWorker{T}"/>, the same code the gradient checks
/// run in double.
/// </summary>
/// <remarks>
/// The batch is split over a fixed number of threads and reduced in thread order, so the same seed, data and thread count
/// give the same bits, whether or not the run was interrupted and resumed.
/// </remarks>
public sealed class TrainingSession : TrainingLoopSession<CapsNetTrainer<float>>
{
    /// <param name="options">The run's settings.</param>
    /// <param name="train">Training images and labels (MultiMNIST: the digits its pairs are drawn from, <see cref="TrainingSamples"/>).</param>
    /// <param name="test">Test set evaluated after each epoch (MultiMNIST: the digits of its fixed test pairs), or null.</param>
    /// <param name="resume">A checkpoint to continue exactly, or null.</param>
    /// <param name="initialWeights">Start from these weights instead of the seeded initialisation (fresh Adam moments,
    /// step 0); not with <paramref name="resume"/>.</param>
    public TrainingSession(TrainingOptions options, LabeledImages train, LabeledImages? test, TrainingCheckpoint? resume = null,
        CapsNetWeights? initialWeights = null)
        : base(NewTrainer(options, train, test, resume, initialWeights))
    {
        Loop = new TrainingLoop(options, new FloatTrainer(Trainer), train, test, resume?.State);
    }

    /// <inheritdoc cref="TrainingLoop.Checkpoint"/>
    public TrainingCheckpoint Checkpoint() => Loop.Checkpoint();

    // The trainer at the run's start: seeded, from initialWeights, or the checkpoint's parameters and moments.
    private static CapsNetTrainer<float> NewTrainer(TrainingOptions options, LabeledImages train, LabeledImages? test,
        TrainingCheckpoint? resume, CapsNetWeights? initialWeights)
    {
        TrainingLoop.CheckStart(options, train, test, resume, initialWeights);
        var a = options.Architecture;
        var initial = resume is not null ? new CapsNetWeights(a)
            : initialWeights ?? TrainingInit.Create(a, options.Seed, options.DigitSigma);
        var trainer = new CapsNetTrainer<float>(initial, options.Threads, options.GroupSize, options.ReconstructionWeight, options.Targets);
        if (resume is not null)
        {
            resume.Parameters.CopyTo(trainer.Parameters, 0);
            resume.FirstMoment.CopyTo(trainer.Optimizer.FirstMoment, 0);
            resume.SecondMoment.CopyTo(trainer.Optimizer.SecondMoment, 0);
        }
        return trainer;
    }

    /// <summary><see cref="CapsNetTrainer{T}"/> in float as the loop's trainer (a generic class cannot implement the
    /// interface for one T only).</summary>
    private sealed class FloatTrainer(CapsNetTrainer<float> trainer) : ITrainer
    {
        public long Step { get => trainer.Step; set => trainer.Step = value; }
        public StepTotals TrainStep(float[] images, int[] labels, int targets, float[]? reconstructionTargets, int batch, double learningRate) =>
            trainer.TrainStep(images, labels, targets, reconstructionTargets, batch, learningRate);
        public void Predict(float[] images, int count, int top, int[] predictions) => trainer.Predict(images, count, top, predictions);
        public (float[] Parameters, float[] FirstMoment, float[] SecondMoment) ExportState() =>
            ((float[])trainer.Parameters.Clone(), (float[])trainer.Optimizer.FirstMoment.Clone(), (float[])trainer.Optimizer.SecondMoment.Clone());
    }
}
