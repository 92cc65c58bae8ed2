using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace CapsEmbedded.Generator.Tests.Native;

/// <summary>
/// examples/python/capsnet_predict.py's image reader, run by python3 without the library (.ci/cabi.sh runs the whole
/// script against libcapsnet_mnist): it refuses what the C example refuses, with a message naming the problem, never a
/// traceback, and reads a bounded amount of any file.
/// </summary>
public sealed class PythonExampleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("capsnet-python-example-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string ExampleDirectory([CallerFilePath] string thisFile = "")
        => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "..", "examples", "python"));

    /// <summary>read_image(path) through python3: "ok N max" or "error MESSAGE" (or the traceback python printed).</summary>
    private static string ReadImage(string path)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import sys; sys.path.insert(0, sys.argv[1]); import capsnet_predict as c\n"
            + "try:\n    v = c.read_image(sys.argv[2]); print('ok', len(v), max(v))\n"
            + "except (OSError, ValueError) as e:\n    print('error', e)\n");
        start.ArgumentList.Add(ExampleDirectory());
        start.ArgumentList.Add(path);
        using var python = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        var error = python.StandardError.ReadToEndAsync();
        string output = python.StandardOutput.ReadToEnd();
        Assert.True(python.WaitForExit(60_000), "python3 did not finish within 60 s");
        return (output + error.Result).Trim();
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Bad_images_are_refused_as_the_C_example_refuses_them()
    {
        string zeros = string.Join(' ', Enumerable.Repeat("0", 783));
        Assert.Equal($"error {_dir}/max0.pgm: maxval 0 is not supported (P5: 1..255, P2: 1..65535)",
            ReadImage(Write("max0.pgm", "P2\n28 28\n0\n" + zeros + " 0\n")));
        Assert.Equal($"error {_dir}/negative.pgm: pixel 5 is missing or above maxval",
            ReadImage(Write("negative.pgm", "P2\n28 28\n255\n0 0 0 0 0 -7 " + zeros + "\n")));
        Assert.Equal($"error {_dir}/short.pgm: pixel 783 is missing or above maxval",
            ReadImage(Write("short.pgm", "P2\n28 28\n255\n" + zeros + "\n")));
        Assert.Equal($"error {_dir}/above.pgm: pixel 0 is missing or above maxval",
            ReadImage(Write("above.pgm", "P2\n28 28\n9\n10 " + zeros + "\n")));
        Assert.Equal($"error {_dir}/p5.pgm: maxval 256 is not supported (P5: 1..255, P2: 1..65535)",
            ReadImage(Write("p5.pgm", "P5\n28 28\n256\n")));
        Assert.Equal($"error {_dir}/wide.pgm: the image is 29x28; the model needs 28x28", ReadImage(Write("wide.pgm", "P2\n29 28\n255\n")));
        Assert.Equal("error /dev/zero: not a PGM and not a raw image of 784 bytes (785 or more bytes)", ReadImage("/dev/zero"));
    }

    [Fact]
    public void Good_images_still_read()
    {
        Assert.Equal("ok 784 1.0", ReadImage(Write("p2.pgm", "P2\n# a comment\n28 28\n65535\n" + string.Join(' ', Enumerable.Repeat("65535", 784)) + "\n")));
        string raw = Path.Combine(_dir, "digit.raw");
        File.WriteAllBytes(raw, Enumerable.Range(0, 784).Select(i => (byte)(i % 256)).ToArray());
        Assert.Equal("ok 784 1.0", ReadImage(raw));
    }
}
