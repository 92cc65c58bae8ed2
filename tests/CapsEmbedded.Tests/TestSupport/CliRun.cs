using System.Globalization;
using CapsEmbedded.Cli;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Tests.TestSupport;

/// <summary>Runs <c>capsnet</c> the two ways the tests need, and checks its one-line errors (imported by the project file).</summary>
internal static class CliRun
{
    /// <summary>In this process through <see cref="CapsNetCli.Run"/>, with output and errors captured.</summary>
    public static (int Code, string Output, string Error) Capsnet(params string[] args)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = CapsNetCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary><see cref="Capsnet"/> that must exit 0 (its error text is the failure message); returns its output.</summary>
    public static string CapsnetSucceeds(params string[] args)
    {
        var (code, output, error) = Capsnet(args);
        Assert.True(code == 0, error);
        return output;
    }

    /// <summary><c>capsnet-train train</c> in this process through its entry point, with output and errors captured.</summary>
    public static (int Code, string Output, string Error) CapsnetTrain(params string[] args)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = CapsEmbedded.TrainHost.TrainHost.Run(["train", .. args], output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>In a child process (<c>dotnet exec capsnet.dll</c>), as a user runs it, where timing and allocation matter.</summary>
    public static (int Code, string Output, string Error) CapsnetProcess(params string[] args) =>
        ChildProcess.Run(Path.Combine(AppContext.BaseDirectory, "capsnet.dll"), args, timeoutSeconds: 120);

    /// <summary><paramref name="path"/>, written by <c>capsnet init --arch</c> <paramref name="arch"/> <c>--seed</c> <paramref name="seed"/> unless it exists.</summary>
    public static string InitOnce(string path, int seed, string arch = "tiny")
    {
        if (File.Exists(path)) return path;
        Assert.Equal(0, Capsnet("init", "--arch", arch, "--seed", seed.ToString(CultureInfo.InvariantCulture), "--out", path).Code);
        return path;
    }

    /// <summary>Exit code 1 and exactly one line <c>capsnet: error: …</c> containing <paramref name="mustContain"/>, no stack trace.</summary>
    public static void AssertOneLineError((int Code, string Output, string Error) result, string mustContain)
    {
        Assert.True(result.Code == 1, $"exit {result.Code}: {result.Error}{result.Output}");
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{result.Error}");
        Assert.StartsWith("capsnet: error: ", lines[0]);
        Assert.Contains(mustContain, lines[0]);
        Assert.DoesNotContain("   at ", result.Error);
    }
}
