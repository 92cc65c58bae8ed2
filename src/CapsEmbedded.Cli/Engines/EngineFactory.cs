using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Engines;

/// <summary>Opens the engine a command runs on.</summary>
public static class EngineFactory
{
    public static ICapsNetEngine Open(string? weightsPath, EngineChoice choice)
    {
        if (weightsPath is null)
            throw new CliException("--weights is required: this build has no compiled model");
        if (choice == EngineChoice.Generated)
            throw new CliException("--engine generated: this build has no compiled model");
        return new ReferenceEngine(CapsNetWeightsFile.Load(weightsPath), weightsPath);
    }
}
