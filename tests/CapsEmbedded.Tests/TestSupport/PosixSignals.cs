using System.Diagnostics;

namespace CapsEmbedded.Tests.TestSupport;

/// <summary>Signals for the tests that stop a child process (Linux: /proc and kill(1)).</summary>
internal static class PosixSignals
{
    /// <summary>Whether signal <paramref name="number"/> is ignored in this process (/proc/self/status, SigIgn mask).</summary>
    public static bool IgnoredHere(int number)
    {
        string mask = File.ReadLines("/proc/self/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))[7..].Trim();
        return (Convert.ToUInt64(mask, 16) & (1UL << (number - 1))) != 0;
    }

    /// <summary>
    /// Fails the test, saying why, when SIGINT is ignored here: a shell without job control starts background commands with
    /// SIGINT ignored, children inherit that, and .NET (like every POSIX program) leaves an inherited-ignored SIGINT ignored.
    /// </summary>
    public static void AssertInterruptReachesChildren(string signal) =>
        Assert.False(signal == "INT" && IgnoredHere(2),
            "SIGINT is ignored in the test process (started with `&` from a non-interactive shell?); run the tests in the foreground or under `set -m`");

    /// <summary>Sends SIGTERM, SIGINT, … (by name without "SIG") to <paramref name="processId"/>.</summary>
    public static void Send(int processId, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", processId.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            { RedirectStandardError = true })!;
        kill.WaitForExit();
        Assert.True(kill.ExitCode == 0, $"kill -{signal} {processId} failed: {kill.StandardError.ReadToEnd()}");
    }
}
