using CapsEmbedded.Data;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Training;

/// <summary>Whole runs on the tiny architecture with synthetic 10×10 images of three shapes.</summary>
public sealed class SessionTests() : TempDirectoryTest("capsnet-train-tests-")
{
    /// <summary>Class 0: a horizontal bar, 1: a vertical bar, 2: a box; at random places, with noise.</summary>
    internal static LabeledImages Shapes(int count, ulong seed)
    {
        const int size = 10;
        var random = new DeterministicRandom(seed);
        var pixels = new byte[count * size * size];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            int label = i % 3;
            labels[i] = (byte)label;
            var image = pixels.AsSpan(i * size * size, size * size);
            for (int k = 0; k < image.Length; k++) image[k] = (byte)random.NextInt(40);
            int y0 = 2 + random.NextInt(5), x0 = 2 + random.NextInt(5);
            for (int t = -2; t <= 2; t++)
                switch (label)
                {
                    case 0: image[y0 * size + x0 + t] = 255; break;
                    case 1: image[(y0 + t) * size + x0] = 255; break;
                    default:
                        image[(y0 - 2) * size + x0 + t] = image[(y0 + 2) * size + x0 + t] = 255;
                        image[(y0 + t) * size + x0 - 2] = image[(y0 + t) * size + x0 + 2] = 255;
                        break;
                }
        }
        return new LabeledImages(count, size, size, pixels, labels);
    }

    private TrainingOptions Options(int epochs, string? checkpoint = null, bool affine = false) => new()
    {
        Architecture = CapsNetArchitecture.Tiny, Epochs = epochs, Batch = 10, LearningRate = 0.01, Threads = 2,
        Seed = 7, MaxShift = 1, GroupSize = 3, CheckpointPath = checkpoint, CheckpointEverySteps = 4,
        MaxRotationDegrees = affine ? 15 : 0, MaxScale = affine ? 0.1 : 0,
    };

    [Fact]
    public void Loss_falls_and_the_shapes_are_learned()
    {
        using var session = new TrainingSession(Options(12), Shapes(90, 1), Shapes(30, 2));
        Assert.Equal(TrainingOutcome.Completed, session.Run());
        var history = session.State.History;
        Assert.Equal(12, history.Count);
        Assert.True(history[^1].TrainLoss < 0.5 * history[0].TrainLoss,
            $"loss {history[0].TrainLoss:F4} → {history[^1].TrainLoss:F4}");
        Assert.True(history[^1].TestError < 0.34, $"test error {history[^1].TestError:P1}");
        Assert.Equal(12 * 9, session.State.Step);
    }

    /// <summary>A run on <paramref name="options"/> stopped (as Ctrl+C stops it) once step <paramref name="step"/> is done.</summary>
    internal static void RunUntilInterrupted(TrainingOptions options, LabeledImages train, LabeledImages? test, long step)
    {
        using var cancel = new CancellationTokenSource();
        using var session = new TrainingSession(options, train, test);
        Assert.Equal(TrainingOutcome.Interrupted, session.Run(new StopAtStep(step, cancel), cancel.Token));
    }

    /// <summary>A resumed run ends bit for bit where the uninterrupted one did: parameters, Adam's moments, step, random state, history.</summary>
    internal static void AssertSameEnd(TrainingSession straight, TrainingSession resumed)
    {
        Assert.Equal(straight.Trainer.Parameters, resumed.Trainer.Parameters);
        Assert.Equal(straight.Trainer.Optimizer.FirstMoment, resumed.Trainer.Optimizer.FirstMoment);
        Assert.Equal(straight.Trainer.Optimizer.SecondMoment, resumed.Trainer.Optimizer.SecondMoment);
        Assert.Equal(straight.State.Step, resumed.State.Step);
        Assert.Equal(straight.State.Random, resumed.State.Random);
        Assert.Equal(straight.State.History.Select(h => (h.Epoch, h.TrainLoss, h.TrainAccuracy, h.TestError, h.LearningRate)),
            resumed.State.History.Select(h => (h.Epoch, h.TrainLoss, h.TrainAccuracy, h.TestError, h.LearningRate)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // --rotate and --scale: their draws are part of the saved random state
    public void Interrupted_and_resumed_run_is_bit_identical_to_an_uninterrupted_one(bool affine)
    {
        var train = Shapes(45, 3);
        var test = Shapes(12, 4);
        string straightPath = P("straight.ckpt"), resumedPath = P("resumed.ckpt");
        using var straight = new TrainingSession(Options(3, straightPath, affine), train, test);
        straight.Run();

        // Step 7 is mid-epoch (5 steps per epoch) and not on a checkpoint boundary.
        RunUntilInterrupted(Options(3, resumedPath, affine), train, test, step: 7);
        var checkpoint = TrainingCheckpoint.Load(resumedPath);
        Assert.Equal(affine ? (15.0, 0.1) : (0.0, 0.0), (checkpoint.Options.MaxRotationDegrees, checkpoint.Options.MaxScale));
        Assert.Equal(7, checkpoint.State.Step);
        Assert.Equal(1, checkpoint.State.Epoch);
        Assert.Equal(20, checkpoint.State.Position);
        using var resumed = new TrainingSession(checkpoint.Options with { CheckpointPath = resumedPath, CheckpointEverySteps = 4 }, train, test, checkpoint);
        Assert.Equal(TrainingOutcome.Completed, resumed.Run());

        AssertSameEnd(straight, resumed);
        // The final checkpoints hold the same tensors too.
        var a = TrainingCheckpoint.Load(straightPath);
        var b = TrainingCheckpoint.Load(resumedPath);
        Assert.Equal(a.Parameters, b.Parameters);
    }

    /// <summary>The parameters after a run on <paramref name="options"/> over 30 shapes (seed 5), without a test set.</summary>
    private static float[] TrainedParameters(TrainingOptions options)
    {
        using var session = new TrainingSession(options, Shapes(30, 5), null);
        session.Run();
        return session.Trainer.Parameters.ToArray();
    }

    [Fact]
    public void Rotation_and_scaling_change_what_is_trained() =>
        Assert.NotEqual(TrainedParameters(Options(1)), TrainedParameters(Options(1, affine: true)));

    [Fact]
    public void Same_seed_and_threads_give_the_same_bits() =>
        Assert.Equal(TrainedParameters(Options(1)), TrainedParameters(Options(1)));

    [Fact]
    public void Non_finite_loss_stops_with_a_clear_message_and_the_checkpoint_intact()
    {
        var train = Shapes(30, 6);
        string path = P("nan.ckpt");
        using (var session = new TrainingSession(Options(1, path), train, null)) session.Run();
        byte[] good = File.ReadAllBytes(path);
        var checkpoint = TrainingCheckpoint.Load(path);
        using var resumed = new TrainingSession(checkpoint.Options with { Epochs = 2, CheckpointPath = path, CheckpointEverySteps = 1 }, train, null, checkpoint);
        var fc3Bias = resumed.Trainer.Layout[CapsNetArchitecture.Fc3Bias];
        resumed.Trainer.Parameters[fc3Bias.Offset] = float.NaN;
        var e = Assert.Throws<TrainingDivergedException>(() => resumed.Run());
        Assert.Contains("NaN", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Contains("step 4", e.Message);
        Assert.Equal(good, File.ReadAllBytes(path));
        Assert.Equal(3, TrainingCheckpoint.Load(path).State.Step);
        Assert.Empty(Directory.GetFiles(Dir, "*.tmp"));
    }

    [Fact]
    public void Checkpoint_load_rejects_bad_files_with_the_file_named()
    {
        string weightsPath = P("plain.safetensors");
        CapsNetWeightsFile.Save(TrainingInit.Create(CapsNetArchitecture.Tiny, 1), weightsPath);
        var e = Assert.Throws<WeightFormatException>(() => TrainingCheckpoint.Load(weightsPath));
        Assert.Contains("not a capsnet training checkpoint", e.Message);
        Assert.Contains(weightsPath, e.Message);

        string path = P("cut.ckpt");
        using (var session = new TrainingSession(Options(1, path), Shapes(10, 7), null)) session.Run();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length - 100).ToArray());
        Assert.Throws<WeightFormatException>(() => TrainingCheckpoint.Load(path));
    }

    [Fact]
    public void Csv_and_svg_reports_are_written()
    {
        var history = new[] { new EpochMetrics(1, 0.5, 0.8, 0.1, 1e-3, 10), new EpochMetrics(2, 0.3, 0.9, double.NaN, 9e-4, 11) };
        string csv = TrainingLog.ToCsv(history);
        Assert.Equal(TrainingLog.Header + "\n1,0.5,0.8,0.1,0.001,10.0\n2,0.3,0.9,,0.0009,11.0\n", csv);
        string svg = SvgChart.Render(history, "a <test>");
        Assert.StartsWith("<svg", svg);
        Assert.Contains("a &lt;test&gt;", svg);
        Assert.Contains("<polyline", svg);
        System.Xml.Linq.XDocument.Parse(svg); // well-formed XML
    }

    [Fact]
    public void Learning_rate_decay_follows_images_seen()
    {
        var schedule = new LearningRateSchedule(1e-3, 0.96);
        Assert.Equal(1e-3, schedule.At(0, 100), 15);
        Assert.Equal(0.96e-3, schedule.At(2000, 128), 15);
        Assert.Equal(0.96e-3, schedule.At(2560, 100), 15);
        Assert.Equal(2560, schedule.PeriodSteps(100), 9);
    }
}

/// <summary>Allocation counts are process-wide: keep other tests from running at the same time.</summary>
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>A training step after the first allocates nothing on the heap (all buffers are made once).</summary>
[Collection(nameof(AllocationTests))]
public class AllocationTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)] // dA1 by MaskedInputGradient, forced (limit 1) whatever the random start's share of positive outputs
    public void Train_step_does_not_allocate_after_warm_up(bool masked)
    {
        var arch = CapsNetArchitecture.Tiny;
        using var trainer = new CapsNetTrainer<float>(TrainingInit.Create(arch, 1), threads: 2, groupSize: 3);
        trainer.MaskedLiveShareLimit = masked ? 1 : 0;
        var random = new DeterministicRandom(2);
        var images = new float[10 * arch.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = (float)random.NextDouble();
        var labels = new int[10];
        for (int k = 0; k < labels.Length; k++) labels[k] = k % 3;
        // Past tiered compilation (call counting, tier-1 code installed after a delay) before measuring: two warm-up
        // steps alone left 56 KB to the measured steps in one fresh-clone CI run.
        for (int s = 0; s < 40; s++) trainer.TrainStep(images, labels, 10, 1e-3);
        Thread.Sleep(500);
        for (int s = 0; s < 5; s++) trainer.TrainStep(images, labels, 10, 1e-3);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int s = 0; s < 5; s++) trainer.TrainStep(images, labels, 10, 1e-3);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        // The test runner itself may allocate a little meanwhile; one tiny-network buffer is already ~10 KB.
        Assert.True(allocated < 4096, $"{allocated} bytes allocated in 5 steps");
        Assert.Equal(masked, trainer.MaskedGroups > 0);
    }

    /// <summary>MultiMNIST's step: two labels and two reconstruction targets an image, the decoder over twice the rows.</summary>
    [Fact]
    public void Two_target_train_step_does_not_allocate_after_warm_up()
    {
        var arch = CapsNetArchitecture.Tiny;
        using var trainer = new CapsNetTrainer<float>(TrainingInit.Create(arch, 1), threads: 2, groupSize: 3, targets: 2);
        var random = new DeterministicRandom(3);
        var images = new float[10 * arch.InputLength];
        var targets = new float[2 * images.Length];
        for (int k = 0; k < images.Length; k++) images[k] = (float)random.NextDouble();
        for (int k = 0; k < targets.Length; k++) targets[k] = (float)random.NextDouble();
        var labels = new int[20];
        for (int k = 0; k < 10; k++) (labels[2 * k], labels[2 * k + 1]) = (k % 3, (k + 1) % 3);
        for (int s = 0; s < 40; s++) trainer.TrainStep(images, labels, 2, targets, 10, 1e-3);
        Thread.Sleep(500);
        for (int s = 0; s < 5; s++) trainer.TrainStep(images, labels, 2, targets, 10, 1e-3);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int s = 0; s < 5; s++) trainer.TrainStep(images, labels, 2, targets, 10, 1e-3);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(allocated < 4096, $"{allocated} bytes allocated in 5 steps");
    }
}
