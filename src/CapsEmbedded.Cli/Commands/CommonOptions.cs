using System.CommandLine;
using CapsEmbedded.Data;

namespace CapsEmbedded.Cli.Commands;

/// <summary>Options shared by several commands, so their names and help read the same everywhere.</summary>
internal static class CommonOptions
{
    public static Option<string> DataDir() => new("--data-dir")
    {
        Description = "Folder that holds fetched data sets (default: $CAPSNET_DATA or ./data)",
        DefaultValueFactory = _ => DataPaths.DefaultRoot,
    };

    public static Option<string?> Weights(bool required) => new("--weights", "-w")
    {
        Description = required
            ? "Weight file (.safetensors)"
            : "Weight file (.safetensors); default: the model compiled into capsnet",
        Required = required,
    };

    public static Option<int> Threads() => new("--threads")
    {
        Description = "Worker threads (default: all cores)",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    public static int NonNegative(int value, string option) =>
        value >= 0 ? value : throw new CliException($"{option} must not be negative, got {value}");

    public static int Positive(int value, string option) =>
        value >= 1 ? value : throw new CliException($"{option} must be at least 1, got {value}");
}
