namespace CapsEmbedded.Training;

/// <summary>
/// Exponential decay, as the authors' code: lr(step) = lr0 · decay^(step / period), continuous (not stepped), where the
/// period is 2000 steps at batch 128 and scales with 128/batch so that the decay follows images seen, not steps:
/// at batch 100 the period is 2560 steps. decay = 1 turns it off. <paramref name="PerEpoch"/> instead steps it once an
/// epoch, never below <paramref name="Minimum"/>: lr0 · decay^epoch (the Efficient-CapsNet authors' Keras scheduler,
/// utils/tools.py: 0.97 an epoch, floor 5e-5).
/// </summary>
public sealed record LearningRateSchedule(double Initial = 1e-3, double Decay = 0.96, double PeriodImages = 2000 * 128,
    bool PerEpoch = false, double Minimum = 0)
{
    /// <summary>The rate of a continuous schedule at <paramref name="step"/> (<see cref="PerEpoch"/>: of the first epoch).</summary>
    public double At(long step, int batch) => At(step, batch, 0);

    /// <summary>The rate at <paramref name="step"/> of <paramref name="epoch"/> (0-based).</summary>
    public double At(long step, int batch, int epoch) => PerEpoch
        ? Math.Max(Minimum, Initial * Math.Pow(Decay, epoch))
        : Initial * Math.Pow(Decay, step * (double)batch / PeriodImages);

    /// <summary>Steps per decay period at this batch size.</summary>
    public double PeriodSteps(int batch) => PeriodImages / batch;
}
