using System.CommandLine;
using CapsEmbedded.CommandLine;
using CapsEmbedded.Data;
using CapsEmbedded.Models;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// The options that pick the labelled set a command reads (eval and the figures), defined once: <c>--data</c>,
/// <c>--split</c> and <c>--data-dir</c>. With <see cref="ModelOptions"/> they follow one rule: a <c>--data</c> the user
/// gave picks the model trained on it (<see cref="Given"/>), and without one the model's own data set is read (<see cref="Of"/>).
/// </summary>
internal sealed class DataOptions(string dataDescription)
{
    /// <summary><c>--data</c>: a data set's name or a folder of its files; mnist unless given.</summary>
    public Option<string> Data { get; } = new("--data", "-d")
    {
        Description = dataDescription,
        DefaultValueFactory = _ => "mnist",
    };

    /// <summary><c>--split test|train</c> of <see cref="Data"/>.</summary>
    public Option<string> Split { get; } = TestOrTrain();

    /// <summary><c>--data-dir</c>: where fetched data sets are.</summary>
    public Option<string> DataDir { get; } = ToolOptions.DataDir();

    private static Option<string> TestOrTrain()
    {
        var split = new Option<string>("--split") { Description = "test or train", DefaultValueFactory = _ => "test" };
        split.AcceptOnlyFromAmong("test", "train");
        return split;
    }

    /// <summary>The <c>--data</c> value when the user gave it, else null (its default).</summary>
    public string? Given(ParseResult parse) => parse.GetResult(Data) is { Implicit: false } ? parse.GetValue(Data) : null;

    /// <summary>The <c>--data</c> given, else the data set of <paramref name="model"/> (mnist for mnist-efficient), else the default (mnist).</summary>
    public string Of(ParseResult parse, string? model) =>
        Given(parse) ?? (model is null ? null : CompiledModel.Find(model)?.Data ?? model) ?? parse.GetValue(Data)!;

    public DatasetSplit SplitOf(ParseResult parse) => parse.GetValue(Split) == "train" ? DatasetSplit.Train : DatasetSplit.Test;

    /// <summary>The <c>--data-dir</c> folder.</summary>
    public string Root(ParseResult parse) => parse.GetValue(DataDir)!;
}
