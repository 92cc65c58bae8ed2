using System.CommandLine;
using CapsEmbedded.CommandLine;
using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;

namespace CapsEmbedded.Cli.Commands;

/// <summary><c>capsnet data fetch mnist|fashion|multimnist</c>.</summary>
internal static class DataCommand
{
    public static Command Create()
    {
        var dataset = new Argument<string>("dataset") { Description = "mnist, fashion, or multimnist (generated from MNIST's test digits)" };
        dataset.AcceptOnlyFromAmong("mnist", "fashion", MultiMnistStore.Name);
        var dataDir = ToolOptions.DataDir();
        var pairsPerDigit = new Option<int?>("--pairs-per-digit")
        {
            Description = $"multimnist: pairs per MNIST test digit (default {MultiMnistGenerator.DefaultPairsPerDigit}: 100,000 pairs)",
        };
        var seed = new Option<ulong?>("--seed") { Description = $"multimnist: seed of the pairs (default {MultiMnistGenerator.DefaultSeed})" };
        var force = new Option<bool>("--force") { Description = "multimnist: replace files that differ from what these flags generate" };
        var fetch = new Command("fetch", "Download a data set into the data folder and verify its SHA-256 (idempotent); multimnist is generated from MNIST")
        {
            dataset, dataDir, pairsPerDigit, seed, force,
        };
        fetch.SetAction(CommandRunner.Guard(parse =>
        {
            string name = parse.GetValue(dataset)!, root = parse.GetValue(dataDir)!;
            var output = parse.InvocationConfiguration.Output;
            if (name != MultiMnistStore.Name)
            {
                if (parse.GetValue(pairsPerDigit) is not null || parse.GetValue(seed) is not null || parse.GetValue(force))
                    throw new CliException($"--pairs-per-digit, --seed and --force apply to multimnist only, not {name}");
                DatasetFetcher.Fetch(name, root, output);
                return 0;
            }
            int perDigit = CommonOptions.Positive(parse.GetValue(pairsPerDigit) ?? MultiMnistGenerator.DefaultPairsPerDigit, "--pairs-per-digit");
            FetchMultiMnist(root, perDigit, parse.GetValue(seed) ?? MultiMnistGenerator.DefaultSeed, parse.GetValue(force), output);
            return 0;
        }));
        return new Command("data", "Data sets") { fetch };
    }

    /// <summary>Fetches MNIST first when its test files are missing, then generates MultiMNIST from its test digits.</summary>
    private static void FetchMultiMnist(string root, int pairsPerDigit, ulong seed, bool force, TextWriter output)
    {
        // Whatever MNIST test files are there are used as they are (verified by `data fetch mnist`, not here), so a
        // set can also be generated from a copy of the digits; only a missing MNIST is fetched.
        string mnist = DatasetStore.ResolveDirectory("mnist", root);
        try
        {
            DatasetStore.FindFiles("mnist", DatasetSplit.Test, mnist);
        }
        catch (DatasetNotFoundException)
        {
            output.WriteLine($"multimnist: MNIST's test digits are not in {mnist}; fetching MNIST first");
            DatasetFetcher.Fetch("mnist", root, output);
        }
        var digits = DatasetStore.Load("mnist", DatasetSplit.Test, root);
        long pairs = (long)pairsPerDigit * digits.Count;
        if (pairs > MultiMnistGenerator.MaxPairs)
            throw new CliException($"--pairs-per-digit {pairsPerDigit} gives {pairs:N0} pairs; at most {MultiMnistGenerator.MaxPairs:N0} fit in one set ({MultiMnistGenerator.MaxPairs / digits.Count} per digit)");
        MultiMnistGenerator.Generate(digits, MultiMnistStore.ResolveDirectory(MultiMnistStore.Name, root), pairsPerDigit, seed, force, output);
    }
}
