using System.ComponentModel;
using System.Diagnostics;

namespace CapsEmbedded.Data;

/// <summary>Runs npm / apt-get / dpkg-deb with an argument list (no shell), checks the exit code and reports stderr on failure.</summary>
internal static class ExternalTool
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Runs <paramref name="tool"/>; <paramref name="consumeStdout"/> (if given) reads stdout as a stream, otherwise stdout
    /// is captured and returned. <paramref name="missingHint"/> tells the user what to do if the tool is not installed.
    /// </summary>
    public static string Run(string tool, IReadOnlyList<string> arguments, string workingDirectory, string missingHint,
        Action<Stream>? consumeStdout = null, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? DefaultTimeout;
        var start = new ProcessStartInfo(tool)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        string commandLine = tool + " " + string.Join(" ", arguments);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new DatasetFetchException($"could not start `{commandLine}`");
        }
        catch (Win32Exception e)
        {
            throw new DatasetFetchException($"`{tool}` was not found or could not be started ({e.Message}); {missingHint}", e);
        }

        using (process)
        {
            process.StandardInput.Close();
            // stderr is drained concurrently, or a chatty tool blocks on a full pipe while we read stdout.
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            string stdout = "";
            // A hung tool (stalled download) is killed; that closes its pipes and ends the reads below.
            int timedOut = 0;
            using var watchdog = new Timer(_ =>
            {
                Volatile.Write(ref timedOut, 1);
                TryKill(process);
            }, null, limit, Timeout.InfiniteTimeSpan);
            try
            {
                if (consumeStdout is null)
                {
                    stdout = process.StandardOutput.ReadToEnd();
                }
                else
                {
                    Stream output = process.StandardOutput.BaseStream;
                    consumeStdout(output);
                    output.CopyTo(Stream.Null); // the consumer may stop early; let the tool finish writing
                }
                process.WaitForExit();
            }
            catch (Exception) when (Volatile.Read(ref timedOut) == 0)
            {
                TryKill(process);
                throw;
            }
            catch (Exception e)
            {
                throw TimedOut(commandLine, limit, e);
            }
            if (Volatile.Read(ref timedOut) != 0)
                throw TimedOut(commandLine, limit, null);

            string errors = stderr.GetAwaiter().GetResult().Trim();
            if (process.ExitCode != 0)
            {
                string detail = errors.Length > 0 ? errors : stdout.Trim();
                throw new DatasetFetchException($"`{commandLine}` failed with exit code {process.ExitCode}: {detail}");
            }
            return stdout;
        }
    }

    private static DatasetFetchException TimedOut(string commandLine, TimeSpan limit, Exception? inner) =>
        new($"`{commandLine}` did not finish within {limit.TotalSeconds:0.#} s and was stopped", inner);

    private static void TryKill(Process process)
    {
        try
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception)
        {
            // Already gone, or not ours to kill any more; this also runs on a timer thread, where nothing may escape.
        }
    }
}
