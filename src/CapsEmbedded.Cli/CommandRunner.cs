using System.CommandLine;
using CapsEmbedded.CommandLine;
using CapsEmbedded.IO;

namespace CapsEmbedded.Cli;

/// <summary>A user-facing error: printed as one line, exit code 1.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>Runs the parsed command; every error becomes one line on stderr and a non-zero exit code.</summary>
public static class CommandRunner
{
    public const int Failure = ToolErrors.Failure;
    public const int InternalError = ToolErrors.InternalError;

    /// <summary>capsnet's error guard: the tools' shared one, with <see cref="CliException"/> as its own user error.</summary>
    public static ToolErrors Errors { get; } = new("capsnet", e => e is CliException);

    /// <summary>Wraps a command body so that known failures print "capsnet: error: …" and nothing else.</summary>
    public static Func<ParseResult, int> Guard(Func<ParseResult, int> body) => Errors.Guard(body);

    /// <summary>
    /// A parse error as one line naming what was wrong: an unknown option by its name (even where the parser took it
    /// for the command's argument), an unknown command with the list of commands, type names in plain words.
    /// </summary>
    public static int ParseFailure(ParseResult parse, TextWriter error)
    {
        var command = parse.CommandResult.Command;
        var known = new HashSet<string>(StringComparer.Ordinal);
        for (var c = parse.CommandResult; c is not null; c = c.Parent as System.CommandLine.Parsing.CommandResult)
            foreach (var option in c.Command.Options)
            {
                known.Add(option.Name);
                foreach (string alias in option.Aliases) known.Add(alias);
            }
        string? unknownOption = parse.Tokens.Select(t => t.Value)
            .FirstOrDefault(v => v.Length > 1 && v[0] == '-' && !char.IsAsciiDigit(v[1]) && v[1] != '.' && !known.Contains(v.Split('=', ':')[0]));
        string where = command is RootCommand ? "" : $"{command.Name}: ";
        string message;
        if (unknownOption is not null)
            message = $"{where}unknown option '{UntrustedText.Quote(unknownOption)}' (capsnet {(command is RootCommand ? "" : command.Name + " ")}--help lists the options)";
        else if (command is RootCommand)
        {
            string commands = string.Join(", ", command.Subcommands.Select(c => c.Name));
            message = parse.UnmatchedTokens.FirstOrDefault() is { } verb
                ? $"unknown command '{UntrustedText.Quote(verb)}'; the commands are {commands}"
                : $"no command given; the commands are {commands} (capsnet --help)";
        }
        else if (parse.UnmatchedTokens.FirstOrDefault() is { } extra)
            message = $"{where}unexpected argument '{UntrustedText.Quote(extra)}'";
        else
            message = where + System.Text.RegularExpressions.Regex.Replace(PlainTypes(parse.Errors[0].Message), @"\s*\n\s*", " ");
        error.WriteLine($"capsnet: error: {ToolErrors.OneLine(message)}");
        return Failure;
    }

    // "... as expected type 'System.Int32'." -> "... as an integer."
    private static string PlainTypes(string message) => System.Text.RegularExpressions.Regex.Replace(message,
        @"as expected type '([^']*)'", m => "as " + (m.Groups[1].Value switch
        {
            var t when t.Contains("UInt64", StringComparison.Ordinal) => "a non-negative integer",
            var t when t.Contains("Int32", StringComparison.Ordinal) => "an integer",
            var t when t.Contains("Double", StringComparison.Ordinal) => "a number",
            var t when t.Contains("Boolean", StringComparison.Ordinal) => "true or false",
            var t => "a " + t.Split('.', '+', '`', '[')[^1].Trim(']').ToLowerInvariant() + " value",
        }));
}
