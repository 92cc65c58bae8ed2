using CapsEmbedded.Cli.Figures;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Training;

/// <summary>
/// Issue 34, row 1: a checkpoint whose history claimed an accuracy of 10^9 (or whose epoch_correct was 999,999,999) made
/// a resumed run's chart draw a line billions of pixels long, for ever. The history is range-checked on read, and the
/// charts stay bounded for any finite value. Each test failed before its fix.
/// </summary>
public sealed class CheckpointHistoryTests() : TempDirectoryTest("capsnet-history-")
{
    private static TrainingCheckpoint Checkpoint(IReadOnlyList<EpochMetrics> history, int epochCorrect = 0, int position = 0)
    {
        var arch = CapsNetArchitecture.Tiny;
        int n = new ParameterLayout(arch).Count;
        return new TrainingCheckpoint
        {
            Options = new TrainingOptions { Architecture = arch, Batch = 10, Threads = 1, Epochs = 3 },
            TrainImages = 20,
            State = new TrainingState { Epoch = 1, Position = position, Step = 2 + position / 10, Random = (1, 2, 3, 4), EpochCorrect = epochCorrect, History = history },
            Parameters = new float[n], FirstMoment = new float[n], SecondMoment = new float[n],
        };
    }

    [Fact]
    public void A_checkpoint_with_an_impossible_history_or_count_is_refused_naming_the_key()
    {
        Checkpoint([new EpochMetrics(1, 0.76, 0.88, 0.02, 0.001, 4.8)], epochCorrect: 9, position: 10).Save(P("ok.ckpt"));
        Assert.Equal(0.88, TrainingCheckpoint.Load(P("ok.ckpt")).State.History[0].TrainAccuracy);

        Checkpoint([new EpochMetrics(1, 0.76, 1_000_000_000, 0.88, 0.001, 4.8)]).Save(P("accuracy.ckpt"));
        Assert.Contains("trainer.history", Assert.Throws<WeightFormatException>(() => TrainingCheckpoint.Load(P("accuracy.ckpt"))).Message);
        Checkpoint([new EpochMetrics(1, 1e300, 0.5, 0.1, 0.001, 4.8), new EpochMetrics(1, 0.1, 0.5, 0.1, 0.001, 4.8)]).Save(P("twice.ckpt"));
        Assert.Contains("trainer.history", Assert.Throws<WeightFormatException>(() => TrainingCheckpoint.Load(P("twice.ckpt"))).Message);
        Checkpoint([], epochCorrect: 999_999_999, position: 10).Save(P("correct.ckpt"));
        Assert.Contains("trainer.epoch_correct", Assert.Throws<WeightFormatException>(() => TrainingCheckpoint.Load(P("correct.ckpt"))).Message);

        // As the probe ran it: resuming the forged file is one line naming the key, not a run that hangs in its chart.
        var result = Capsnet("train", "--arch", "tiny", "--data", P("nowhere"), "--epochs", "3", "--plain", "--out", P("r.safetensors"),
            "--checkpoint", P("accuracy.ckpt"), "--resume");
        AssertOneLineError(result, "trainer.history");
    }

    [Fact]
    public async Task Training_charts_draw_any_finite_values_in_bounded_time()
    {
        EpochMetrics[] history =
        [
            new(1, 1e308, 1e9, -1e300, 1e-300, 0), new(2, 0, -1e9, 1e300, 0, 0), new(3, double.MaxValue, double.MinValue, double.MaxValue, 1, 1),
            new(int.MaxValue, 1, 0.5, double.NaN, 0, 0),
        ];
        var drawing = Task.Run(() =>
        {
            var raster = new Raster(50, 40);
            raster.Line(10, 10, int.MaxValue, int.MinValue, Rgb.Red, 2);
            raster.Line(int.MinValue, int.MinValue, int.MaxValue, int.MaxValue, Rgb.Blue, 3);
            raster.Line(-5, 20, 60, 20, Rgb.Green); // crosses the canvas: drawn where it is on it
            Assert.Equal(Rgb.Green, raster[0, 20]);
            Assert.Equal(Rgb.Green, raster[49, 20]);
            Assert.Equal(Rgb.Blue, raster[30, 30]);
            FigureRenderer.TrainingCurve(history, "FORGED");
            FigureRenderer.TrainingCurve(history[..1], "ONE");
            return SvgChart.Render(history, "forged");
        });
        string svg = await drawing.WaitAsync(TimeSpan.FromSeconds(30)); // before: > 300 s at 100% CPU, here a TimeoutException
        Assert.True(svg.Length < 20_000, $"{svg.Length} characters of SVG");
    }
}
