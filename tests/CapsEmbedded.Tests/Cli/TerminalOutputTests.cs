using CapsEmbedded.Quantization;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// Issue 34 rows 9 and 17: what capsnet prints on success is as safe as its error lines (untrusted keys and file names
/// escaped and cut by the same helper), class names cannot carry bidi or format characters, and <c>info</c> reads int8
/// files. Each test failed before its fix.
/// </summary>
public sealed class TerminalOutputTests() : TempDirectoryTest("capsnet-terminal-")
{
    private static readonly string Png = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist", "digit0-gray.png");

    /// <summary>No raw control, bidi or separator character, and no line longer than error lines may be.</summary>
    private static void AssertSafe(string output)
    {
        foreach (char c in output)
            Assert.False(c != '\n' && (char.IsControl(c) || c is '\u202E' or '\u2028'), $"raw U+{(int)c:X4} in the output");
        Assert.All(output.Split('\n'), line => Assert.InRange(line.Length, 0, 600));
    }

    [Fact]
    public void Info_escapes_and_cuts_metadata_keys()
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1);
        weights.Metadata["\u001b[31mred\u001b[0m\u202E"] = "value";
        weights.Metadata["k" + new string('x', 5_000_000)] = "long";
        File.WriteAllBytes(P("keys.safetensors"), CapsNetWeightsFile.Write(weights));
        string output = CapsnetSucceeds("info", P("keys.safetensors"));
        AssertSafe(output);
        Assert.Contains("  \\x1b[31mred\\x1b[0m\\u202e = value", output);
        Assert.Contains("…(4999921 more characters) = long", output);
    }

    [Fact]
    public void File_names_with_escapes_are_escaped_in_image_and_wrote_lines()
    {
        string evil = P("a\u001b]0;pwned\u0007\u202Eb.png");
        File.Copy(Png, evil);
        File.Copy(Png, P("plain.png"));
        string output = CapsnetSucceeds("predict", evil, P("plain.png"));
        AssertSafe(output);
        Assert.Contains("a\\x1b]0;pwned\\x07\\u202eb.png", output);

        output = CapsnetSucceeds("predict", "--reconstruction", P("r\u001b[2J.pgm"), Png);
        AssertSafe(output);
        Assert.Contains("wrote reconstruction to " + P("r\\x1b[2J.pgm"), output);

        string tiny = InitOnce(P("tiny.safetensors"), 1);
        output = CapsnetSucceeds("convert", "--weights", tiny, "--dtype", "f16", "--out", P("c\u001b[2J\u2028.safetensors"));
        AssertSafe(output);
        Assert.Contains("wrote " + P("c\\x1b[2J\\u2028.safetensors") + ": F16", output);

        Directory.Move(CopyMnistFixture(), P("d\u001b[31m"));
        output = CapsnetSucceeds("eval", "--data", P("d\u001b[31m"), "--limit", "2", "--dump-lengths", P("l\u001b[31m.txt"));
        AssertSafe(output);
        Assert.Contains("data     " + P("d\\x1b[31m"), output);
        Assert.Contains("wrote 2 lines of capsule lengths to " + P("l\\x1b[31m.txt"), output);
    }

    [Theory]
    [InlineData("a\u202Eb,c,d")] // RIGHT-TO-LEFT OVERRIDE
    [InlineData("a,b\u2066,c")] // LEFT-TO-RIGHT ISOLATE
    [InlineData("a,b,c\u200B")] // ZERO WIDTH SPACE
    [InlineData("a,\u200Fb,c")] // RIGHT-TO-LEFT MARK
    public void Class_names_with_bidi_or_format_characters_are_refused(string names)
    {
        string tiny = InitOnce(P("tiny.safetensors"), 1);
        var result = Capsnet("convert", "--weights", tiny, "--dtype", "f32", "--out", P("named.safetensors"), "--class-names", names);
        AssertOneLineError(result, "bidi or other format character");
        AssertSafe(result.Error);
        Assert.False(File.Exists(P("named.safetensors")));
        Assert.Contains("bidi", CapsNetClassNames.Problem(names.Split(','), 3));
    }

    [Fact]
    public void Info_describes_an_int8_file()
    {
        var quantized = Quantizer.Quantize(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 3), clip: 1.5f, calibration: "test");
        string path = P("tiny.int8.safetensors");
        QuantizedWeightsFile.Save(quantized, path);
        string output = CapsnetSucceeds("info", path);
        Assert.Contains($"architecture  {CapsNetArchitecture.Tiny}", output);
        Assert.Contains("sha256        ", output);
        Assert.Contains("kind          int8-quantised, scheme int8-sym-per-channel-u7, calibrated on test", output);
        Assert.Matches(@"primary_caps\.weight\s+I8\s+\[", output);
        Assert.Matches(@"primary_caps\.weight_scale\s+F32\s+\[", output);
        Assert.Matches(@"conv1\.weight\s+F32\s+\[", output);
        Assert.Contains("s_a = ", output);
        Assert.Contains($"total", output);
        Assert.Contains("  capsnet.quantization = int8-sym-per-channel-u7", output);
    }
}
