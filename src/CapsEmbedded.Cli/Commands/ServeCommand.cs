using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet serve</c>: starts <c>capsnet-serve</c> (src/CapsEmbedded.Serve, an ASP.NET Core tool kept out of this
/// NativeAOT binary) from $CAPSNET_SERVE, from next to capsnet, or, in a source checkout, through <c>dotnet run</c> of
/// its project; passes the arguments on, and stops it when capsnet stops.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var rest = new Argument<string[]>("options")
        {
            Description = "--port N (default 5280, 0 = any free), --host 127.0.0.1, --data mnist, --data-dir DIR, --weights FILE",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("serve", "Local page: draw a digit (or load a test image; --model fashion for clothing), see its capsules and turn their dimensions (runs capsnet-serve)") { rest };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var args = (parse.GetValue(rest) ?? []).Concat(parse.UnmatchedTokens).ToArray();
            var (file, leading) = Locate(AppContext.BaseDirectory, Environment.GetEnvironmentVariable("CAPSNET_SERVE"));
            return Run(file, [.. leading, .. args]);
        }));
        return command;
    }

    /// <summary>The program that runs capsnet-serve and the arguments that go before the user's.</summary>
    internal static (string File, string[] Arguments) Locate(string baseDirectory, string? configured)
    {
        if (!string.IsNullOrEmpty(configured))
            return File.Exists(configured) ? (configured, []) : throw new CliException($"CAPSNET_SERVE={configured}: no such file");
        string next = Path.Combine(baseDirectory, OperatingSystem.IsWindows() ? "capsnet-serve.exe" : "capsnet-serve");
        if (File.Exists(next)) return (next, []);
        // `dotnet run --project src/CapsEmbedded.Cli` has published nothing: build and run the server's project instead.
        if (SourceCheckout(baseDirectory) is (string project, string configuration))
            return ("dotnet", ["run", "-c", configuration, "--project", project, "--"]);
        throw new CliException(
            $"capsnet serve runs capsnet-serve, not found next to capsnet ({baseDirectory}); build it with " +
            "`dotnet publish src/CapsEmbedded.Serve -c Release -o <capsnet's folder>`, set CAPSNET_SERVE, or run " +
            "`dotnet run -c Release --project src/CapsEmbedded.Serve -- [--port N]`");
    }

    /// <summary>
    /// The Serve project and build configuration when capsnet runs from its build output in a source checkout,
    /// <c>ROOT/src/CapsEmbedded.Cli/bin/CONFIGURATION/TFM/</c> beside <c>ROOT/src/CapsEmbedded.Serve</c>; else null.
    /// </summary>
    private static (string Project, string Configuration)? SourceCheckout(string baseDirectory)
    {
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(baseDirectory)).Parent;
        var bin = configuration?.Parent;
        var cli = bin?.Parent;
        if (configuration is null || bin?.Name != "bin" || cli?.Name != "CapsEmbedded.Cli" || cli.Parent is null) return null;
        string project = Path.Combine(cli.Parent.FullName, "CapsEmbedded.Serve", "CapsEmbedded.Serve.csproj");
        return File.Exists(project) ? (project, configuration.Name) : null;
    }

    private static int Run(string executable, string[] args)
    {
        var start = new ProcessStartInfo(executable) { UseShellExecute = false };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using var child = Process.Start(start) ?? throw new CliException($"could not start {executable}");
        // Stop the server with capsnet: Ctrl+C reaches all, but SIGTERM to capsnet alone would orphan it (and, under
        // `dotnet run`, the server beneath it).
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            try { if (!child.HasExited) child.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);
        child.WaitForExit();
        return child.ExitCode;
    }
}
