using CapsEmbedded.Data;
using CapsEmbedded.Models;

namespace CapsEmbedded.Cli.Figures;

/// <summary>
/// The generated <see cref="MnistCapsNet"/> (embedded or loaded weights) with one workspace, and the data set the
/// figure commands draw from: runs a digit and returns what the figures need.
/// </summary>
public sealed class FigureModel : IDisposable
{
    private readonly MnistCapsNet.Weights _weights;
    private readonly MnistCapsNet.Workspace _workspace = new();

    public FigureModel(string? weightsPath, LabeledImages data, string dataName)
    {
        if (data.Rows != MnistCapsNet.InputSize || data.Cols != MnistCapsNet.InputSize)
            throw new CliException($"{dataName} holds {data.Rows}x{data.Cols} images; the model needs {MnistCapsNet.InputSize}x{MnistCapsNet.InputSize}");
        _weights = weightsPath is null ? MnistCapsNet.Weights.Embedded : MnistCapsNet.Weights.Load(weightsPath);
        Data = data;
        DataName = dataName;
    }

    public LabeledImages Data { get; }
    public string DataName { get; }
    public const int Side = MnistCapsNet.InputSize;
    public const int Dims = MnistCapsNet.ClassDims;

    public int CheckIndex(int index, string option) => index >= 0 && index < Data.Count ? index
        : throw new CliException($"{option} {index} is outside {DataName}'s {Data.Count:N0} images (0..{Data.Count - 1})");

    /// <summary>Runs image <paramref name="index"/>: class, lengths, capsules, reconstruction from the predicted capsule (and from the true one).</summary>
    public DigitResult Run(int index, bool withTrueReconstruction, out float[] capsules)
    {
        var image = new float[MnistCapsNet.InputLength];
        Data.CopyImage(index, image);
        var lengths = new float[MnistCapsNet.Classes];
        capsules = new float[MnistCapsNet.DecoderInput];
        var reconstruction = new float[MnistCapsNet.DecoderOutput];
        int predicted = MnistCapsNet.Predict(_weights, _workspace, image, lengths, capsules, reconstruction);
        int label = Data.Labels[index];
        float[]? fromTrue = null;
        if (withTrueReconstruction && label < MnistCapsNet.Classes)
        {
            fromTrue = new float[MnistCapsNet.DecoderOutput];
            MnistCapsNet.Reconstruct(_weights, _workspace, capsules, label, fromTrue);
        }
        return new DigitResult(index, image, label, predicted, lengths, reconstruction, fromTrue);
    }

    /// <summary>Decodes <paramref name="capsules"/> with every capsule but <paramref name="keep"/> masked.</summary>
    public float[] Reconstruct(ReadOnlySpan<float> capsules, int keep)
    {
        var reconstruction = new float[MnistCapsNet.DecoderOutput];
        MnistCapsNet.Reconstruct(_weights, _workspace, capsules, keep, reconstruction);
        return reconstruction;
    }

    /// <summary>Classes of images [0, count) over <paramref name="threads"/> workers (the errors scan).</summary>
    public int[] Classify(int count, int threads)
    {
        var images = new float[(long)count * MnistCapsNet.InputLength];
        for (int i = 0; i < count; i++) Data.CopyImage(i, images.AsSpan(i * MnistCapsNet.InputLength, MnistCapsNet.InputLength));
        var lengths = new float[(long)count * MnistCapsNet.Classes];
        var classes = new int[count];
        using var context = MnistCapsNet.CreateBatchContext(threads);
        MnistCapsNet.PredictBatch(_weights, images, lengths, classes, context);
        return classes;
    }

    public void Dispose()
    {
        _workspace.Dispose();
        _weights.Dispose(); // a no-op for the embedded weights
    }
}
