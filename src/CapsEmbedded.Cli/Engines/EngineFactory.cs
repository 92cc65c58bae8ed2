using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Engines;

/// <summary>
/// Opens the engine a command runs on: a compiled model (<see cref="CompiledModel"/>, MNIST unless <c>--model</c> says
/// otherwise) whenever the weights have its architecture (its embedded weights by default, or a file loaded at run
/// time), else the scalar reference model.
/// </summary>
public static class EngineFactory
{
    public static ICapsNetEngine Open(string? weightsPath, EngineChoice choice, CompiledModel model)
    {
        if (weightsPath is null)
        {
            return choice == EngineChoice.Reference
                ? new ReferenceEngine(model.ReadEmbedded(), model.EmbeddedSource)
                : model.OpenEmbedded();
        }
        var weights = CapsNetWeightsFile.Load(weightsPath);
        bool fits = weights.Architecture == model.Architecture;
        if (choice == EngineChoice.Generated && !fits)
            throw new CliException($"{weightsPath} holds {weights.Architecture}; the compiled model is {model.Architecture} (use --engine reference)");
        return choice != EngineChoice.Reference && fits
            ? model.OpenLoaded(weights, weightsPath)
            : new ReferenceEngine(weights, weightsPath);
    }
}
