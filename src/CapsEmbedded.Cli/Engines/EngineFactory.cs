using CapsEmbedded.Models;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Engines;

/// <summary>
/// Opens the engine a command runs on: the compiled <see cref="MnistCapsNet"/> whenever the weights have its
/// architecture (embedded weights by default, or a file loaded at run time), else the scalar reference model.
/// </summary>
public static class EngineFactory
{
    public const string EmbeddedSource = "embedded (" + MnistCapsNet.WeightsFileName + ")";

    public static ICapsNetEngine Open(string? weightsPath, EngineChoice choice)
    {
        if (weightsPath is null)
        {
            return choice == EngineChoice.Reference
                ? new ReferenceEngine(ReadEmbedded(), EmbeddedSource)
                : new GeneratedEngine(MnistCapsNet.Weights.Embedded, EmbeddedSource, MnistCapsNet.ClassNames);
        }
        var weights = CapsNetWeightsFile.Load(weightsPath);
        bool fits = weights.Architecture == MnistCapsNet.Architecture;
        if (choice == EngineChoice.Generated && !fits)
            throw new CliException($"{weightsPath} holds {weights.Architecture}; the compiled model is {MnistCapsNet.Architecture} (use --engine reference)");
        return choice != EngineChoice.Reference && fits
            ? new GeneratedEngine(MnistCapsNet.Weights.FromWeights(weights, weightsPath), weightsPath, weights.ClassNames)
            : new ReferenceEngine(weights, weightsPath);
    }

    /// <summary>The embedded weight file as managed arrays, for the reference model.</summary>
    public static CapsNetWeights ReadEmbedded()
    {
        using var stream = typeof(MnistCapsNet).Assembly.GetManifestResourceStream(MnistCapsNet.WeightsResourceName)
            ?? throw new CliException($"resource {MnistCapsNet.WeightsResourceName} is missing from the build");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return CapsNetWeightsFile.Read(bytes, MnistCapsNet.WeightsFileName);
    }
}
