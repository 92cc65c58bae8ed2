using System.CommandLine;
using CapsEmbedded.Data;
using CapsEmbedded.IO;
using CapsEmbedded.Weights;

namespace CapsEmbedded.CommandLine;

/// <summary>
/// The error guard of a command-line tool: a command body's known failures become one line "&lt;tool&gt;: error: …" on
/// stderr and exit code <see cref="Failure"/>; anything else "&lt;tool&gt;: internal error: …" and <see cref="InternalError"/>
/// (with the stack trace when CAPSNET_DEBUG=1). capsnet, capsnet-train and capsnet-torch each make one.
/// </summary>
/// <param name="tool">The tool's name, the first word of every error line.</param>
/// <param name="isToolError">The tool's own user-facing exceptions, beside the ones every tool shares.</param>
public sealed class ToolErrors(string tool, Func<Exception, bool> isToolError)
{
    public const int Failure = 1;
    public const int InternalError = 70; // EX_SOFTWARE

    /// <summary>Wraps a command body so that known failures print one error line and nothing else.</summary>
    public Func<ParseResult, int> Guard(Func<ParseResult, int> body) => parse =>
        Run(() => body(parse), parse.InvocationConfiguration.Error);

    /// <summary>Runs <paramref name="body"/>; a failure is one line on <paramref name="error"/> and a non-zero exit code.</summary>
    public int Run(Func<int> body, TextWriter error)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"{tool}: error: {OneLine(Describe(e))}");
            return Failure;
        }
        catch (Exception e)
        {
            error.WriteLine($"{tool}: internal error: {e.GetType().Name}: {OneLine(e.Message)}");
            if (Environment.GetEnvironmentVariable("CAPSNET_DEBUG") == "1") error.WriteLine(e);
            return InternalError;
        }
    }

    /// <summary>
    /// A message as one safe line (<see cref="UntrustedText.Line"/>: continuation lines joined, control characters
    /// escaped, at most 500 characters; the untrusted parts inside are already cut to 80 where they are quoted).
    /// </summary>
    public static string OneLine(string message) => UntrustedText.Line(message);

    /// <summary>A failure that is the user's to fix (a bad value, a missing or malformed file), not a bug.</summary>
    public bool IsUserError(Exception e) => isToolError(e) || e is WeightFormatException or IdxFormatException
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
