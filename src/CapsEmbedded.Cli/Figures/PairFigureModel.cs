using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Cli.Figures;

/// <summary>
/// A compiled model and a MultiMNIST set (two digits per image, <see cref="MultiMnistStore"/>), for Figure 5: runs a
/// pair and decodes each of its two longest capsules on its own, as <see cref="FigureModel"/> does for one digit.
/// </summary>
public sealed class PairFigureModel : IDisposable
{
    private readonly ICapsNetSession _session;

    public PairFigureModel(CompiledModel model, string? weightsPath, LabeledPairs pairs, string dataName)
    {
        if (model.Shape.Classes <= DatasetStore.MaxLabel)
            throw new CliException($"the model ({model.Name}) has {model.Shape.Classes} classes; MultiMNIST labels are the digits 0..{DatasetStore.MaxLabel}");
        _session = FigureModel.OpenFor(model, weightsPath, pairs.Rows, pairs.Cols, dataName);
        Pairs = pairs;
        DataName = dataName;
    }

    public LabeledPairs Pairs { get; }
    public string DataName { get; }
    public int Side => _session.Shape.InputSize;

    /// <summary>
    /// Runs pair <paramref name="index"/>: its two longest capsules (<see cref="TopK.Longest(ReadOnlySpan{float}, Span{int})"/>,
    /// the paper's reading) and the decoder's image from each with every other capsule masked (paper §6: "each digit
    /// reconstructed from its own capsule").
    /// </summary>
    public PairResult Run(int index)
    {
        var a = _session.Shape;
        var image = new float[a.InputLength];
        Pairs.CopyImage(index, image);
        var lengths = new float[a.Classes];
        var capsules = new float[a.Classes * a.ClassDims];
        _session.Predict(image, lengths, capsules, Span<float>.Empty);
        if (NonFiniteLengths.Any(lengths)) throw new CliException(NonFiniteLengths.Message($"pair {index}"));
        var (longest, second) = FigureRenderer.TwoLongest(lengths);
        var fromLongest = new float[a.InputLength];
        var fromSecond = new float[a.InputLength];
        _session.Reconstruct(capsules, longest, fromLongest);
        _session.Reconstruct(capsules, second, fromSecond);
        var labels = Pairs.GetLabels(index);
        return new PairResult(index, image, labels[0], labels[1], longest, second, fromLongest, fromSecond);
    }

    public void Dispose() => _session.Dispose();
}
