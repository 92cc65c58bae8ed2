extern alias generator;

using Microsoft.CodeAnalysis;
using Xunit;

namespace CapsEmbedded.Generator.Tests.Driver;

/// <summary>
/// An Efficient-CapsNet weight file (capsnet.family = "efficient") through the generator: one Model.g.cs, matching
/// Snapshots/Demo.TinyEfficientCapsNet.Model.g.cs.txt, compiling without warnings, and with NativeExportPrefix its C exports
/// (Snapshots/Demo.TinyEfficientCapsNet.NativeExports.g.cs.txt); a broken efficient file is a diagnostic.
/// </summary>
public class EfficientGeneratorTests
{
    public const string Source = """
        using CapsEmbedded.Runtime;

        namespace Demo;

        [CapsNetModel("Weights/tiny-efficient.safetensors")]
        public static partial class TinyEfficientCapsNet;
        """;

    private static byte[] File => System.IO.File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Weights", "tiny-efficient.safetensors"));

    private static AdditionalText Header(Func<string, string>? editJson = null)
        => GeneratorHarness.Header("tiny-efficient.safetensors",
            GeneratorHarness.HeaderText(File, GeneratorHarness.ProjectDirectory + "/Weights/tiny-efficient.safetensors", editJson));

    [Fact]
    public void Efficient_model_source_matches_the_snapshot_and_compiles_without_warnings()
    {
        var (result, output) = GeneratorHarness.Run(Source, Header());
        Assert.Empty(result.Diagnostics);
        var source = Assert.Single(result.Results.Single().GeneratedSources);
        Assert.Equal("Demo.TinyEfficientCapsNet.Model.g.cs", source.HintName);
        GeneratorHarness.AssertMatchesSnapshot(source);
        string text = source.SourceText.ToString();
        foreach (var layer in new[] { "stem.0", "stem.1", "primary_caps", "u_hat", "routing", "decoder" }) Assert.Contains("//   " + layer, text);
        Assert.Contains("DepthwiseConvolution.Run", text);
        Assert.Contains("SelfAttentionRouting.Run", text);
        var problems = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void A_wrong_tensor_shape_in_an_efficient_file_is_a_diagnostic_naming_it()
    {
        var (result, _) = GeneratorHarness.Run(Source,
            Header(json => json.Replace("\"digit_caps.bias\":{\"dtype\":\"F32\",\"shape\":[3,4]", "\"digit_caps.bias\":{\"dtype\":\"F32\",\"shape\":[4,3]")));
        var d = Assert.Single(result.Diagnostics);
        Assert.Contains("digit_caps.bias", d.GetMessage());
        Assert.Empty(result.Results.Single().GeneratedSources);
    }

    [Fact]
    public void C_exports_on_an_efficient_model_are_generated_and_compile_without_warnings()
    {
        var (result, output) = GeneratorHarness.Run(Source.Replace("(\"Weights/tiny-efficient.safetensors\")",
            "(\"Weights/tiny-efficient.safetensors\", NativeExportPrefix = \"eff\")"), Header());
        Assert.Empty(result.Diagnostics);
        var sources = result.Results.Single().GeneratedSources;
        Assert.Equal(new[] { "Demo.TinyEfficientCapsNet.Model.g.cs", "Demo.TinyEfficientCapsNet.NativeExports.g.cs" },
            sources.Select(s => s.HintName).Order(StringComparer.Ordinal));
        var exports = sources.Single(s => s.HintName.EndsWith("NativeExports.g.cs", StringComparison.Ordinal));
        GeneratorHarness.AssertMatchesSnapshot(exports);
        string text = exports.SourceText.ToString();
        Assert.Contains("NativeApi.LoadEfficientWeightsFile(file, Architecture)", text);
        Assert.Contains("An Efficient-CapsNet (Mazzia, Salvetti, Chiaberge 2021): 12x12x1 image -> 2-conv stem -> 4 primary", text);
        Assert.Contains("#define EFF_INPUT_LENGTH 144 ", text);
        Assert.Contains("#define EFF_CLASSES 3 ", text);
        Assert.Contains("#define EFF_CAPSULES_LENGTH 12 ", text);
        Assert.DoesNotContain("MultiMNIST", text); // paper-only notes stay out of the family's header
        var problems = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
