using System.CommandLine;
using CapsEmbedded.Cli.Commands;
using CapsEmbedded.Data;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// The one group of model options (<see cref="ModelOptions"/>) and of data-set options (<see cref="DataOptions"/>) every
/// model command uses: an option a command does not take reads as its default, a --data the user typed picks its model
/// for float32 only, and without --data the model's own data set is read.
/// </summary>
public sealed class ModelOptionsTests
{
    [Fact]
    public void An_option_the_command_takes_is_read_and_one_it_does_not_take_is_its_default()
    {
        var chosen = new ModelOptions();
        var command = new Command("x") { chosen.Model, chosen.Weights, chosen.Precision, chosen.Engine };
        var parse = command.Parse(["--precision", "int8", "--engine", "generated", "--weights", "q.safetensors"]);

        Assert.Empty(parse.Errors);
        Assert.Equal(Precision.Int8, chosen.PrecisionOf(parse));
        Assert.Equal(EngineChoice.Generated, chosen.EngineOf(parse));
        Assert.Equal(WeightResidency.InPlace, chosen.ResidencyOf(parse)); // not an option of x
        Assert.Equal("q.safetensors", chosen.WeightsPath(parse));
        Assert.Null(chosen.ModelName(parse));
        Assert.NotEmpty(command.Parse(["--residency", "widened"]).Errors);
    }

    [Theory]
    [InlineData(new string[0], "fashion", "fashion")] // float32: the model trained on the --data given
    [InlineData(new string[0], null, null)] // nothing given: MNIST
    [InlineData(new[] { "--model", "mnist" }, "fashion", "mnist")] // --model wins
    [InlineData(new[] { "--weights", "f.safetensors" }, "fashion", null)] // the file's model, not the data's
    [InlineData(new[] { "--precision", "int8", "--weights", "q.safetensors" }, "fashion", null)] // int8 runs its file
    public void The_model_follows_the_data_given_for_float32_without_a_model_or_weights(string[] args, string? data, string? model)
    {
        var chosen = new ModelOptions();
        var parse = new Command("x") { chosen.Model, chosen.Weights, chosen.Precision }.Parse(args);
        Assert.Equal(model, chosen.ModelName(parse, data));
    }

    [Fact]
    public void The_data_set_is_the_one_given_else_the_models_own_else_mnist()
    {
        var set = new DataOptions("data");
        var command = new Command("x") { set.Data, set.Split, set.DataDir };
        var none = command.Parse([]);
        Assert.Null(set.Given(none));
        Assert.Equal("fashion", set.Of(none, "fashion"));
        Assert.Equal("mnist", set.Of(none, "mnist-efficient")); // trained on MNIST
        Assert.Equal("mnist", set.Of(none, null));
        Assert.Equal(DatasetSplit.Test, set.SplitOf(none));

        var given = command.Parse(["--data", "mnist", "--split", "train", "--data-dir", "d"]);
        Assert.Equal("mnist", set.Given(given)); // typed, though it is the default
        Assert.Equal("mnist", set.Of(given, "fashion"));
        Assert.Equal(DatasetSplit.Train, set.SplitOf(given));
        Assert.Equal("d", set.Root(given));
    }
}
