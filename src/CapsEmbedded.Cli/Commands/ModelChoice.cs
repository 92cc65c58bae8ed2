using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.Models;
using CapsEmbedded.Quantization;
using CapsEmbedded.Reference;
using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary>Arithmetic of the model a command runs: the float32 model, or the int8 one of a quantised file.</summary>
public enum Precision
{
    Float32,
    Int8,
}

/// <summary>Which float32 model runs a weight file (<c>--engine</c>).</summary>
public enum EngineChoice
{
    /// <summary>The compiled model when the weights fit its architecture, else the reference.</summary>
    Auto,
    Generated,
    Reference,
}

/// <summary>
/// Which model a command runs, decided in one place: <c>--model</c> (a <see cref="CompiledModel"/>, or the one of
/// <c>--data</c>), <c>--weights</c>, <c>--engine</c> and <c>--precision</c> (the options of <see cref="ModelOptions"/>) give one <see cref="ICapsNetSession"/> —
/// the compiled model, the scalar reference model (<see cref="ReferenceSession"/>) or the int8 model (<see cref="QuantizedSession"/>).
/// </summary>
internal static class ModelChoice
{
    /// <summary>", widened at load" when the embedded weights of a compiled model are widened (for the "weights …" line).</summary>
    public static string ResidencyNote(string? weightsPath, WeightResidency residency) => weightsPath is not null ? "" : residency switch
    {
        WeightResidency.Widened => ", widened to float32 at load",
        WeightResidency.WidenedPrimary => ", primary conv widened to float32 at load",
        _ => "",
    };

    /// <summary>The compiled model of a <c>--model</c> value (the option accepts only these names); null, when none was given, is MNIST.</summary>
    public static CompiledModel Named(string? name) =>
        name is null ? CompiledModel.Default : CompiledModel.Find(name)
        ?? throw new CliException($"--model {name} is not compiled into capsnet; use one of: {string.Join(", ", CompiledModel.Names)}");

    /// <summary>
    /// The <c>--model</c> given; else, when no <c>--weights</c> is given and <paramref name="explicitData"/> (a <c>--data</c> the
    /// user typed) names the data set a compiled model was trained on (or is a folder of MultiMNIST pairs), that model, so
    /// <c>eval --data fashion</c> runs the Fashion model as <c>eval --model fashion</c> reads Fashion data; else null (MNIST).
    /// </summary>
    public static string? ModelOf(string? model, string? weights, string? explicitData) =>
        model ?? (weights is null ? CompiledModel.Find(explicitData)?.Name ?? PairsModel(explicitData) : null);

    // A folder of MultiMNIST pairs (the two files, under any name) is the MultiMNIST model's data too.
    private static string? PairsModel(string? data) =>
        data is not null && MultiMnistStore.IsPairs(data, DataPaths.DefaultRoot) ? CompiledModel.MultiMnist.Name : null;

    /// <summary>
    /// The session for these flags and, for people, what runs ("compiled MnistCapsNet, Vector256 tier, weights …"). float32:
    /// the compiled model whenever the weights have its architecture (its embedded weights by default; without --model, the
    /// first compiled model of the file's architecture), else the scalar reference model; int8 needs a quantised --weights file and runs on no other engine.
    /// The compiled model's embedded weights are kept where <paramref name="residency"/> says.
    /// </summary>
    public static (ICapsNetSession Session, string Description) Open(string? weightsPath, EngineChoice choice, Precision precision, string? model,
        WeightResidency residency)
    {
        if (precision == Commands.Precision.Int8)
        {
            if (model is not null)
                throw new CliException($"--model {model} picks a compiled float32 model; --precision int8 runs the quantised --weights file instead (drop --model)");
            if (weightsPath is null)
                throw new CliException("--precision int8 needs --weights with a quantised file (write one with capsnet quantize)");
            if (choice == EngineChoice.Reference)
                throw new CliException("--precision int8 runs the int8 model only; --engine reference is float32");
            var int8 = QuantizedSession.Load(weightsPath);
            return (int8, $"int8 {int8.ModelName} ({QuantizedCapsNetWeights.Scheme}), {int8.Tier} float tier, {int8.Int8Tier} int8 tier, weights {weightsPath}");
        }
        // Efficient-CapsNet (a --model of that family, or a file of it without --model) runs its compiled model only:
        // there is no scalar reference session for the family, and a file of the other family is refused naming both.
        // The file's header is read once, here; Open is told the family it names.
        CapsNetFamily? fileFamily = weightsPath is not null && File.Exists(weightsPath) ? CompiledModel.FamilyOf(weightsPath) : null;
        if (fileFamily == CapsNetFamily.Efficient || (model is not null && Named(model).Family == CapsNetFamily.Efficient))
        {
            var efficient = model is null ? CompiledModel.OfFamily(CapsNetFamily.Efficient)! : Named(model);
            if (choice == EngineChoice.Reference)
                throw new CliException($"--engine reference runs the paper network's scalar reference model; {efficient.Name} (Efficient-CapsNet) runs as the compiled model only");
            var opened = fileFamily is { } family ? efficient.Open(weightsPath!, family) : efficient.Open(weightsPath, residency);
            return (opened, $"compiled {opened.ModelName}, {opened.Tier} tier, weights {efficient.SourceOf(weightsPath)}");
        }
        var weights = weightsPath is null ? null : CapsNetWeightsFile.Load(weightsPath);
        // Without --model, a loaded file runs on the compiled model of its architecture (a 36×36 file on MultiMnistCapsNet).
        var compiled = model is null && weights is not null
            ? CompiledModel.OfArchitecture(weights.Architecture) ?? Named(model)
            : Named(model);
        string source = compiled.SourceOf(weightsPath);
        bool fits = weights is null || weights.Architecture == compiled.Architecture;
        if (choice == EngineChoice.Generated && !fits)
            throw new CliException($"{weightsPath} holds {weights!.Architecture}; the compiled model is {compiled.Architecture} (use --engine reference)");
        if (choice == EngineChoice.Reference || !fits)
            return (new ReferenceSession(weights ?? compiled.ReadEmbedded()), $"scalar reference model, weights {source}");
        var session = weights is null ? compiled.Open(weightsPath: null, residency) : compiled.Open(weights, source);
        return (session, $"compiled {session.ModelName}, {session.Tier} tier, weights {source}{ResidencyNote(weightsPath, residency)}");
    }
}
