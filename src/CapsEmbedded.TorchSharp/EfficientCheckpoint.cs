using CapsEmbedded.IO;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// An Efficient-CapsNet training checkpoint: the weight file's tensors (parameters and batch-norm running statistics),
/// Adam's moments as <c>adam.m.NAME</c>/<c>adam.v.NAME</c>, the architecture metadata, and the run's options and state
/// as the same <c>trainer.*</c> metadata as <see cref="TrainingCheckpoint"/> (<see cref="TrainingCheckpoint.WriteRun"/>).
/// Written atomically; <c>capsnet-torch train --arch efficient --resume</c> continues it exactly.
/// </summary>
public sealed class EfficientCheckpoint
{
    public required TrainingOptions Options { get; init; }
    public required int TrainImages { get; init; }
    public required TrainingState State { get; init; }
    /// <summary>Every tensor by name: the weight file's and the moments.</summary>
    public required IReadOnlyDictionary<string, float[]> Tensors { get; init; }

    public static void Save(string path, TorchEfficientTrainer trainer, TrainingOptions options, int trainImages, TrainingState state)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        TrainingCheckpoint.WriteRun(metadata, options, trainImages, state);
        AtomicFile.Write(path, EfficientWeightsWriter.Serialize(trainer.CheckpointTensors(), metadata));
    }

    /// <summary>Reads and validates one; every problem is a <see cref="WeightFormatException"/> naming the file.</summary>
    public static EfficientCheckpoint Load(string path)
    {
        byte[] file;
        using (var stream = InputFile.OpenRead(path, Array.MaxLength, "checkpoint"))
        {
            file = new byte[stream.Length];
            stream.ReadExactly(file);
        }
        var (tensors, meta) = EfficientWeightsWriter.Read(file, path);
        if (!TrainingCheckpoint.IsCheckpoint(meta)) throw new WeightFormatException(path, null, "metadata trainer.format is missing: a weight file, not a training checkpoint");
        var (options, state, trainImages) = TrainingCheckpoint.ReadRun(meta, path, CapsNetArchitecture.Paper);
        if (options.Data != TrainingDataKind.EfficientImages)
            throw new WeightFormatException(path, null, $"trainer.data is {TrainingSamples.Name(options.Data)}, an Efficient-CapsNet run's is {TrainingSamples.Name(TrainingDataKind.EfficientImages)}");
        int expected = EfficientWeightsWriter.Tensors.Count + 2 * EfficientWeightsWriter.Tensors.Count(t => t.Trained);
        if (tensors.Count != expected) throw new WeightFormatException(path, null, $"{tensors.Count} tensors, a checkpoint has {expected}");
        return new EfficientCheckpoint { Options = options, TrainImages = trainImages, State = state, Tensors = tensors };
    }
}
