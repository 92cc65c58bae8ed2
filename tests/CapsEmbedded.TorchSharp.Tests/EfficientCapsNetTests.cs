using CapsEmbedded.Data;
using CapsEmbedded.IO;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp.Tests;

/// <summary>capsnet-torch's Efficient-CapsNet: the module against the spec (docs/TORCHSHARP.md), its maths on hand-computed cases,
/// a training step, exact resume, and the weight file's header.</summary>
public class EfficientCapsNetTests
{
    /// <summary>The spec's tensor table (docs/TORCHSHARP.md), written out here independently of the code.</summary>
    private static readonly (string Name, long[] Shape)[] SpecTable =
    [
        ("stem.0.conv.weight", [32, 1, 5, 5]), ("stem.0.conv.bias", [32]),
        ("stem.0.bn.weight", [32]), ("stem.0.bn.bias", [32]), ("stem.0.bn.running_mean", [32]), ("stem.0.bn.running_var", [32]),
        ("stem.1.conv.weight", [64, 32, 3, 3]), ("stem.1.conv.bias", [64]),
        ("stem.1.bn.weight", [64]), ("stem.1.bn.bias", [64]), ("stem.1.bn.running_mean", [64]), ("stem.1.bn.running_var", [64]),
        ("stem.2.conv.weight", [64, 64, 3, 3]), ("stem.2.conv.bias", [64]),
        ("stem.2.bn.weight", [64]), ("stem.2.bn.bias", [64]), ("stem.2.bn.running_mean", [64]), ("stem.2.bn.running_var", [64]),
        ("stem.3.conv.weight", [128, 64, 3, 3]), ("stem.3.conv.bias", [128]),
        ("stem.3.bn.weight", [128]), ("stem.3.bn.bias", [128]), ("stem.3.bn.running_mean", [128]), ("stem.3.bn.running_var", [128]),
        ("primary_caps.weight", [128, 1, 9, 9]), ("primary_caps.bias", [128]),
        ("digit_caps.weight", [10, 16, 8, 16]), ("digit_caps.bias", [10, 16]),
        ("decoder.fc1.weight", [512, 160]), ("decoder.fc1.bias", [512]),
        ("decoder.fc2.weight", [1024, 512]), ("decoder.fc2.bias", [1024]),
        ("decoder.fc3.weight", [784, 1024]), ("decoder.fc3.bias", [784]),
    ];

    private static LabeledImages Fixture(int count)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        var images = IdxReader.ReadImages(Path.Combine(dir, "t10k-200-images-idx3-ubyte"));
        var labels = IdxReader.ReadLabels(Path.Combine(dir, "t10k-200-labels-idx1-ubyte"));
        return new LabeledImages(count, 28, 28, images.Pixels.AsSpan(0, count * 784).ToArray(), labels.AsSpan(0, count).ToArray());
    }

    private static float[] Input(LabeledImages set, int count) => set.Pixels.AsSpan(0, count * 784).ToArray().Select(b => b / 255f).ToArray();

    [Fact]
    public void Module_tensors_are_the_spec_table_without_batch_norm_counters()
    {
        using var model = new TorchEfficientCapsNet(CPU);
        var parameters = model.named_parameters().Select(p => (p.name, p.parameter.shape)).ToList();
        var buffers = model.named_buffers().Select(b => (b.name, b.buffer.shape)).ToList();
        var all = parameters.Concat(buffers).ToDictionary(t => t.name, t => t.shape);
        Assert.Equal(SpecTable.Select(t => t.Name).Order(), all.Keys.Order());
        foreach (var (name, shape) in SpecTable) Assert.True(shape.SequenceEqual(all[name]), $"{name}: [{string.Join(",", all[name])}], spec [{string.Join(",", shape)}]");
        // No num_batches_tracked: the fixed momentum never reads it, and TorchSharp's add_(1) on it can fail (TorchEfficientCapsNet).
        Assert.DoesNotContain(buffers, b => b.name.EndsWith("num_batches_tracked", StringComparison.Ordinal));
        Assert.Equal(SpecTable.Select(t => t.Name), EfficientWeightsWriter.Tensors.Select(t => t.Name));
        Assert.Equal(SpecTable.Select(t => t.Name).Where(n => !n.Contains("running_", StringComparison.Ordinal)).Order(), parameters.Select(p => p.name).Order());
        // 161,824 without the decoder is the paper's "161K".
        long withoutDecoder = parameters.Where(p => !p.name.StartsWith("decoder.", StringComparison.Ordinal)).Sum(p => p.shape.Aggregate(1L, (a, b) => a * b));
        Assert.Equal(161_824, withoutDecoder);
    }

    [Fact]
    public void Writer_tensors_and_metadata_are_the_typed_MNIST_architecture()
    {
        var a = EfficientCapsNetArchitecture.Mnist;
        Assert.Equal(a.Tensors.Select(t => t.ToString()),
            EfficientWeightsWriter.Tensors.Select(t => $"{t.Name} [{string.Join(",", t.Shape)}]"));
        var metadata = EfficientWeightsWriter.ArchitectureMetadata();
        Assert.Equal("efficient", metadata[EfficientWeightsWriter.FamilyKey]);
        Assert.Equal(a, EfficientCapsNetArchitecture.FromMetadata(metadata, out string? error));
        Assert.Null(error);
        Assert.Equal(EfficientWeightsWriter.InputSize, a.InputSize);
        Assert.Equal(EfficientWeightsWriter.Classes, a.Classes);
        Assert.Equal(EfficientWeightsWriter.StemChannels, a.Stem.Select(l => l.Channels));
    }

    [Fact]
    public void Forward_shapes_and_train_mode_batch_norm_uses_momentum_0_01()
    {
        set_num_threads(1);
        using var trainer = new TorchEfficientTrainer(3, CPU);
        var set = Fixture(4);
        using var x = TorchTrainer.Images(Input(set, 4), 4, 1, 28, CPU);
        using var y = TorchTrainer.Labels(set.Labels.Select(l => (int)l).ToArray(), 4, CPU);
        var model = trainer.Model;
        model.train();
        using (var v = model.Capsules(x)) Assert.Equal(new long[] { 4, 10, 16 }, v.shape);
        // One train-mode pass moved each running mean 1% of the way to the batch mean of relu(conv(x)) (PyTorch momentum 0.01 = Keras 0.99).
        var conv = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
        using (var a = nn.functional.conv2d(x, conv["stem.0.conv.weight"], conv["stem.0.conv.bias"]).relu())
        using (var batchMean = a.mean([0, 2, 3]))
        {
            var running = model.named_buffers().First(b => b.name == "stem.0.bn.running_mean").buffer;
            var expected = (batchMean * 0.01f).data<float>().ToArray();
            var actual = running.data<float>().ToArray();
            for (int c = 0; c < expected.Length; c++) Assert.Equal((double)expected[c], actual[c], 1e-6);
        }
        model.eval();
        using (var lengths = model.forward(x))
        {
            Assert.Equal(new long[] { 4, 10 }, lengths.shape);
            Assert.All(lengths.data<float>().ToArray(), l => Assert.InRange(l, 0f, 1f));
        }
        var (loss, _, _, lengthsOut) = model.Loss(x, y);
        Assert.Equal(0L, loss.dim());
        Assert.Equal(new long[] { 4, 10 }, lengthsOut.shape);
        using var capsules = model.Capsules(x);
        using var reconstruction = model.Reconstruct(capsules, y);
        Assert.Equal(new long[] { 4, 784 }, reconstruction.shape);
    }

    [Fact]
    public void Efficient_squash_matches_the_formula()
    {
        using var s = tensor(new float[] { 3, 4, 0, 0, 0.001f, 0 }, [3, 2]);
        using var v = TorchEfficientCapsNet.Squash(s);
        var r = v.data<float>().ToArray();
        double f = (1 - 1 / Math.Exp(5)) / 5;
        Assert.Equal(3 * f, r[0], 1e-6);
        Assert.Equal(4 * f, r[1], 1e-6);
        Assert.Equal(0f, r[2]);
        Assert.Equal(0f, r[3]);
        Assert.Equal((1 - 1 / Math.Exp(0.001)), r[4], 1e-6); // |v| → |s| for short capsules
    }

    [Fact]
    public void Routing_matches_a_hand_computed_case()
    {
        // Two inputs (D = 1), two classes (E = 1): û[j][i] = u_i W[j][i], a = û · Σ_k û[j][k] / √1, softmax over j, + b.
        using var u = tensor(new float[] { 1, 2 }, [1, 2, 1]);
        using var w = tensor(new float[] { 1, 1, 2, -1 }, [2, 2, 1, 1]);
        using var b = tensor(new float[] { 0.1f, 0.2f, 0.3f, 0.4f }, [2, 2]);
        using var v = TorchEfficientCapsNet.Routing(u, w, b);
        Assert.Equal(new long[] { 1, 2, 1 }, v.shape);
        // û: class 0 [1, 2] (sum 3), class 1 [2, -2] (sum 0) ⇒ a: class 0 [3, 6], class 1 [0, 0].
        static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
        double c00 = Sigmoid(3) + 0.1, c01 = Sigmoid(6) + 0.2, c10 = 1 - Sigmoid(3) + 0.3, c11 = 1 - Sigmoid(6) + 0.4;
        double s0 = c00 * 1 + c01 * 2, s1 = c10 * 2 + c11 * -2;
        static double Squash1(double s) => (1 - 1 / Math.Exp(Math.Abs(s))) * Math.Sign(s);
        var r = v.data<float>().ToArray();
        Assert.Equal(Squash1(s0), r[0], 1e-6);
        Assert.Equal(Squash1(s1), r[1], 1e-6);
    }

    [Fact]
    public void Augmentation_is_deterministic_in_range_and_draws_the_authors_amounts()
    {
        var set = Fixture(50);
        var a = new float[784 * 50];
        var b = new float[784 * 50];
        var scratch = new float[784];
        var r1 = new DeterministicRandom(9);
        var r2 = new DeterministicRandom(9);
        for (int k = 0; k < 50; k++) EfficientAugmentation.Apply(set.GetImage(k), 28, r1, a.AsSpan(k * 784, 784), scratch);
        for (int k = 0; k < 50; k++) EfficientAugmentation.Apply(set.GetImage(k), 28, r2, b.AsSpan(k * 784, 784), scratch);
        Assert.Equal(a, b);
        Assert.Equal(r1.GetState(), r2.GetState());
        Assert.All(a, p => Assert.InRange(p, 0f, 1f));
        var plain = Input(set, 50);
        Assert.NotEqual(plain, a);
        // The generator advances by the draws alone, whatever they say is applied: a checkpointed state resumes the sequence.
        var counter = new DeterministicRandom(9);
        for (int k = 0; k < 50; k++) EfficientAugmentation.Draws.Next(counter, 28);
        Assert.Equal(counter.GetState(), r1.GetState());
        var draws = new DeterministicRandom(5);
        int rotated = 0;
        for (int k = 0; k < 2000; k++)
        {
            var d = EfficientAugmentation.Draws.Next(draws, 28);
            Assert.InRange(d.RotationDegrees, -29, 29);
            Assert.Equal(Math.Truncate(d.RotationDegrees), d.RotationDegrees);
            Assert.InRange(d.ShiftX, 0, 0.9999);
            Assert.InRange(d.SquishColumns, 1, 7);
            Assert.InRange(d.SquishOffset, 0, 1);
            Assert.InRange(d.EraseRow, 4, 22);
            Assert.InRange(d.EraseColumn, 4, 22);
            if (d.Rotate) rotated++;
        }
        Assert.InRange(rotated, 900, 1100); // p 0.5
    }

    [Fact]
    public void Augmentation_steps_keep_the_digit_and_erase_exactly_four_by_four()
    {
        var set = Fixture(1);
        var image = Input(set, 1);
        var shifted = new float[784];
        // Shift: the digit moves into its margins, nothing is lost.
        EfficientAugmentation.ShiftIntoMargins(image, 28, left: true, up: false, 0.9, 0.9, shifted);
        Assert.Equal(image.Sum(), shifted.Sum(), 1e-3);
        Assert.NotEqual(image, shifted);
        int firstColumn = Enumerable.Range(0, 28).First(x => Enumerable.Range(0, 28).Any(y => shifted[y * 28 + x] > 0));
        Assert.InRange(firstColumn, 0, 1); // ⌊−0.9·left⌋ takes it to within a pixel of the edge
        // Squish: fewer columns carry ink, rows keep theirs.
        var squished = new float[784];
        EfficientAugmentation.Squish(image, 28, 7, 0, squished);
        Assert.All(Enumerable.Range(0, 28), y => Assert.Equal(0f, squished[y * 28 + 27]));
        for (int y = 0; y < 28; y++)
            Assert.Equal(image.AsSpan(y * 28, 28).ToArray().Any(p => p > 0), squished.AsSpan(y * 28, 28).ToArray().Any(p => p > 0));
        // Erase: exactly the 4×4 square at (row, column) becomes 0.
        var ones = Enumerable.Repeat(1f, 784).ToArray();
        EfficientAugmentation.Erase(ones, 28, 5, 9);
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
                Assert.Equal(y is >= 5 and < 9 && x is >= 9 and < 13 ? 0f : 1f, ones[y * 28 + x]);
        // No rotation, no shift, no squish would be the identity: with 0° and the squish at 1 column the image stays close.
        var same = new float[784];
        var scratch = new float[784];
        EfficientAugmentation.Apply(set.GetImage(0), 28, new EfficientAugmentation.Draws(0, false, false, false, 0, 0, 0, 0, 4, 4), same, scratch);
        for (int k = 0; k < 784; k++)
            if (k / 28 is < 4 or >= 8 || k % 28 is < 4 or >= 8) Assert.Equal(image[k], same[k], 1e-6);
    }

    [Fact]
    public void One_training_step_lowers_the_loss_of_its_batch()
    {
        set_num_threads(1);
        using var trainer = new TorchEfficientTrainer(1, CPU);
        var set = Fixture(16);
        var x = Input(set, 16);
        var labels = set.Labels.Select(l => (int)l).ToArray();
        var before = trainer.Backward(x, labels, 16);
        trainer.TrainStep(x, labels, 1, null, 16, 1e-3);
        var after = trainer.Backward(x, labels, 16);
        double lossBefore = before.MarginLoss + before.ReconstructionLoss, lossAfter = after.MarginLoss + after.ReconstructionLoss;
        Assert.True(lossAfter < lossBefore, $"loss {lossBefore} → {lossAfter}");
        Assert.Equal(1, trainer.Step);
    }

    [Fact]
    public void Per_epoch_schedule_steps_once_an_epoch_down_to_its_floor()
    {
        var schedule = new TrainingOptions { LearningRate = 5e-4, Decay = 0.97, DecayPerEpoch = true, MinLearningRate = 5e-5 }.Schedule;
        Assert.Equal(5e-4, schedule.At(0, 16, 0), 15);
        Assert.Equal(5e-4, schedule.At(3749, 16, 0), 15); // constant within an epoch
        Assert.Equal(5e-4 * 0.97 * 0.97, schedule.At(7500, 16, 2), 15);
        Assert.Equal(5e-5, schedule.At(0, 16, 100), 15); // 5e-4 · 0.97^100 ≈ 2.4e-5 is floored
        Assert.Equal(1e-3 * Math.Pow(0.96, 1), new LearningRateSchedule(1e-3, 0.96).At(2000, 128, 7), 15); // continuous: the epoch is ignored
    }

    private static TrainingOptions Options(string checkpoint) => new()
    {
        Data = TrainingDataKind.EfficientImages, MaxShift = 0, Epochs = 2, Batch = 8, Threads = 1, Seed = 6, GroupSize = 1,
        LearningRate = 5e-4, Decay = 0.97, DecayPerEpoch = true, MinLearningRate = 5e-5,
        CheckpointPath = checkpoint, CheckpointEverySteps = 3,
    };

    [Fact]
    public void Interrupted_and_resumed_run_is_bit_identical_to_an_uninterrupted_one()
    {
        set_num_threads(1);
        using var temp = new TempDirectory("efficient-session");
        var train = Fixture(40);
        var test = Fixture(24);
        // 5 steps an epoch: step 7 is inside the second.
        var (history, checkpoint, _) = ResumeCheck.ResumedRunEqualsWholeRun<TorchEfficientTrainer, EfficientCheckpoint>(temp.Path, stopAt: 7, stopEpoch: 1,
            (file, resume) => new TorchEfficientSession(Options(file), train, test, CPU, resume), EfficientCheckpoint.Load, c => c.State,
            trainer => trainer.Model.ToTensors());
        Assert.Equal(0.97 * 5e-4, history[1].LearningRate, 12); // the second epoch ran at lr·0.97
        Assert.True(checkpoint.Options.DecayPerEpoch);
    }

    [Fact]
    public void Train_command_writes_the_spec_file_with_provenance_and_a_checkpoint_that_is_not_a_paper_one()
    {
        using var temp = new TempDirectory("efficient-cli");
        string dir = temp.Path;
        string data = Path.Combine(dir, "digits");
        Directory.CreateDirectory(data);
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        foreach (var split in new[] { DatasetSplit.Train, DatasetSplit.Test })
        {
            File.Copy(Path.Combine(fixtures, "t10k-200-images-idx3-ubyte"), Path.Combine(data, DatasetStore.StandardFileName(split, images: true)));
            File.Copy(Path.Combine(fixtures, "t10k-200-labels-idx1-ubyte"), Path.Combine(data, DatasetStore.StandardFileName(split, images: false)));
        }
        string outPath = Path.Combine(dir, "eff.safetensors");
        var output = new StringWriter();
        var error = new StringWriter();
        int code = TorchCli.Run(["train", "--arch", "efficient", "--data", data, "--limit", "16", "--test-limit", "16", "--epochs", "1",
            "--threads", "1", "--out", outPath], output, error);
        Assert.True(code == 0, error.ToString());
        Assert.Contains("batch 16, Adam lr 0.0005 x 0.97 per epoch", output.ToString());

        var header = SafeTensorsFile.ReadHeader(outPath).Header;
        Assert.Equal(SpecTable.Select(t => t.Name).Order(), header.Entries.Select(e => e.Name).Order());
        foreach (var (name, shape) in SpecTable)
        {
            var entry = header.Find(name)!;
            Assert.Equal(SafeTensorsDType.F32, entry.DType);
            Assert.Equal(shape, entry.Shape);
        }
        var expected = new Dictionary<string, string>
        {
            ["capsnet.family"] = "efficient", ["capsnet.input_size"] = "28", ["capsnet.input_channels"] = "1",
            ["capsnet.stem_channels"] = "32,64,64,128", ["capsnet.stem_kernels"] = "5,3,3,3", ["capsnet.stem_strides"] = "1,1,1,2",
            ["capsnet.primary_kernel"] = "9", ["capsnet.primary_capsules"] = "16", ["capsnet.primary_dims"] = "8",
            ["capsnet.classes"] = "10", ["capsnet.class_dims"] = "16", ["capsnet.decoder_hidden1"] = "512",
            ["capsnet.decoder_hidden2"] = "1024", ["capsnet.batchnorm_eps"] = "0.001",
        };
        var meta = header.Metadata;
        foreach (var (key, value) in expected) Assert.Equal(value, meta[key]);
        Assert.Equal(expected.Keys.Append("capsnet.created_by").Order(), meta.Keys.Where(k => k.StartsWith("capsnet.", StringComparison.Ordinal)).Order());
        foreach (var key in new[] { "command", "data", "train_images", "seed", "epochs", "steps", "batch", "lr", "decay", "decay_per", "augmentation",
            "device", "wall_seconds", "test_error", "test_images", "date", "init" })
            Assert.True(meta.ContainsKey("training." + key), $"training.{key} is missing");
        Assert.Equal("16", meta["training.batch"]);
        Assert.Equal("1", meta["training.steps"]);
        Assert.DoesNotContain(meta.Keys, k => k.StartsWith("trainer.", StringComparison.Ordinal));

        // eval reads the file back (eval mode, running statistics): the same error as the run's last epoch on the same images.
        var evalOutput = new StringWriter();
        Assert.Equal(0, TorchCli.Run(["eval", "-w", outPath, "--data", data, "--limit", "16", "--threads", "1"], evalOutput, error));
        double testError = double.Parse(meta["training.test_error"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(FormattableString.Invariant($"error    {100 * testError:F2}% of 16 images"), evalOutput.ToString());

        // --resume continues the run's checkpoint to a second epoch with its recipe.
        var resumed = new StringWriter();
        Assert.Equal(0, TorchCli.Run(["train", "--arch", "efficient", "--data", data, "--limit", "16", "--test-limit", "16", "--epochs", "2",
            "--threads", "1", "--out", outPath, "--resume"], resumed, error));
        Assert.Contains("resuming", resumed.ToString());
        Assert.Contains("done: 2 epochs, 2 steps", resumed.ToString());
        Assert.Equal("2", SafeTensorsFile.ReadHeader(outPath).Header.Metadata["training.steps"]);

        // The paper network's tools refuse the checkpoint rather than misread it.
        string checkpointPath = Path.ChangeExtension(outPath, ".ckpt");
        var ex = Assert.Throws<WeightFormatException>(() => TrainingCheckpoint.Load(checkpointPath));
        Assert.Contains("capsnet.family = \"efficient\"", ex.Message);

        // export: the checkpoint's weights and statistics rounded to F16, no Adam state, the trainer's metadata and
        // where in the run it was taken; the same command gives the same bytes.
        string exported = Path.Combine(dir, "exported.safetensors");
        string[] export = ["export", "--checkpoint", checkpointPath, "--out", exported, "--precision", "f16", "--test-images", "16"];
        var exportOutput = new StringWriter();
        Assert.True(TorchCli.Run(export, exportOutput, error) == 0, error.ToString());
        Assert.Contains("epoch 2 of 2 (fixed budget) finished, taken at its end (step 2)", exportOutput.ToString());
        var checkpoint = EfficientCheckpoint.Load(checkpointPath);
        var weights = EfficientCapsNetWeightsFile.Load(exported);
        Assert.All(SafeTensorsFile.ReadHeader(exported).Header.Entries, e => Assert.Equal(SafeTensorsDType.F16, e.DType));
        Assert.Equal(SpecTable.Select(t => t.Name).Order(), SafeTensorsFile.ReadHeader(exported).Header.Entries.Select(e => e.Name).Order());
        foreach (var (name, _) in SpecTable)
            Assert.True(checkpoint.Tensors[name].Select(v => (float)(Half)v).SequenceEqual(weights[name]), $"{name} is not the checkpoint's, rounded to F16");
        var exportedMeta = weights.Metadata;
        Assert.Equal("2", exportedMeta["training.epochs"]);
        Assert.Equal(meta["training.test_images"], exportedMeta["training.test_images"]);
        Assert.Contains("epoch 2 of 2 (fixed budget)", exportedMeta[EfficientCheckpoint.ExportedFromKey]);
        Assert.Contains(FileHash.Sha256(checkpointPath), exportedMeta[EfficientCheckpoint.ExportedFromKey]);
        Assert.DoesNotContain(exportedMeta.Keys, k => k.StartsWith("trainer.", StringComparison.Ordinal) || k == "training.date");
        Assert.Equal(1, TorchCli.Run(export, new StringWriter(), error)); // exists: needs --force
        Assert.Contains("pass --force", error.ToString());
        Assert.Equal(0, TorchCli.Run([.. export, "--force"], new StringWriter(), error));
        byte[] first = File.ReadAllBytes(exported);
        Assert.Equal(0, TorchCli.Run([.. export, "--force"], new StringWriter(), error));
        Assert.Equal(first, File.ReadAllBytes(exported));

        // A weight file, a paper network's file or bytes that are no safetensors are refused, naming what they are.
        foreach (var (bad, message) in new[]
        {
            (exported, "a weight file, not a training checkpoint"),
            (Path.Combine(AppContext.BaseDirectory, "Fixtures", "t10k-200-labels-idx1-ubyte"), "t10k-200-labels-idx1-ubyte"),
        })
        {
            var badError = new StringWriter();
            Assert.Equal(1, TorchCli.Run(["export", "--checkpoint", bad, "--out", Path.Combine(dir, "bad.safetensors")], new StringWriter(), badError));
            Assert.StartsWith("capsnet-torch: error:", badError.ToString());
            Assert.Contains(message, badError.ToString());
        }
        var paper = Path.Combine(dir, "paper.ckpt");
        var paperError = new StringWriter();
        File.WriteAllBytes(paper, SafeTensorsWriter.Serialize([], new Dictionary<string, string> { ["trainer.format"] = "1" }));
        Assert.Equal(1, TorchCli.Run(["export", "--checkpoint", paper, "--out", Path.Combine(dir, "bad.safetensors")], new StringWriter(), paperError));
        Assert.Contains("not an Efficient-CapsNet file", paperError.ToString());
        Assert.False(File.Exists(Path.Combine(dir, "bad.safetensors")));
    }
}
