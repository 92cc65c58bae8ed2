using CapsEmbedded.Training;

namespace CapsEmbedded.TestSupport;

/// <summary>Cancels a training run (as Ctrl+C does) once step <paramref name="step"/> is done: the resume tests' interruption.</summary>
internal sealed class StopAtStep(long step, CancellationTokenSource cancel) : TrainingObserver
{
    public override void OnStep(in StepProgress progress)
    {
        if (progress.Step == step) cancel.Cancel();
    }
}
