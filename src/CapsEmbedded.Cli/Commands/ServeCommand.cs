using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet serve</c>: starts <c>capsnet-serve</c> (src/CapsEmbedded.Serve, an ASP.NET Core tool kept out of this
/// NativeAOT binary) from next to capsnet or $CAPSNET_SERVE, passes the arguments on, and stops it when capsnet stops.
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
            return Run(Locate(), args);
        }));
        return command;
    }

    private static string Locate()
    {
        string? configured = Environment.GetEnvironmentVariable("CAPSNET_SERVE");
        if (!string.IsNullOrEmpty(configured))
            return File.Exists(configured) ? configured : throw new CliException($"CAPSNET_SERVE={configured}: no such file");
        string next = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "capsnet-serve.exe" : "capsnet-serve");
        return File.Exists(next) ? next : throw new CliException(
            $"capsnet serve runs capsnet-serve, not found next to capsnet ({AppContext.BaseDirectory}); build it with " +
            "`dotnet publish src/CapsEmbedded.Serve -c Release -o <capsnet's folder>`, set CAPSNET_SERVE, or run " +
            "`dotnet run -c Release --project src/CapsEmbedded.Serve -- [--port N]`");
    }

    private static int Run(string executable, string[] args)
    {
        var start = new ProcessStartInfo(executable) { UseShellExecute = false };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using var child = Process.Start(start) ?? throw new CliException($"could not start {executable}");
        // Stop the server with capsnet: Ctrl+C reaches both, but SIGTERM to capsnet alone would orphan it.
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            try { if (!child.HasExited) child.Kill(); } catch (InvalidOperationException) { }
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);
        child.WaitForExit();
        return child.ExitCode;
    }
}
