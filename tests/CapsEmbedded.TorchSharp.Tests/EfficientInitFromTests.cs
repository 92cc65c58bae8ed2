using System.Buffers.Binary;
using CapsEmbedded.Data;
using CapsEmbedded.IO;
using CapsEmbedded.Reference;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp.Tests;

/// <summary><c>capsnet-torch train --arch efficient --init-from</c>: an exported weight file (F32, F16, BF16) starts the module at
/// its weights and batch-norm statistics with Adam and the schedule afresh, is named in the provenance, and a wrong file is refused.</summary>
public class EfficientInitFromTests
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
    private static readonly string Shipped = Path.Combine(AppContext.BaseDirectory, "Weights", "mnist-efficient.safetensors");

    private static LabeledImages Fixture(int count)
    {
        var images = IdxReader.ReadImages(Path.Combine(Fixtures, "t10k-200-images-idx3-ubyte"));
        var labels = IdxReader.ReadLabels(Path.Combine(Fixtures, "t10k-200-labels-idx1-ubyte"));
        return new LabeledImages(count, 28, 28, images.Pixels.AsSpan(0, count * 784).ToArray(), labels.AsSpan(0, count).ToArray());
    }

    private static float[] Input(LabeledImages set, int count) => set.Pixels.AsSpan(0, count * 784).ToArray().Select(b => b / 255f).ToArray();

    private static TrainingOptions Options() => new()
    {
        Data = TrainingDataKind.EfficientImages, MaxShift = 0, Epochs = 1, Batch = 8, Threads = 1, Seed = 5, GroupSize = 1,
        LearningRate = 1e-4, Decay = 0.97, DecayPerEpoch = true, MinLearningRate = 1e-5,
    };

    /// <summary>The class-capsule lengths of <paramref name="count"/> images, in eval mode (running statistics).</summary>
    private static float[] Lengths(TorchEfficientCapsNet model, float[] images, int count)
    {
        using var _ = no_grad();
        model.eval();
        using var x = tensor(images, [count, 1, 28, 28]);
        using var lengths = model.forward(x);
        model.train();
        return lengths.data<float>().ToArray();
    }

    /// <summary>A seeded trainer after two steps: weights and batch-norm running statistics away from their initial values.</summary>
    private static TorchEfficientTrainer TrainedTrainer(LabeledImages set)
    {
        var trainer = new TorchEfficientTrainer(11, CPU);
        for (int step = 0; step < 2; step++)
            trainer.TrainStep(Input(set, 8), set.Labels.AsSpan(0, 8).ToArray().Select(l => (int)l).ToArray(), 1, null, 8, 1e-3);
        return trainer;
    }

    private static string Export(TorchEfficientTrainer trainer, string dtype, string path)
    {
        var weights = new EfficientCapsNetWeights(EfficientCapsNetArchitecture.Mnist);
        foreach (var (name, values) in trainer.Model.ToTensors()) values.CopyTo(weights[name], 0);
        File.WriteAllBytes(path, EfficientCapsNetWeightsFile.Write(weights, dtype));
        return path;
    }

    [Theory]
    [InlineData(SafeTensorsDType.F32)]
    [InlineData(SafeTensorsDType.F16)]
    [InlineData(SafeTensorsDType.BF16)]
    public void Init_from_an_exported_file_starts_at_its_weights_and_batch_norm_statistics_with_Adam_afresh(string dtype)
    {
        set_num_threads(1);
        using var temp = new TempDirectory("efficient-init");
        var set = Fixture(16);
        using var source = TrainedTrainer(set);
        var sourceTensors = source.Model.ToTensors();
        Assert.NotEqual(new float[64], sourceTensors["stem.3.bn.running_mean"]); // the statistics moved, so carrying them is checked
        Assert.NotEqual(Enumerable.Repeat(1f, 64).ToArray(), sourceTensors["stem.3.bn.running_var"]);
        string file = Export(source, dtype, temp.Combine("exported.safetensors"));

        var initial = EfficientWeightsWriter.LoadWeightFile(file);
        using var session = new TorchEfficientSession(Options(), set, set, CPU, initial: initial);
        var model = session.Trainer.Model;

        // Every tensor, the running statistics included, is the file's (widened to float32), not the seed's.
        var fileWeights = EfficientCapsNetWeightsFile.Load(file);
        foreach (var (name, values) in model.ToTensors())
            Assert.True(values.SequenceEqual(fileWeights[name]), $"{name} is not the file's");

        // Its forward pass is the file's network: the runtime's reference model of the same file gives the same lengths
        // (float32 in different summation orders: 1e-4); an F32 file is the exported module itself, bit for bit.
        float[] images = Input(set, 8), lengths = Lengths(model, images, 8);
        for (int k = 0; k < 8; k++)
        {
            var reference = EfficientReferenceModel.Forward(fileWeights, images.AsSpan(k * 784, 784)).Lengths;
            for (int j = 0; j < 10; j++) Assert.Equal(reference[j], lengths[k * 10 + j], 1e-4f);
        }
        if (dtype == SafeTensorsDType.F32) Assert.Equal(Lengths(source.Model, images, 8), lengths);

        // Adam and the schedule start afresh: zero moments, step 0, the run's first rate.
        Assert.Equal(0, session.Trainer.Step);
        Assert.Equal(0, session.State.Step);
        Assert.All(session.Trainer.CheckpointTensors().Where(t => t.Key.StartsWith("adam.", StringComparison.Ordinal)),
            t => Assert.True(t.Value.All(v => v == 0), $"{t.Key} is not zero"));
        Assert.Contains(source.CheckpointTensors()["adam.v.decoder.fc3.bias"], v => v != 0); // the source's are not
    }

    [Fact]
    public void A_run_and_a_weight_file_are_not_both_a_start()
    {
        using var temp = new TempDirectory("efficient-init");
        var set = Fixture(8);
        string checkpoint = temp.Combine("run.ckpt");
        using (var run = new TorchEfficientSession(Options() with { CheckpointPath = checkpoint }, set, set, CPU))
            run.Run();
        var ex = Assert.Throws<ArgumentException>(() => new TorchEfficientSession(Options(), set, set, CPU, EfficientCheckpoint.Load(checkpoint),
            EfficientWeightsWriter.LoadWeightFile(Shipped)));
        Assert.Contains("not both", ex.Message);
    }

    private static string DataFolder(TempDirectory temp)
    {
        string data = temp.Combine("digits");
        Directory.CreateDirectory(data);
        foreach (var split in new[] { DatasetSplit.Train, DatasetSplit.Test })
        {
            File.Copy(Path.Combine(Fixtures, "t10k-200-images-idx3-ubyte"), Path.Combine(data, DatasetStore.StandardFileName(split, images: true)));
            File.Copy(Path.Combine(Fixtures, "t10k-200-labels-idx1-ubyte"), Path.Combine(data, DatasetStore.StandardFileName(split, images: false)));
        }
        return data;
    }

    private static (int Code, string Output, string Error) Run(params string[] args) => TorchCliTests.Run(args);

    [Fact]
    public void Train_from_the_shipped_F16_file_keeps_its_accuracy_and_records_the_file_and_its_hash()
    {
        using var temp = new TempDirectory("efficient-init-cli");
        string data = DataFolder(temp), outPath = temp.Combine("tuned.safetensors");
        var (code, output, error) = Run("train", "--arch", "efficient", "--data", data, "--limit", "16", "--test-limit", "32", "--epochs", "1",
            "--threads", "1", "--lr", "1e-4", "--lr-floor", "1e-5", "--init-from", Shipped, "--out", outPath);
        Assert.True(code == 0, error);
        string source = $"from mnist-efficient.safetensors (sha256 {FileHash.Sha256(Shipped)})";
        Assert.Contains($"init     {source}; Adam and the schedule start afresh", output);
        Assert.Contains("Adam lr 0.0001 x 0.97 per epoch (down to 1E-05)", output);

        var meta = SafeTensorsFile.ReadHeader(outPath).Header.Metadata;
        Assert.Equal(source, meta["training.init"]);
        Assert.Equal("epoch, down to 1E-05", meta["training.decay_per"]);
        Assert.Equal("1", meta["training.steps"]);
        // The file's network after one small step, not a seeded one (about 90% wrong): the shipped file errs on 0.42% of MNIST.
        Assert.InRange(double.Parse(meta["training.test_error"], System.Globalization.CultureInfo.InvariantCulture), 0, 2 / 32.0);
        // The checkpoint keeps where the run started and its floor, for --resume.
        var checkpoint = EfficientCheckpoint.Load(Path.ChangeExtension(outPath, ".ckpt"));
        Assert.Equal(source, checkpoint.Options.InitSource);
        Assert.Equal(1e-5, checkpoint.Options.MinLearningRate);
    }

    [Fact]
    public void Lr_floor_defaults_to_the_authors_and_is_checked()
    {
        var shared = new TrainingCommandLine("t", efficient: true);
        var command = shared.CreateCommand("train");
        TrainingOptions Parse(params string[] args) => shared.Options(command.Parse(["--arch", "efficient", .. args]));
        Assert.Equal(5e-5, Parse().MinLearningRate);
        Assert.Equal(2e-5, Parse("--lr", "2e-5").MinLearningRate); // below the authors' floor: constant
        Assert.Equal(1e-6, Parse("--lr", "1e-4", "--lr-floor", "1e-6").MinLearningRate);
        Assert.Equal(0, Parse("--lr-floor", "0").MinLearningRate);
        Assert.Contains("--lr-floor must be in 0..--lr (0.0005), got 0.001", Assert.Throws<ArgumentException>(() => Parse("--lr-floor", "1e-3")).Message);
        Assert.Contains("--lr-floor is for --arch efficient",
            Assert.Throws<ArgumentException>(() => shared.Options(command.Parse(["--lr-floor", "1e-5"]))).Message);
        Assert.DoesNotContain(new TrainingCommandLine("capsnet").CreateCommand("train").Options, o => o.Name == "--lr-floor");
    }

    /// <summary>F32 safetensors bytes of named tensors with the MNIST network's architecture metadata and <paramref name="extra"/>.</summary>
    private static byte[] F32File(IEnumerable<(string Name, long[] Shape, float[] Values)> tensors, Dictionary<string, string>? extra = null)
    {
        var list = tensors.Select(t =>
        {
            var bytes = new byte[4 * t.Values.Length];
            for (int k = 0; k < t.Values.Length; k++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * k), t.Values[k]);
            return (t.Name, SafeTensorsDType.F32, (IReadOnlyList<long>)t.Shape, bytes);
        }).ToList();
        var metadata = EfficientWeightsWriter.ArchitectureMetadata();
        foreach (var (key, value) in extra ?? []) metadata[key] = value;
        return SafeTensorsWriter.Serialize(list, metadata);
    }

    private static IEnumerable<(string Name, long[] Shape, float[] Values)> SpecTensors() =>
        EfficientWeightsWriter.Tensors.Select(t => (t.Name, t.Shape, Enumerable.Repeat(1f, (int)t.Shape.Aggregate(1L, (a, b) => a * b)).ToArray()));

    public static TheoryData<string, string> BadFiles => new()
    {
        { "missing", "no such file" },
        { "paper", "not an Efficient-CapsNet weight file" },
        { "truncated", "end past the data area" },
        { "idx", "idx.safetensors: header length" },
        { "shape", "tensor 'digit_caps.bias': shape [16,10] does not match the architecture's [10,16]" },
        { "absent", "tensor 'stem.3.bn.running_var': missing" },
        { "unknown", "tensor 'extra.weight': unknown tensor" },
        { "checkpoint", "a training checkpoint, not a weight file" },
        { "tiny", "capsnet-torch runs only" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_wrong_init_file_is_a_one_line_error_naming_the_problem_and_nothing_is_written(string kind, string message)
    {
        using var temp = new TempDirectory("efficient-init-bad");
        string data = DataFolder(temp), outPath = temp.Combine("out.safetensors");
        string file = temp.Combine(kind + ".safetensors");
        byte[] shipped = File.ReadAllBytes(Shipped);
        switch (kind)
        {
            case "paper": CapsNetWeightsFile.Save(TrainingInit.Create(CapsNetArchitecture.Paper, 1), file); break;
            case "truncated": File.WriteAllBytes(file, shipped.AsSpan(0, shipped.Length - 1000).ToArray()); break;
            case "idx": File.Copy(Path.Combine(Fixtures, "t10k-200-labels-idx1-ubyte"), file); break;
            case "shape": File.WriteAllBytes(file, F32File(SpecTensors().Select(t => t.Name == "digit_caps.bias" ? (t.Name, new long[] { 16, 10 }, t.Values) : t))); break;
            case "absent": File.WriteAllBytes(file, F32File(SpecTensors().Where(t => t.Name != "stem.3.bn.running_var"))); break;
            case "unknown": File.WriteAllBytes(file, F32File(SpecTensors().Append(("extra.weight", [2], [0f, 0f])))); break;
            case "checkpoint":
                using (var trainer = new TorchEfficientTrainer(1, CPU))
                    File.WriteAllBytes(file, F32File(trainer.CheckpointTensors().Select(t =>
                        (t.Key, EfficientWeightsWriter.Tensors.Single(s => t.Key.EndsWith(s.Name, StringComparison.Ordinal)).Shape, t.Value)),
                        new() { ["trainer.format"] = "1" }));
                break;
            case "tiny": EfficientCapsNetWeightsFile.Save(EfficientCapsNetWeights.CreateRandom(EfficientCapsNetArchitecture.Tiny, 3), file); break;
        }
        var (code, _, error) = Run("train", "--arch", "efficient", "--data", data, "--limit", "16", "--epochs", "1", "--threads", "1",
            "--init-from", file, "--out", outPath);
        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.StartsWith("capsnet-torch: error:", error);
        Assert.True(error.Contains(message, StringComparison.Ordinal), error);
        Assert.DoesNotContain(Directory.GetFiles(temp.Path), f => Path.GetFileName(f).StartsWith("out.", StringComparison.Ordinal));
    }

    [Fact]
    public void Init_from_with_resume_is_an_error_for_efficient_too()
    {
        var (code, _, error) = Run("train", "--arch", "efficient", "--init-from", Shipped, "--resume");
        Assert.Equal(1, code);
        Assert.Equal("capsnet-torch: error: --init-from and --resume exclude each other: a checkpoint already holds the weights", error.Trim());
    }
}
