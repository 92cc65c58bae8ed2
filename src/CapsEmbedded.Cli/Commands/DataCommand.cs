using System.CommandLine;
using CapsEmbedded.Data;

namespace CapsEmbedded.Cli.Commands;

/// <summary><c>capsnet data fetch mnist|fashion</c>.</summary>
internal static class DataCommand
{
    public static Command Create()
    {
        var dataset = new Argument<string>("dataset") { Description = "mnist or fashion" };
        dataset.AcceptOnlyFromAmong("mnist", "fashion");
        var dataDir = CommonOptions.DataDir();
        var fetch = new Command("fetch", "Download a data set into the data folder and verify its SHA-256 (idempotent)")
        {
            dataset, dataDir,
        };
        fetch.SetAction(CommandRunner.Guard(parse =>
        {
            DatasetFetcher.Fetch(parse.GetValue(dataset)!, parse.GetValue(dataDir)!, parse.InvocationConfiguration.Output);
            return 0;
        }));
        return new Command("data", "Data sets") { fetch };
    }
}
