using CapsEmbedded.Data;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp.Tests;

public class TorchSessionTests
{
    private static LabeledImages Synthetic(int count, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var pixels = new byte[count * 100];
        var labels = new byte[count];
        for (int k = 0; k < count; k++)
        {
            labels[k] = (byte)random.NextInt(3);
            // A class-dependent bright column on noise, so that there is something to learn.
            for (int p = 0; p < 100; p++) pixels[k * 100 + p] = (byte)(random.NextInt(60) + (p % 10 == 2 + 3 * labels[k] ? 180 : 0));
        }
        return new LabeledImages(count, 10, 10, pixels, labels);
    }

    private static TrainingOptions Options(string checkpoint) => new()
    {
        Architecture = CapsNetArchitecture.Tiny, Epochs = 3, Batch = 8, Threads = 1, Seed = 4, MaxShift = 1,
        CheckpointPath = checkpoint, CheckpointEverySteps = 3,
    };

    private static Dictionary<string, float[]> Tensors(CapsNetWeights weights) =>
        CapsNetArchitecture.Tiny.Tensors.ToDictionary(spec => spec.Name, spec => weights[spec.Name]);

    [Fact]
    public void Interrupted_and_resumed_run_equals_an_uninterrupted_one_and_its_loss_falls()
    {
        set_num_threads(1);
        using var temp = new TempDirectory("torchsession");
        var train = Synthetic(60, 1);
        var test = Synthetic(30, 2);
        // 8 steps an epoch: step 11 is inside the second.
        var (history, _, path) = ResumeCheck.ResumedRunEqualsWholeRun<TorchTrainer, TrainingCheckpoint>(temp.Path, stopAt: 11, stopEpoch: 1,
            (file, resume) => new TorchTrainingSession(Options(file), train, test, CPU, resume), TrainingCheckpoint.Load, c => c.State,
            trainer => Tensors(trainer.Model.ToWeights()));
        Assert.Equal(3, history.Count);
        Assert.True(history[2].TrainLoss < history[0].TrainLoss, $"loss did not fall: {history[0].TrainLoss} → {history[2].TrainLoss}");

        // The checkpoint is capsnet train's format: the C# trainer continues it.
        using (var csharp = new TrainingSession(Options(path) with { Epochs = 3 }, train, test, TrainingCheckpoint.Load(path)))
        {
            Assert.Equal(TrainingOutcome.Completed, csharp.Run());
            Assert.Equal(24, csharp.State.Step);
        }
    }

    [Fact]
    public void Weights_round_trip_through_the_module_unchanged()
    {
        var weights = TrainingInit.Create(CapsNetArchitecture.Tiny, 9);
        using var model = new TorchCapsNet(weights, CPU);
        var back = model.ToWeights();
        foreach (var spec in CapsNetArchitecture.Tiny.Tensors)
            Assert.True(weights[spec.Name].AsSpan().SequenceEqual(back[spec.Name]), spec.Name);
    }

    [Fact]
    public void Module_capsule_lengths_match_the_csharp_trainer_forward()
    {
        // The forward pass alone (no decoder) against the C# trainer's, on MNIST images.
        var weights = TrainingInit.Create(CapsNetArchitecture.Paper, 2);
        using var trainer = new TorchTrainer(weights, CPU);
        var layout = new ParameterLayout(CapsNetArchitecture.Paper);
        var parameters = new float[layout.Count];
        layout.Import(weights, parameters.AsSpan());
        var worker = new CapsNetWorker<float>(CapsNetArchitecture.Paper, layout, parameters, 4);
        string dir = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        var images = IdxReader.ReadImages(Path.Combine(dir, "t10k-200-images-idx3-ubyte"));
        var x = images.Pixels.AsSpan(0, 4 * 784).ToArray().Select(b => b / 255f).ToArray();
        worker.Forward(x, 4, ReadOnlySpan<int>.Empty);
        using var lengths = trainer.Model.forward(trainer.Images(x, 4));
        var torchLengths = lengths.detach().data<float>().ToArray();
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 10; j++)
                Assert.True(Math.Abs(worker.Lengths(i)[j] - torchLengths[i * 10 + j]) <= 1e-5 + 1e-4 * Math.Abs(torchLengths[i * 10 + j]),
                    $"image {i} class {j}: C# {worker.Lengths(i)[j]}, TorchSharp {torchLengths[i * 10 + j]}");
    }
}
