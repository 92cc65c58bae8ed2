using CapsEmbedded.Data;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Cli.Figures;

/// <summary>
/// A compiled model (<c>--model</c>, embedded or loaded weights) and the data set the figure commands draw from: runs
/// an image and returns what the figures need.
/// </summary>
public sealed class FigureModel : IDisposable
{
    private readonly ICapsNetSession _session;

    public FigureModel(CompiledModel model, string? weightsPath, LabeledImages data, string dataName)
    {
        _session = OpenFor(model, weightsPath, data.Rows, data.Cols, dataName);
        Data = data;
        DataName = dataName;
    }

    /// <summary>
    /// The compiled model for images of <paramref name="rows"/> × <paramref name="cols"/>: refused, naming both sizes,
    /// before any weights load when the model takes another size (a 28×28 model on 36×36 MultiMNIST pairs).
    /// </summary>
    internal static ICapsNetSession OpenFor(CompiledModel model, string? weightsPath, int rows, int cols, string dataName)
    {
        var a = model.Shape;
        if (rows != a.InputSize || cols != a.InputSize)
        {
            // The hint names the data set's own model when it fits (fashion data: --model fashion), else any that does.
            var fitting = CompiledModel.All.Where(m => m.Shape.InputSize == rows && rows == cols).ToList();
            var hint = fitting.FirstOrDefault(m => m.Name == dataName) ?? fitting.FirstOrDefault();
            throw new CliException($"{dataName} holds {rows}x{cols} images; the model ({model.Name}) needs {a.InputSize}x{a.InputSize}"
                + (hint is null ? "" : $" (use --model {hint.Name})"));
        }
        return model.Open(weightsPath);
    }

    public LabeledImages Data { get; }
    public string DataName { get; }
    public ModelShape Shape => _session.Shape;
    public int Side => Shape.InputSize;
    public int Dims => Shape.ClassDims;

    public int CheckIndex(int index, string option) => index >= 0 && index < Data.Count ? index
        : throw new CliException($"{option} {index} is outside {DataName}'s {Data.Count:N0} images (0..{Data.Count - 1})");

    /// <summary>Runs image <paramref name="index"/>: class, lengths, capsules, reconstruction from the predicted capsule (and from the true one).</summary>
    public DigitResult Run(int index, bool withTrueReconstruction, out float[] capsules)
    {
        var a = Shape;
        var image = new float[a.InputLength];
        Data.CopyImage(index, image);
        var lengths = new float[a.Classes];
        capsules = new float[a.Classes * a.ClassDims];
        var reconstruction = new float[a.InputLength];
        int predicted = _session.Predict(image, lengths, capsules, reconstruction);
        int label = Data.Labels[index];
        float[]? fromTrue = null;
        if (withTrueReconstruction && label < a.Classes)
        {
            fromTrue = new float[a.InputLength];
            _session.Reconstruct(capsules, label, fromTrue);
        }
        return new DigitResult(index, image, label, predicted, lengths, reconstruction, fromTrue);
    }

    /// <summary>Decodes <paramref name="capsules"/> with every capsule but <paramref name="keep"/> masked.</summary>
    public float[] Reconstruct(ReadOnlySpan<float> capsules, int keep)
    {
        var reconstruction = new float[Shape.InputLength];
        _session.Reconstruct(capsules, keep, reconstruction);
        return reconstruction;
    }

    /// <summary>Classes of images [0, count) over <paramref name="threads"/> workers (the errors scan).</summary>
    public int[] Classify(int count, int threads)
    {
        int pixels = Shape.InputLength;
        var images = new float[(long)count * pixels];
        for (int i = 0; i < count; i++) Data.CopyImage(i, images.AsSpan(i * pixels, pixels));
        var lengths = new float[(long)count * Shape.Classes];
        var classes = new int[count];
        using var context = _session.CreateBatchContext(threads);
        _session.PredictBatch(images, lengths, classes, context);
        return classes;
    }

    public void Dispose() => _session.Dispose();
}
