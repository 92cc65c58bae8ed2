using System.ComponentModel;
using System.Diagnostics;

namespace CapsEmbedded.Data;

/// <summary>Runs npm / apt-get / dpkg-deb with an argument list (no shell), checks the exit code and reports stderr on failure.</summary>
internal static class ExternalTool
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Runs <paramref name="tool"/>; <paramref name="consumeStdout"/> (if given) reads stdout as a stream, otherwise stdout
    /// is captured and returned. <paramref name="missingHint"/> tells the user what to do if the tool is not installed.
    /// </summary>
    public static string Run(string tool, IReadOnlyList<string> arguments, string workingDirectory, string missingHint,
        Action<Stream>? consumeStdout = null)
    {
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
                if (!process.WaitForExit(Timeout))
                    throw new DatasetFetchException($"`{commandLine}` did not finish within {Timeout.TotalMinutes} minutes");
            }
            catch
            {
                TryKill(process);
                throw;
            }

            string errors = stderr.GetAwaiter().GetResult().Trim();
            if (process.ExitCode != 0)
            {
                string detail = errors.Length > 0 ? errors : stdout.Trim();
                throw new DatasetFetchException($"`{commandLine}` failed with exit code {process.ExitCode}: {detail}");
            }
            return stdout;
        }
    }

    private static void TryKill(Process process)
    {
        try
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}
