using System.CommandLine;
using CapsEmbedded.Cli.Engines;

namespace CapsEmbedded.Cli.Commands;

/// <summary>Arithmetic of the model a command runs: the float32 model, or the int8 one of a quantised file.</summary>
public enum Precision
{
    Float32,
    Int8,
}

/// <summary><c>--precision float32|int8</c> (eval, predict, bench) and <c>--engine</c> (eval, predict): which model runs, and how.</summary>
internal static class PrecisionOption
{
    public static Option<Precision> Create() => new("--precision")
    {
        Description = "float32, or int8: the quantised model of a --weights file written by capsnet quantize",
        DefaultValueFactory = _ => Precision.Float32,
    };

    /// <summary>The engine for these flags; int8 needs a quantised --weights file and runs on no other engine.</summary>
    public static ICapsNetEngine Open(string? weightsPath, EngineChoice choice, Precision precision, string? model = null)
    {
        if (precision == Precision.Float32)
            return EngineFactory.Open(weightsPath, choice, CompiledModel.Named(model));
        if (model is not null)
            throw new CliException($"--model {model} picks a compiled float32 model; --precision int8 runs the quantised --weights file instead (drop --model)");
        if (weightsPath is null)
            throw new CliException("--precision int8 needs --weights with a quantised file (write one with capsnet quantize)");
        if (choice == EngineChoice.Reference)
            throw new CliException("--precision int8 runs the int8 model only; --engine reference is float32");
        return QuantizedEngine.Open(weightsPath);
    }

    /// <summary><c>--engine auto|generated|reference</c>, shared by eval and predict; <see cref="Open"/> takes both.</summary>
    public static Option<EngineChoice> Engine() => new("--engine")
    {
        Description = "auto (compiled model when the weights fit it), generated, or reference",
        DefaultValueFactory = _ => EngineChoice.Auto,
    };
}
