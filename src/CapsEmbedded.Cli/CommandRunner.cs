using System.CommandLine;
using CapsEmbedded.Data;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli;

/// <summary>A user-facing error: printed as one line, exit code 1.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>Runs the parsed command; every error becomes one line on stderr and a non-zero exit code.</summary>
public static class CommandRunner
{
    public const int Failure = 1;
    public const int InternalError = 70; // EX_SOFTWARE

    /// <summary>Wraps a command body so that known failures print "capsnet: error: …" and nothing else.</summary>
    public static Func<ParseResult, int> Guard(Func<ParseResult, int> body) => parse =>
        Run(() => body(parse), parse.InvocationConfiguration.Error);

    public static int Run(Func<int> body, TextWriter error)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"capsnet: error: {Describe(e)}");
            return Failure;
        }
        catch (Exception e)
        {
            error.WriteLine($"capsnet: internal error: {e.GetType().Name}: {e.Message}");
            if (Environment.GetEnvironmentVariable("CAPSNET_DEBUG") == "1") error.WriteLine(e);
            return InternalError;
        }
    }

    private static bool IsUserError(Exception e) => e is CliException or WeightFormatException or IdxFormatException
        or ImageFormatException or DatasetFetchException or IOException or UnauthorizedAccessException
        or ArgumentException or PlatformNotSupportedException or OperationCanceledException;

    /// <summary>The message a person needs: no "(Parameter 'x')" suffix, a plain "not found" for missing files.</summary>
    private static string Describe(Exception e) => e switch
    {
        DatasetNotFoundException => e.Message,
        FileNotFoundException { FileName: { } file } => $"{file}: no such file",
        DirectoryNotFoundException => $"{e.Message.TrimEnd('.')} (no such directory)",
        ArgumentException { ParamName: { } name } a => a.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal),
        _ => e.Message,
    };
}
