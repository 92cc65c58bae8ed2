using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Training;

/// <summary>
/// MultiMNIST training (paper §6) on the committed 200-digit MNIST fixture: pairs drawn by the loop, exact resume, the
/// checkpoint's data kind, and <c>capsnet train --data multimnist</c> / <c>capsnet-train</c>.
/// </summary>
public sealed class MultiMnistTrainingTests() : TempDirectoryTest("capsnet-mm-train-tests-")
{
    /// <summary>A tiny network on the 36×36 canvas: conv1 4×3×3 stride 3 → 12×12, primary 2×4D 3×3 stride 2 → 5×5 (50
    /// capsules), 10 classes × 4D, decoder 40 → 8 → 16 → 1,296.</summary>
    private static readonly CapsNetArchitecture Tiny36 = CapsNetArchitecture.Tiny with { InputSize = 36, Conv1Stride = 3, Classes = 10 };

    private static LabeledImages Digits(int first, int count)
    {
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist");
        var images = IdxReader.ReadImages(Path.Combine(fixtures, "t10k-200-images-idx3-ubyte"));
        var labels = IdxReader.ReadLabels(Path.Combine(fixtures, "t10k-200-labels-idx1-ubyte"));
        int length = images.Rows * images.Cols;
        return new LabeledImages(count, images.Rows, images.Cols, images.Pixels.AsSpan(first * length, count * length).ToArray(),
            labels.AsSpan(first, count).ToArray());
    }

    private static TrainingOptions Options(int epochs, string? checkpoint = null) => new()
    {
        Architecture = Tiny36, Data = TrainingDataKind.MultiMnist, MaxShift = 0, Epochs = epochs, Batch = 10, LearningRate = 0.01,
        Threads = 2, Seed = 7, GroupSize = 3, CheckpointPath = checkpoint, CheckpointEverySteps = 4,
    };

    [Fact]
    public void A_training_pair_is_two_digits_of_different_classes_overlaid_with_each_apart_as_its_target()
    {
        var digits = Digits(0, 50);
        var samples = TrainingSamples.Train(Options(1), digits);
        Assert.Equal((50, 2, true), (samples.Count, samples.Targets, samples.HasReconstructionTargets));
        var random = new DeterministicRandom(3);
        var copy = new DeterministicRandom(3);
        const int n = MultiMnistPairs.CanvasLength;
        var image = new float[n];
        var labels = new int[2];
        var targets = new float[2 * n];
        for (int index = 0; index < 20; index++)
        {
            samples.Draw(index, random, image, labels, targets);
            // The same draws as MultiMnistPairs.Draw with the loop's generator: digit index first, a partner of another class.
            var pair = MultiMnistPairs.Draw(digits.Labels, index, copy);
            Assert.Equal(index, pair.First);
            Assert.Equal((digits.Labels[pair.First], digits.Labels[pair.Second]), ((byte)labels[0], (byte)labels[1]));
            Assert.NotEqual(labels[0], labels[1]);
            for (int k = 0; k < n; k++)
                Assert.Equal(Math.Min(Math.Round(255 * targets[k]) + Math.Round(255 * targets[n + k]), 255), Math.Round(255 * image[k]));
        }
        Assert.Equal(copy.GetState(), random.GetState());
    }

    [Fact]
    public void The_test_pairs_are_fixed_by_their_seed_and_each_test_digit_leads_one()
    {
        var digits = Digits(0, 60);
        var a = new MultiMnistTestPairs(digits, 60, TrainingSamples.MultiMnistTestSeed);
        var b = (MultiMnistTestPairs)TrainingSamples.Test(Options(1), digits);
        Assert.Equal(60, b.Count);
        for (int k = 0; k < 60; k++)
        {
            Assert.Equal(a.Pair(k), b.Pair(k));
            Assert.Equal(k, a.Pair(k).First);
        }
        var other = new MultiMnistTestPairs(digits, 60, TrainingSamples.MultiMnistTestSeed + 1);
        Assert.Contains(Enumerable.Range(0, 60), k => other.Pair(k) != a.Pair(k));
    }

    [Fact]
    public void Interrupted_and_resumed_multimnist_run_is_bit_identical_to_an_uninterrupted_one()
    {
        var train = Digits(0, 40);
        var test = Digits(100, 20);
        string straightPath = P("straight.ckpt"), resumedPath = P("resumed.ckpt");
        using var straight = new TrainingSession(Options(3, straightPath), train, test);
        straight.Run();

        // Step 6 is mid-epoch (4 steps per epoch) and not on a checkpoint boundary.
        SessionTests.RunUntilInterrupted(Options(3, resumedPath), train, test, step: 6);
        var checkpoint = TrainingCheckpoint.Load(resumedPath);
        Assert.Equal(TrainingDataKind.MultiMnist, checkpoint.Options.Data);
        Assert.Equal((6L, 1, 20), (checkpoint.State.Step, checkpoint.State.Epoch, checkpoint.State.Position));
        using var resumed = new TrainingSession(checkpoint.Options with { CheckpointPath = resumedPath, CheckpointEverySteps = 4 }, train, test, checkpoint);
        Assert.Equal(TrainingOutcome.Completed, resumed.Run());

        SessionTests.AssertSameEnd(straight, resumed);
        Assert.All(straight.State.History, h => Assert.InRange(h.TestError, 0, 1));
        // The decoder learned from both targets: its output layer moved from the seeded start.
        var start = new float[straight.Trainer.Layout.Count];
        straight.Trainer.Layout.Import(TrainingInit.Create(Tiny36, 7), start.AsSpan());
        var fc3 = straight.Trainer.Layout[CapsNetArchitecture.Fc3Weight];
        Assert.NotEqual(start.AsSpan(fc3.Offset, fc3.Length).ToArray(), straight.Trainer.Parameters.AsSpan(fc3.Offset, fc3.Length).ToArray());
    }

    [Fact]
    public void A_checkpoint_is_resumed_with_its_own_data_only()
    {
        var digits = Digits(0, 20);
        string path = P("pairs.ckpt");
        using (var session = new TrainingSession(Options(1, path) with { Batch = 20, GroupSize = 4 }, digits, null)) session.Run();
        var checkpoint = TrainingCheckpoint.Load(path);
        var asImages = checkpoint.Options with { Data = TrainingDataKind.Images, Architecture = Tiny36 with { InputSize = 28 } };
        var e = Assert.Throws<ArgumentException>(() => TrainingLoop.CheckStart(asImages, digits, null, checkpoint, null));
        Assert.Contains("trained on multimnist", e.Message);
        // The command line says which --data to give.
        e = Assert.Throws<ArgumentException>(() => TrainingCommandLine.Start(asImages with { CheckpointPath = path }, resume: true, null, false, TextWriter.Null));
        Assert.Contains("--data multimnist", e.Message);
    }

    [Fact]
    public void Multimnist_options_refuse_extra_augmentation()
    {
        Assert.Null(Options(1).Validate());
        foreach (var options in new[] { Options(1) with { MaxShift = 2 }, Options(1) with { MaxRotationDegrees = 10 }, Options(1) with { MaxScale = 0.1 } })
            Assert.Contains("MultiMNIST pairs carry their own shifts", options.Validate());
    }

    [Fact]
    public void Both_train_commands_train_the_36x36_network_on_multimnist_and_record_it()
    {
        CopyMnistFixtureAsTrainAndTest();
        string[] common = ["--data", "multimnist", "--data-dir", Dir, "--limit", "4", "--test-limit", "4", "--epochs", "1", "--batch", "4", "--threads", "1"];
        var (code, output, error) = CapsnetTrain([.. common, "--out", P("host.safetensors")]);
        Assert.True(code == 0, error + output);
        Assert.Contains("MultiMNIST pairs", output);
        var weights = CapsNetWeightsFile.Load(P("host.safetensors"));
        Assert.Equal(CapsNetArchitecture.MultiMnist, weights.Architecture);
        Assert.Equal("multimnist", weights.Metadata["training.data"]);
        Assert.Contains("MultiMNIST pairs", weights.Metadata["training.augmentation"]);
        Assert.Equal(TrainingDataKind.MultiMnist, TrainingCheckpoint.Load(P("host.ckpt")).Options.Data);

        (code, output, error) = TrainCommandTests.Train([.. common, "--arch", "multimnist", "--group", "4", "--plain", "--out", P("cli.safetensors")]);
        Assert.True(code == 0, error + output);
        // The same flags give the same bits in both tools.
        var cli = CapsNetWeightsFile.Load(P("cli.safetensors"));
        foreach (var spec in CapsNetArchitecture.MultiMnist.Tensors) Assert.Equal(weights[spec.Name], cli[spec.Name]);

        (code, _, error) = CapsnetTrain([.. common, "--rotate", "5", "--out", P("rotated.safetensors")]);
        Assert.Equal(1, code);
        Assert.Contains("MultiMNIST pairs carry their own shifts", error);
        (code, _, error) = CapsnetTrain([.. common, "--arch", "paper", "--out", P("paper.safetensors")]);
        Assert.Equal(1, code);
        Assert.Contains("--data multimnist trains the multimnist network", error);
        // Resuming the MultiMNIST checkpoint on single digits is refused, naming the data to give.
        (code, _, error) = CapsnetTrain(["--data", "mnist", "--data-dir", Dir, "--limit", "4", "--epochs", "2", "--batch", "4", "--threads", "1",
            "--out", P("host.safetensors"), "--resume"]);
        Assert.Equal(1, code);
        Assert.Contains("--data multimnist", error);
    }
}
