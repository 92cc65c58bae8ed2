extern alias generator;

using Microsoft.CodeAnalysis;
using generator::CapsEmbedded.Generator;

namespace CapsEmbedded.Generator.Tests.Driver;

/// <summary>Each diagnostic, triggered by its malformed input; the message names the file and, where one is at fault, the tensor.</summary>
public class DiagnosticTests
{
    private static Diagnostic Single(string source, params AdditionalText[] texts)
    {
        var (result, _) = GeneratorHarness.Run(source, texts);
        Assert.Empty(result.GeneratedTrees);
        return Assert.Single(result.Diagnostics);
    }

    private static string Model(string declaration, string path = "Weights/tiny.safetensors") => $$"""
        using CapsEmbedded.Runtime;
        namespace Demo;
        [CapsNetModel("{{path}}")]
        {{declaration}}
        """;

    /// <summary>The header file the build writes for a weight file it could not read: the error instead of the JSON.</summary>
    private static AdditionalText TinyHeaderError(string error) =>
        GeneratorHarness.Header("tiny.safetensors", $"source=/proj/Weights/tiny.safetensors\nerror={error}\n\n");

    private static string TinySourceWithPrefix(string prefix) => GeneratorHarness.TinySource.Replace(
        "[CapsNetModel(\"Weights/tiny.safetensors\")]", $"[CapsNetModel(\"Weights/tiny.safetensors\", NativeExportPrefix = \"{prefix}\")]");

    [Fact]
    public void CAPS0001_weight_file_not_passed_to_the_generator()
    {
        var d = Single(GeneratorHarness.TinySource);
        Assert.Equal("CAPS0001", d.Id);
        Assert.Contains("Weights/tiny.safetensors", d.GetMessage());
        Assert.Contains("CapsNetWeights", d.GetMessage());
        Assert.Equal("/proj/Source0.cs", d.Location.GetLineSpan().Path);
    }

    /// <summary>The build could not read the weight file: missing (CAPS0002) or an impossible length prefix (CAPS0003).</summary>
    [Theory]
    [InlineData("missing: no file at /proj/Weights/tiny.safetensors", "CAPS0002", "/proj/Weights/tiny.safetensors")]
    [InlineData("header length 999999 is impossible for a file of 20 bytes", "CAPS0003", "999999")]
    public void CAPS0002_or_CAPS0003_header_error_written_by_the_build(string error, string id, string named)
    {
        var d = Single(GeneratorHarness.TinySource, TinyHeaderError(error));
        Assert.Equal(id, d.Id);
        Assert.Contains(named, d.GetMessage());
    }

    [Fact]
    public void CAPS0003_unreadable_header()
    {
        var d = Single(GeneratorHarness.TinySource, GeneratorHarness.TinyHeader(json => json.Substring(0, json.Length / 2)));
        Assert.Equal("CAPS0003", d.Id);
        Assert.Contains("tiny.safetensors", d.GetMessage());
    }

    [Fact]
    public void CAPS0004_metadata_does_not_match_the_tensors()
    {
        // The header says 4 classes but digit_caps.weight is [18,3,4,4]: the tensor is named.
        var d = Single(GeneratorHarness.TinySource,
            GeneratorHarness.TinyHeader(json => json.Replace("\"capsnet.classes\":\"3\"", "\"capsnet.classes\":\"4\"")));
        Assert.Equal("CAPS0004", d.Id);
        Assert.Contains("tiny.safetensors", d.GetMessage());
        Assert.Contains("'digit_caps.weight'", d.GetMessage());
    }

    [Fact]
    public void CAPS0005_unsupported_dtype()
    {
        var d = Single(GeneratorHarness.TinySource, GeneratorHarness.TinyHeader(json =>
        {
            int at = json.IndexOf("\"conv1.bias\"", StringComparison.Ordinal);
            int dtype = json.IndexOf("\"F32\"", at, StringComparison.Ordinal);
            return json.Substring(0, dtype) + "\"I32\"" + json.Substring(dtype + 5);
        }));
        Assert.Equal("CAPS0005", d.Id);
        Assert.Contains("tiny.safetensors", d.GetMessage());
        Assert.Contains("'conv1.bias'", d.GetMessage());
        Assert.Contains("I32", d.GetMessage());
    }

    [Theory]
    [InlineData("public static class TinyCapsNet { }", "CAPS0006")]
    [InlineData("public partial class TinyCapsNet { }", "CAPS0007")]
    [InlineData("public static partial class TinyCapsNet<T> { }", "CAPS0008")]
    public void Class_shape_diagnostics(string declaration, string id)
    {
        var d = Single(Model(declaration), GeneratorHarness.TinyHeader());
        Assert.Equal(id, d.Id);
        Assert.Contains("TinyCapsNet", d.GetMessage());
        Assert.Equal("/proj/Source0.cs", d.Location.GetLineSpan().Path);
    }

    [Fact]
    public void CAPS0009_nested_class()
    {
        var source = """
            using CapsEmbedded.Runtime;
            namespace Demo;
            public static partial class Outer
            {
                [CapsNetModel("Weights/tiny.safetensors")]
                public static partial class TinyCapsNet { }
            }
            """;
        var d = Single(source, GeneratorHarness.TinyHeader());
        Assert.Equal("CAPS0009", d.Id);
        Assert.Contains("Outer", d.GetMessage());
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void CAPS0010_empty_path(string path)
    {
        var d = Single(Model("public static partial class TinyCapsNet;", path), GeneratorHarness.TinyHeader());
        Assert.Equal("CAPS0010", d.Id);
    }

    [Fact]
    public void Every_descriptor_has_a_unique_CAPS_id()
    {
        var ids = typeof(Diagnostics).GetFields()
            .Select(f => f.GetValue(null)).OfType<DiagnosticDescriptor>().Select(d => d.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Matches("^CAPS[0-9]{4}$", id));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("2fast", "starts with an ASCII letter")]
    [InlineData("capsnet-mnist", "'-' is not allowed")]
    [InlineData("caps net", "' ' is not allowed")]
    [InlineData("__caps", "reserved")]
    [InlineData("_Caps", "reserved")]
    [InlineData("capsnét", "'é' is not allowed")]
    public void CAPS0013_native_export_prefix_that_is_not_a_C_identifier(string prefix, string problem)
    {
        var d = Single(TinySourceWithPrefix(prefix), GeneratorHarness.TinyHeader());
        Assert.Equal("CAPS0013", d.Id);
        Assert.Contains("TinyCapsNet", d.GetMessage());
        Assert.Contains($"\"{prefix}\"", d.GetMessage());
        Assert.Contains(problem, d.GetMessage());
        Assert.Equal("/proj/Source0.cs", d.Location.GetLineSpan().Path);
    }

    [Fact]
    public void CAPS0013_a_prefix_over_48_characters()
    {
        string prefix = new string('a', 49);
        var d = Single(TinySourceWithPrefix(prefix), GeneratorHarness.TinyHeader());
        Assert.Equal("CAPS0013", d.Id);
        Assert.Contains("49 characters", d.GetMessage());
    }
}
