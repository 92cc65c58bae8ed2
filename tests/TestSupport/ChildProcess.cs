using System.Diagnostics;

namespace CapsEmbedded.TestSupport;

/// <summary>
/// The one way the tests start a .NET assembly in a child process (linked into every test project that needs it):
/// the same dotnet host as this process, no inherited <c>DOTNET_Enable*</c> switch, output captured.
/// </summary>
internal static class ChildProcess
{
    /// <summary>Starts <c>dotnet exec <paramref name="assembly"/> <paramref name="args"/></c> with <paramref name="environment"/> added.</summary>
    public static Process Start(string assembly, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        Assert.True(File.Exists(assembly), $"{assembly} is missing; the test project must copy it to its output.");
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(assembly);
        foreach (string arg in args) start.ArgumentList.Add(arg);
        // A switch set for the whole test run would silently move every child to another SIMD tier.
        foreach (string key in start.Environment.Keys.Where(key => key.StartsWith("DOTNET_Enable", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return Process.Start(start)!;
    }

    /// <summary>Runs the assembly to its end (failing the test after <paramref name="timeoutSeconds"/>); returns exit code, stdout (\n lines) and stderr.</summary>
    public static (int Code, string Output, string Error) Run(string assembly, IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? environment = null, int timeoutSeconds = 300)
    {
        using var process = Start(assembly, args, environment);
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd().Replace("\r\n", "\n");
        Assert.True(process.WaitForExit(timeoutSeconds * 1000), $"{Path.GetFileName(assembly)} did not finish within {timeoutSeconds} s");
        return (process.ExitCode, output, error.Result);
    }

    /// <summary>The dotnet host that runs this test process (the test host itself is an apphost, not dotnet).</summary>
    public static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host)) return host;
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }
}
