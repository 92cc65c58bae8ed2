using CapsEmbedded.Models;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Engines;

/// <summary>
/// A model generated into capsnet (src/CapsEmbedded.Models), picked by <c>--model</c>: its name there, the data set
/// it was trained on (eval's default <c>--data</c>) and how to open it with its embedded weights or a loaded file.
/// </summary>
public sealed class CompiledModel
{
    public static readonly CompiledModel Mnist = new(
        "mnist", nameof(MnistCapsNet), MnistCapsNet.Architecture, MnistCapsNet.WeightsFileName, MnistCapsNet.WeightsResourceName,
        source => new MnistEngine(MnistCapsNet.Weights.Embedded, source, MnistCapsNet.ClassNames),
        (weights, path) => new MnistEngine(MnistCapsNet.Weights.FromWeights(weights, path), path, weights.ClassNames));

    public static readonly CompiledModel Fashion = new(
        "fashion", nameof(FashionCapsNet), FashionCapsNet.Architecture, FashionCapsNet.WeightsFileName, FashionCapsNet.WeightsResourceName,
        source => new FashionEngine(FashionCapsNet.Weights.Embedded, source, FashionCapsNet.ClassNames),
        (weights, path) => new FashionEngine(FashionCapsNet.Weights.FromWeights(weights, path), path, weights.ClassNames));

    /// <summary>Every compiled model, the default (MNIST) first.</summary>
    public static IReadOnlyList<CompiledModel> All { get; } = [Mnist, Fashion];

    private readonly Func<string, GeneratedEngine> _openEmbedded;
    private readonly Func<CapsNetWeights, string, GeneratedEngine> _openLoaded;

    private CompiledModel(string name, string className, CapsNetArchitecture architecture, string weightsFileName,
        string weightsResourceName, Func<string, GeneratedEngine> openEmbedded, Func<CapsNetWeights, string, GeneratedEngine> openLoaded)
    {
        Name = name;
        ClassName = className;
        Architecture = architecture;
        WeightsFileName = weightsFileName;
        WeightsResourceName = weightsResourceName;
        _openEmbedded = openEmbedded;
        _openLoaded = openLoaded;
    }

    /// <summary>The <c>--model</c> value, which is also the name of the data set it was trained on.</summary>
    public string Name { get; }

    /// <summary>The generated class, e.g. FashionCapsNet.</summary>
    public string ClassName { get; }

    public CapsNetArchitecture Architecture { get; }

    public string WeightsFileName { get; }

    public string WeightsResourceName { get; }

    public string EmbeddedSource => $"embedded ({WeightsFileName})";

    /// <summary>The compiled model with the weights compiled into it.</summary>
    public GeneratedEngine OpenEmbedded() => _openEmbedded(EmbeddedSource);

    /// <summary>The compiled model with <paramref name="weights"/> (of its architecture) packed in its place.</summary>
    public GeneratedEngine OpenLoaded(CapsNetWeights weights, string path) => _openLoaded(weights, path);

    /// <summary>The embedded weight file as managed arrays, for the reference model and export.</summary>
    public CapsNetWeights ReadEmbedded()
    {
        using var stream = typeof(MnistCapsNet).Assembly.GetManifestResourceStream(WeightsResourceName)
            ?? throw new CliException($"resource {WeightsResourceName} is missing from the build");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return CapsNetWeightsFile.Read(bytes, WeightsFileName);
    }

    /// <summary>The model of a <c>--model</c> value (the option accepts only these names).</summary>
    public static CompiledModel Named(string name) =>
        All.FirstOrDefault(m => m.Name == name)
        ?? throw new CliException($"--model {name} is not compiled into capsnet; use one of: {string.Join(", ", All.Select(m => m.Name))}");
}
