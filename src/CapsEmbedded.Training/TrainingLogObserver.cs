namespace CapsEmbedded.Training;

/// <summary>
/// A run's plain report, as <c>capsnet train --plain</c> and <c>capsnet-train</c> print and write it: a progress line at
/// most every 10 s and at each epoch's end; after each epoch the CSV log, the SVG chart, the epoch's weights when
/// <see cref="EpochWeights"/> is set (<c>--save-epochs</c>) and the epoch line. A null path writes no CSV or chart (an
/// <c>--out</c> that is not a regular file gets no side files).
/// </summary>
public class TrainingLogObserver(string? csvPath, string? svgPath, string title, TextWriter output) : TrainingObserver
{
    private DateTime _lastLine = DateTime.MinValue;

    /// <summary>Writes epoch N's weights (<c>--save-epochs</c>), or null.</summary>
    public Action<int>? EpochWeights { get; set; }

    /// <summary>The chart's path and the data set's name in its title, for a subclass that draws more.</summary>
    protected string? SvgPath => svgPath;
    protected string Title => title;

    public override void OnStep(in StepProgress p)
    {
        if (DateTime.UtcNow - _lastLine < TimeSpan.FromSeconds(10) && p.Position != p.EpochImages) return;
        _lastLine = DateTime.UtcNow;
        output.WriteLine(FormattableString.Invariant(
            $"epoch {p.Epoch}/{p.Epochs}  step {p.Step}  loss {p.RunningLoss:F4}  acc {100 * p.RunningAccuracy:F1}%  {p.ImagesPerSecond:F1} img/s  lr {p.LearningRate:G3}  ETA {TrainingCommandLine.Eta(p.Remaining)}  [{p.Position}/{p.EpochImages}]"));
    }

    public override void OnEpoch(in EpochMetrics m, IReadOnlyList<EpochMetrics> history)
    {
        if (csvPath is not null) TrainingLog.Write(csvPath, history);
        if (svgPath is not null) SvgChart.Write(svgPath, history, $"CapsNet training on {title}");
        EpochWeights?.Invoke(m.Epoch);
        WriteEpochLine(TrainingCommandLine.EpochLine(m));
    }

    /// <summary>The epoch's summary line: printed here; a live display shows it in its own way.</summary>
    protected virtual void WriteEpochLine(string line) => output.WriteLine(line);
}
