using System.Reflection;
using System.Text.Json;
using CapsEmbedded.Runtime;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Generator.Tests.Driver;

/// <summary>
/// A model generated from an F16 or BF16 weight file: no diagnostic, the dtypes and class names emitted, and the
/// compiled model's embedded weights widened at pack time to exactly what the reader widens them to.
/// </summary>
public class HalfPrecisionGeneratorTests
{
    private static readonly string[] Names = { "cat", "dog", "Kätzchen \"β\"" };

    private static byte[] NarrowTiny(string dtype, IReadOnlyList<string>? names)
    {
        var weights = CapsNetWeightsFile.Read(GeneratorHarness.TinyFile, "tiny.safetensors");
        if (names is not null) weights.Metadata[CapsNetClassNames.MetadataKey] = CapsNetClassNames.Encode(names);
        return CapsNetWeightsFile.Write(weights, dtype);
    }

    private static string Source(string fileName) => $$"""
        using CapsEmbedded.Runtime;
        namespace Demo;
        [CapsNetModel("Weights/{{fileName}}")]
        public static partial class NarrowCapsNet;
        """;

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void A_narrow_weight_file_generates_a_model_whose_embedded_weights_are_widened_when_packed(string dtype)
    {
        string fileName = $"tiny-{dtype}.safetensors";
        byte[] file = NarrowTiny(dtype, Names);
        var header = GeneratorHarness.Header(fileName, GeneratorHarness.HeaderText(file, GeneratorHarness.ProjectDirectory + "/Weights/" + fileName));
        var (result, output) = GeneratorHarness.Run(Source(fileName), header);
        Assert.Empty(result.Diagnostics);
        var sources = result.Results.Single().GeneratedSources;
        string model = sources.Single(s => s.HintName.EndsWith("Model.g.cs", StringComparison.Ordinal)).SourceText.ToString();
        string constants = sources.Single(s => s.HintName.EndsWith("Constants.g.cs", StringComparison.Ordinal)).SourceText.ToString();
        Assert.Contains($"TensorDataTypes => new string[]\n        {{\n            \"{dtype}\", \"{dtype}\"", model);
        Assert.Contains("new string[]\n        {\n            \"cat\", \"dog\", \"K\\u00e4tzchen \\\"\\u03b2\\\"\",\n        });", constants); // ASCII-only literal

        var type = GeneratedAssembly.Load(output, fileName, file).GetType("Demo.NarrowCapsNet")!;
        Assert.Equal(Names, (IReadOnlyList<string>)type.GetProperty("ClassNames")!.GetValue(null)!);
        var weightsType = type.GetNestedType("Weights")!;
        object embedded = weightsType.GetProperty("Embedded")!.GetValue(null)!;
        var packed = (PackedCapsNetWeights)weightsType.GetProperty("Packed", BindingFlags.Instance | BindingFlags.Public)!.GetValue(embedded)!;

        using var expected = PackedCapsNetWeights.Pack(CapsNetWeightsFile.Read(file, fileName));
        Assert.True(expected.Conv1Weight.SequenceEqual(packed.Conv1Weight));
        Assert.True(expected.PrimaryWeight.SequenceEqual(packed.PrimaryWeight));
        Assert.True(expected.DigitWeight.SequenceEqual(packed.DigitWeight));
        Assert.True(expected.Decoder.Fc1Weight.SequenceEqual(packed.Decoder.Fc1Weight));
        Assert.True(expected.Decoder.Fc3Bias.SequenceEqual(packed.Decoder.Fc3Bias));
        // And the narrow values really differ from the float32 file's: the widening is not a copy of other bits.
        using var f32 = PackedCapsNetWeights.Pack(CapsNetWeightsFile.Read(GeneratorHarness.TinyFile, "tiny.safetensors"));
        Assert.False(f32.DigitWeight.SequenceEqual(packed.DigitWeight));
    }

    [Fact]
    public void Without_class_names_the_model_names_its_classes_by_number()
    {
        var (result, _) = GeneratorHarness.Run(GeneratorHarness.TinySource, GeneratorHarness.TinyHeader());
        string constants = result.Results.Single().GeneratedSources.Single(s => s.HintName.EndsWith("Constants.g.cs", StringComparison.Ordinal)).SourceText.ToString();
        Assert.Contains("ClassNames { get; } = Array.AsReadOnly(new string[]\n        {\n            \"0\", \"1\", \"2\",\n        });", constants);
    }

    [Theory]
    [InlineData("[\"a\",\"b\"]", "has 2 names; the architecture has 3 classes")]
    [InlineData("[\"a\",1,\"c\"]", "[1] is a JSON number, not a string")]
    [InlineData("[\"a\",\"\",\"c\"]", "name 1 is empty")]
    public void Malformed_class_names_are_a_diagnostic_naming_the_entry(string json, string problem) =>
        AssertClassNamesDiagnostic(json, problem);

    /// <summary>The generator's linked copy of the parser refuses these texts for the runtime's reasons.</summary>
    [Theory]
    [MemberData(nameof(MalformedJson.Documents), MemberType = typeof(MalformedJson))]
    [MemberData(nameof(MalformedJson.Strings), MemberType = typeof(MalformedJson))]
    public void Class_names_that_are_not_JSON_are_a_diagnostic_with_the_parsers_reason(string json, string reason) =>
        AssertClassNamesDiagnostic(json, "capsnet.class_names is not valid JSON at character", reason);

    /// <summary>Tiny with <paramref name="json"/> as capsnet.class_names: one CAPS0004 with these fragments.</summary>
    private static void AssertClassNamesDiagnostic(string json, params string[] fragments)
    {
        var header = GeneratorHarness.TinyHeader(headerJson => headerJson.Replace("\"__metadata__\":{",
            "\"__metadata__\":{\"capsnet.class_names\":" + JsonSerializer.Serialize(json) + ","));
        var (result, _) = GeneratorHarness.Run(GeneratorHarness.TinySource, header);
        Assert.Empty(result.GeneratedTrees);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("CAPS0004", d.Id);
        Assert.Contains("capsnet.class_names", d.GetMessage());
        foreach (string fragment in fragments) Assert.Contains(fragment, d.GetMessage());
    }
}
