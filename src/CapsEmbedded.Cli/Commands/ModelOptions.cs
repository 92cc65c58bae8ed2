using System.CommandLine;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// The options that pick the model a command runs, defined once: <c>--model</c>, <c>--weights</c>, <c>--engine</c>,
/// <c>--precision</c> and <c>--residency</c>. A command lists the ones it takes (in its own help order) and asks the group
/// for the model; an option the command does not take reads as its default. <see cref="ModelChoice"/> decides what runs.
/// </summary>
internal sealed class ModelOptions
{
    /// <summary>
    /// <c>--model mnist|fashion|multimnist|mnist-efficient</c>: which compiled model runs. Null when not given, which means
    /// the model of the --weights file or --data, else MNIST; it also lets <c>--precision int8</c> refuse a --model it would not use.
    /// </summary>
    public Option<string?> Model { get; } = CompiledModelOption();

    /// <summary><c>--weights</c>: a weight file instead of the compiled model's embedded one.</summary>
    public Option<string?> Weights { get; } = CommonOptions.Weights(required: false);

    /// <summary><c>--engine auto|generated|reference</c> (eval, predict).</summary>
    public Option<EngineChoice> Engine { get; } = new("--engine")
    {
        Description = "auto (compiled model when the weights fit it), generated, or reference",
        DefaultValueFactory = _ => EngineChoice.Auto,
    };

    /// <summary><c>--precision float32|int8</c> (eval, predict, bench).</summary>
    public Option<Precision> Precision { get; } = new("--precision")
    {
        Description = "float32, or int8: the quantised model of a --weights file written by capsnet quantize",
        DefaultValueFactory = _ => Commands.Precision.Float32,
    };

    /// <summary>
    /// <c>--residency inplace|widened|widenedprimary</c> (eval, bench): where a compiled model's embedded F16 weights live
    /// (<see cref="WeightResidency"/>); a --weights file is widened at load either way.
    /// </summary>
    public Option<WeightResidency> Residency { get; } = new("--residency")
    {
        Description = "Embedded weights: inplace (F16 read where they lie, widened per image: half the memory and DRAM traffic, faster when threads split an image), widened (float32 once at load: faster on one thread) or widenedprimary (only the primary conv's float32 at load, W in place: faster on one thread of a Pi 5-class core); same outputs",
        DefaultValueFactory = _ => WeightResidency.InPlace,
    };

    private static Option<string?> CompiledModelOption()
    {
        var model = new Option<string?>("--model", "-m")
        {
            Description = "Compiled model: mnist (handwritten digits), fashion (Fashion-MNIST clothing), multimnist (two overlapping digits, 36x36) or mnist-efficient (Efficient-CapsNet on handwritten digits, 1/6 of mnist's multiply-adds); default: the model of the --weights file's size, else of --data mnist|fashion|multimnist, else mnist",
        };
        model.AcceptOnlyFromAmong([.. CompiledModel.Names]);
        return model;
    }

    /// <summary>The <c>--weights</c> file given, else null (the compiled model's embedded weights).</summary>
    public string? WeightsPath(ParseResult parse) => parse.GetValue(Weights);

    /// <summary>The <c>--model</c> given, else null.</summary>
    public string? ModelName(ParseResult parse) => parse.GetValue(Model);

    public EngineChoice EngineOf(ParseResult parse) => Taken(parse, Engine) ? parse.GetValue(Engine) : EngineChoice.Auto;

    public Precision PrecisionOf(ParseResult parse) => Taken(parse, Precision) ? parse.GetValue(Precision) : Commands.Precision.Float32;

    public WeightResidency ResidencyOf(ParseResult parse) => Taken(parse, Residency) ? parse.GetValue(Residency) : WeightResidency.InPlace;

    /// <summary>
    /// The model the flags pick, by name, with <paramref name="data"/> the data set the user named (null when none): the
    /// <c>--model</c> given; for float32 without <c>--weights</c>, the model trained on <paramref name="data"/>
    /// (<see cref="ModelChoice.ModelOf"/>); else null (the --weights file's model, or MNIST). int8 runs the --weights file,
    /// so no model follows the data there.
    /// </summary>
    public string? ModelName(ParseResult parse, string? data) => PrecisionOf(parse) == Commands.Precision.Int8
        ? ModelName(parse)
        : ModelChoice.ModelOf(ModelName(parse), WeightsPath(parse), data);

    /// <summary>The session of these flags for the model <paramref name="modelName"/> (<see cref="ModelName(ParseResult, string?)"/>) and what runs.</summary>
    public (ICapsNetSession Session, string Description) Open(ParseResult parse, string? modelName) =>
        ModelChoice.Open(WeightsPath(parse), EngineOf(parse), PrecisionOf(parse), modelName, ResidencyOf(parse));

    // An option the command does not take has no result in its parse (one it takes has, given or not): it reads as the default.
    private static bool Taken(ParseResult parse, Option option) => parse.GetResult(option) is not null;
}
