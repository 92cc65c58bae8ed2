namespace CapsEmbedded.Data;

/// <summary>Where data sets live when no directory is given.</summary>
public static class DataPaths
{
    /// <summary>Environment variable that overrides <see cref="DefaultRoot"/>.</summary>
    public const string EnvironmentVariable = "CAPSNET_DATA";

    /// <summary>$CAPSNET_DATA if set and not empty, else "&lt;current directory&gt;/data".</summary>
    public static string DefaultRoot
    {
        get
        {
            string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
            return string.IsNullOrWhiteSpace(fromEnvironment)
                ? Path.Combine(Directory.GetCurrentDirectory(), "data")
                : Path.GetFullPath(fromEnvironment);
        }
    }
}
