using System.CommandLine;
using System.Globalization;
using CapsEmbedded.Data;

namespace CapsEmbedded.CommandLine;

/// <summary>Options that capsnet, capsnet-train and capsnet-torch all take, so their names, defaults and help read the same.</summary>
public static class ToolOptions
{
    /// <summary><c>--data-dir</c>: where fetched data sets are (<see cref="DataPaths.DefaultRoot"/> unless given).</summary>
    public static Option<string> DataDir() => new("--data-dir")
    {
        Description = "Folder that holds fetched data sets (default: $CAPSNET_DATA or ./data)",
        DefaultValueFactory = _ => DataPaths.DefaultRoot,
    };

    /// <summary>
    /// <c>--threads</c>, <paramref name="fallback"/> threads unless given (all cores when null); <paramref name="what"/>
    /// says whose threads they are.
    /// </summary>
    public static Option<int> Threads(string what = "Worker threads", int? fallback = null) => new("--threads")
    {
        Description = $"{what} (default: {(fallback is { } count ? count.ToString(CultureInfo.InvariantCulture) : "all cores")})",
        DefaultValueFactory = _ => fallback ?? Environment.ProcessorCount,
    };
}
