namespace CapsEmbedded.Training;

/// <summary>
/// What every training session is: one <see cref="TrainingLoop"/> driving one trainer that the session owns (the C#
/// trainer's <see cref="TrainingSession"/>, capsnet-torch's libtorch sessions), the loop's members forwarded.
/// </summary>
/// <typeparam name="TTrainer">The trainer the loop drives, disposed with the session.</typeparam>
public abstract class TrainingLoopSession<TTrainer> : IDisposable where TTrainer : IDisposable
{
    /// <param name="trainer">The trainer, owned by the session from here on.</param>
    protected TrainingLoopSession(TTrainer trainer) => Trainer = trainer;

    /// <summary>The loop over <see cref="Trainer"/>: set once, by the derived session's constructor.</summary>
    protected TrainingLoop Loop { get; init; } = null!;

    public TTrainer Trainer { get; }
    public TrainingOptions Options => Loop.Options;
    public TrainingState State => Loop.State;

    /// <inheritdoc cref="TrainingLoop.Run"/>
    public TrainingOutcome Run(TrainingObserver? observer = null, CancellationToken cancel = default) => Loop.Run(observer, cancel);

    /// <inheritdoc cref="TrainingLoop.TestError"/>
    public double TestError() => Loop.TestError();

    public void Dispose() => Trainer.Dispose();
}
