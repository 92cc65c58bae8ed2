namespace CapsEmbedded.Training;

/// <summary>
/// Exponential decay, as the authors' code: lr(step) = lr0 · decay^(step / period), continuous (not stepped), where the
/// period is 2000 steps at batch 128 and scales with 128/batch so that the decay follows images seen, not steps:
/// at batch 100 the period is 2560 steps. decay = 1 turns it off.
/// </summary>
public sealed record LearningRateSchedule(double Initial = 1e-3, double Decay = 0.96, double PeriodImages = 2000 * 128)
{
    public double At(long step, int batch) => Initial * Math.Pow(Decay, step * (double)batch / PeriodImages);

    /// <summary>Steps per decay period at this batch size.</summary>
    public double PeriodSteps(int batch) => PeriodImages / batch;
}
