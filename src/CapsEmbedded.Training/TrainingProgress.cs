namespace CapsEmbedded.Training;

/// <summary>One line of the per-epoch log (the CSV and the chart). Losses are means per image.</summary>
public readonly record struct EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double TestError, double LearningRate, double Seconds);

/// <summary>What a progress display needs after each step.</summary>
public readonly record struct StepProgress(
    int Epoch, int Epochs, int Position, int EpochImages, long Step, double Loss, double RunningLoss, double RunningAccuracy,
    double ImagesPerSecond, double LearningRate, TimeSpan Remaining);

/// <summary>Receives progress; every method is called on the training thread between steps.</summary>
public class TrainingObserver
{
    public virtual void OnStep(in StepProgress progress) { }
    /// <summary>An epoch ended; <paramref name="history"/> holds every epoch of the run so far, this one last.</summary>
    public virtual void OnEpoch(in EpochMetrics metrics, IReadOnlyList<EpochMetrics> history) { }
    public virtual void OnCheckpoint(string path, long step) { }
    /// <summary>A test evaluation starts (it takes a while on the full test set).</summary>
    public virtual void OnEvaluating(int images) { }
}
