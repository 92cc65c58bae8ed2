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

    /// <summary>The metadata key an exported file names its checkpoint with: file, SHA-256, and where in the run it was taken.</summary>
    public const string ExportedFromKey = "capsnet.exported_from";

    /// <summary>
    /// The weight file this checkpoint's run would write if it stopped here (<c>capsnet-torch export</c>): every weight
    /// tensor and batch-norm running statistic, no Adam moment; the architecture metadata and the trainer's provenance
    /// (<see cref="TrainingCommandLine.Provenance"/>, no date, so one checkpoint gives the same bytes each time), plus
    /// <see cref="ExportedFromKey"/> saying which epoch of which budget, and whether the run stood inside an epoch.
    /// </summary>
    /// <param name="source">The checkpoint's file name, as the metadata names it.</param>
    /// <param name="sha256">The checkpoint's SHA-256 (hex).</param>
    /// <param name="dataName">The data set the run trained on (the checkpoint holds only its size).</param>
    /// <param name="commandLine">The export's command line, kept as <c>training.command</c>.</param>
    /// <param name="testImages">The test images of the run's per-epoch figure (not in the checkpoint: the run's --test-limit, or the whole test split).</param>
    public EfficientCapsNetWeights ToWeights(string source, string sha256, string dataName, string commandLine, int testImages)
    {
        var weights = new EfficientCapsNetWeights(EfficientCapsNetArchitecture.Mnist);
        foreach (var spec in weights.Architecture.Tensors)
            Tensors[spec.Name].CopyTo(weights[spec.Name], 0);
        var metadata = weights.Metadata;
        TrainingCommandLine.Provenance(metadata, "capsnet-torch train", commandLine, dataName, TrainImages, testImages, Options, State, device: null);
        metadata.Remove("training.date");
        if (dataName == "fashion") metadata[CapsNetClassNames.MetadataKey] = CapsNetClassNames.Encode(CapsNetClassNames.FashionMnist);
        metadata[ExportedFromKey] = $"{source} (training checkpoint, sha256 {sha256}): {Where(State, Options.Epochs, TrainImages)}";
        return weights;
    }

    /// <summary>"epoch 5 of 50 (fixed budget), at its end", or "… and 7,200 of 60,000 images into epoch 6 (step 19,200)":
    /// training.test_error is always the last finished epoch's, measured at its end.</summary>
    public static string Where(TrainingState state, int budget, int trainImages)
    {
        string done = FormattableString.Invariant($"epoch {state.Epoch} of {budget} (fixed budget) finished");
        return state.Position == 0
            ? FormattableString.Invariant($"{done}, taken at its end (step {state.Step:N0})")
            : FormattableString.Invariant(
                $"{done}, and {state.Position:N0} of {trainImages:N0} images into epoch {state.Epoch + 1} (step {state.Step:N0}); training.test_error is epoch {state.Epoch}'s, at its end");
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
        // Which kind of file it is first (a weight file's tensors may be F16), then every tensor.
        if (!TrainingCheckpoint.IsCheckpoint(SafeTensorsFile.Parse(file, path).Header.Metadata))
            throw new WeightFormatException(path, null, "metadata trainer.format is missing: a weight file, not a training checkpoint");
        var (tensors, meta) = EfficientWeightsWriter.Read(file, path);
        var (options, state, trainImages) = TrainingCheckpoint.ReadRun(meta, path, CapsNetArchitecture.Paper);
        if (options.Data != TrainingDataKind.EfficientImages)
            throw new WeightFormatException(path, null, $"trainer.data is {TrainingSamples.Name(options.Data)}, an Efficient-CapsNet run's is {TrainingSamples.Name(TrainingDataKind.EfficientImages)}");
        int expected = EfficientWeightsWriter.Tensors.Count + 2 * EfficientWeightsWriter.Tensors.Count(t => t.Trained);
        if (tensors.Count != expected) throw new WeightFormatException(path, null, $"{tensors.Count} tensors, a checkpoint has {expected}");
        return new EfficientCheckpoint { Options = options, TrainImages = trainImages, State = state, Tensors = tensors };
    }
}
