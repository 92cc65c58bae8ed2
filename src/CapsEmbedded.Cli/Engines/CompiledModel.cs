using CapsEmbedded.Models;
using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Engines;

/// <summary>
/// A model generated into capsnet (src/CapsEmbedded.Models), picked by <c>--model</c>: its name there, the data set
/// it was trained on (eval's default <c>--data</c>) and how to open it with its embedded weights or a loaded file.
/// </summary>
public sealed class CompiledModel
{
    public static readonly CompiledModel Mnist = new(
        "mnist", MnistCapsNet.Architecture, MnistCapsNet.WeightsFileName, MnistCapsNet.WeightsResourceName,
        () => new MnistCapsNet.Session(MnistCapsNet.Weights.Embedded),
        (weights, path) => new MnistCapsNet.Session(MnistCapsNet.Weights.FromWeights(weights, path)));

    public static readonly CompiledModel Fashion = new(
        "fashion", FashionCapsNet.Architecture, FashionCapsNet.WeightsFileName, FashionCapsNet.WeightsResourceName,
        () => new FashionCapsNet.Session(FashionCapsNet.Weights.Embedded),
        (weights, path) => new FashionCapsNet.Session(FashionCapsNet.Weights.FromWeights(weights, path)));

    public static readonly CompiledModel MultiMnist = new(
        "multimnist", MultiMnistCapsNet.Architecture, MultiMnistCapsNet.WeightsFileName, MultiMnistCapsNet.WeightsResourceName,
        () => new MultiMnistCapsNet.Session(MultiMnistCapsNet.Weights.Embedded),
        (weights, path) => new MultiMnistCapsNet.Session(MultiMnistCapsNet.Weights.FromWeights(weights, path)));

    /// <summary>Every compiled model, the default (MNIST) first.</summary>
    public static IReadOnlyList<CompiledModel> All { get; } = [Mnist, Fashion, MultiMnist];

    private readonly Func<ICapsNetSession> _embedded;
    private readonly Func<CapsNetWeights, string, ICapsNetSession> _loaded;

    private CompiledModel(string name, CapsNetArchitecture architecture, string weightsFileName, string weightsResourceName,
        Func<ICapsNetSession> embedded, Func<CapsNetWeights, string, ICapsNetSession> loaded)
    {
        Name = name;
        Architecture = architecture;
        WeightsFileName = weightsFileName;
        WeightsResourceName = weightsResourceName;
        _embedded = embedded;
        _loaded = loaded;
    }

    /// <summary>The <c>--model</c> value, which is also the name of the data set it was trained on.</summary>
    public string Name { get; }

    public CapsNetArchitecture Architecture { get; }

    public string WeightsFileName { get; }

    public string WeightsResourceName { get; }

    public string EmbeddedSource => $"embedded ({WeightsFileName})";

    /// <summary>The compiled model with the weights compiled into it.</summary>
    public GeneratedEngine OpenEmbedded() => new(_embedded(), EmbeddedSource);

    /// <summary>The compiled model with <paramref name="weights"/> (of its architecture) packed in its place.</summary>
    public GeneratedEngine OpenLoaded(CapsNetWeights weights, string path) => new(_loaded(weights, path), path);

    /// <summary>
    /// The compiled model with its embedded weights, or with the file at <paramref name="weightsPath"/>; a file of
    /// another architecture is refused by the generated FromWeights (a WeightFormatException naming the mismatch).
    /// </summary>
    public GeneratedEngine Open(string? weightsPath) => new(OpenSession(weightsPath), SourceOf(weightsPath));

    /// <summary>As <see cref="Open"/>, the generated session itself (bench sets its tier and splits an image over threads).</summary>
    public ICapsNetSession OpenSession(string? weightsPath) =>
        weightsPath is null ? _embedded() : _loaded(CapsNetWeightsFile.Load(weightsPath), weightsPath);

    /// <summary>Where the weights of <see cref="Open"/>(<paramref name="weightsPath"/>) come from, for reports.</summary>
    public string SourceOf(string? weightsPath) => weightsPath ?? EmbeddedSource;

    /// <summary>The embedded weight file as managed arrays, for the reference model and export.</summary>
    public CapsNetWeights ReadEmbedded()
    {
        using var stream = typeof(MnistCapsNet).Assembly.GetManifestResourceStream(WeightsResourceName)
            ?? throw new CliException($"resource {WeightsResourceName} is missing from the build");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return CapsNetWeightsFile.Read(bytes, WeightsFileName);
    }

    /// <summary>The model of a <c>--model</c> value (the option accepts only these names); null, when none was given, is MNIST.</summary>
    public static CompiledModel Named(string? name) =>
        name is null ? Mnist : All.FirstOrDefault(m => m.Name == name)
        ?? throw new CliException($"--model {name} is not compiled into capsnet; use one of: {string.Join(", ", All.Select(m => m.Name))}");
}
