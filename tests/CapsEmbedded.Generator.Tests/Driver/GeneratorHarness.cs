extern alias generator;

using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using generator::CapsEmbedded.Generator;
using CapsEmbedded.Runtime;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace CapsEmbedded.Generator.Tests.Driver;

/// <summary>Runs <see cref="CapsNetModelGenerator"/> through <see cref="CSharpGeneratorDriver"/> on in-memory inputs.</summary>
internal static class GeneratorHarness
{
    public const string ProjectDirectory = "/proj";

    /// <summary>The header file CapsEmbedded.Generator.targets would write for <paramref name="file"/> (same format).</summary>
    public static string HeaderText(byte[] file, string sourcePath, Func<string, string>? editJson = null)
    {
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        string json = Encoding.UTF8.GetString(file, 8, (int)headerLength);
        if (editJson is not null) json = editJson(json);
        var text = new StringBuilder();
        text.Append("# CapsEmbedded weight header v1, extracted by CapsEmbedded.Generator.targets; do not edit\n");
        text.Append("source=").Append(sourcePath).Append('\n');
        text.Append("resource=CapsNetWeights/").Append(Path.GetFileName(sourcePath)).Append('\n');
        text.Append("length=").Append(file.Length - headerLength + Encoding.UTF8.GetByteCount(json)).Append('\n');
        text.Append("header_length=").Append(Encoding.UTF8.GetByteCount(json)).Append('\n');
        text.Append("sha256=").Append(Convert.ToHexStringLower(SHA256.HashData(file))).Append('\n');
        text.Append('\n').Append(json);
        return text.ToString();
    }

    public static byte[] TinyFile => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Weights", "tiny.safetensors"));

    /// <summary>The tiny weight file's header, as if the project listed <c>Weights/tiny.safetensors</c>.</summary>
    public static AdditionalText TinyHeader(Func<string, string>? editJson = null)
        => Header("tiny.safetensors", HeaderText(TinyFile, ProjectDirectory + "/Weights/tiny.safetensors", editJson));

    public static AdditionalText Header(string fileName, string text)
        => new InMemoryText(ProjectDirectory + "/obj/" + fileName + ".capsnet-header.txt", text);

    public const string TinySource = """
        using CapsEmbedded.Runtime;

        namespace Demo;

        [CapsNetModel("Weights/tiny.safetensors")]
        public static partial class TinyCapsNet;
        """;

    /// <summary>The tiny model with C exports under the prefix "tiny".</summary>
    public const string TinyNativeSource = """
        using CapsEmbedded.Runtime;

        namespace Demo;

        [CapsNetModel("Weights/tiny.safetensors", NativeExportPrefix = "tiny")]
        public static partial class TinyCapsNet;
        """;

    public static CSharpCompilation Compilation(params string[] sources)
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal)
                || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => MetadataReference.CreateFromFile(p))
            .Append(MetadataReference.CreateFromFile(typeof(CapsNetModelAttribute).Assembly.Location));
        return CSharpCompilation.Create("Demo",
            sources.Select((s, k) => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest), path: $"/proj/Source{k}.cs")),
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
    }

    public static GeneratorDriver Driver(IEnumerable<AdditionalText> additionalTexts, string? projectDirectory = ProjectDirectory)
        => CSharpGeneratorDriver.Create(
            new[] { new CapsNetModelGenerator().AsSourceGenerator() },
            additionalTexts,
            new CSharpParseOptions(LanguageVersion.Latest),
            new Options(projectDirectory),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator once; returns the result and the compilation with the generated sources.</summary>
    public static (GeneratorDriverRunResult Result, Compilation Output) Run(string source, params AdditionalText[] additionalTexts)
    {
        var driver = Driver(additionalTexts).RunGeneratorsAndUpdateCompilation(Compilation(source), out var output, out _);
        return (driver.GetRunResult(), output);
    }

    /// <summary>The snapshot folder in the source tree (found from this file's path at compile time).</summary>
    public static string SnapshotDirectory([CallerFilePath] string thisFile = "")
        => Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(thisFile)!)!, "Snapshots");

    /// <summary>
    /// Asserts that <paramref name="source"/> equals its committed snapshot (Snapshots/HintName.txt: expected output kept as
    /// text, never compiled, so tools that read the tree as code skip it); with UPDATE_SNAPSHOTS=1 it rewrites the snapshot
    /// first (review the diff).
    /// </summary>
    public static void AssertMatchesSnapshot(GeneratedSourceResult source)
    {
        string path = Path.Combine(SnapshotDirectory(), source.HintName + ".txt");
        string actual = source.SourceText.ToString();
        if (Environment.GetEnvironmentVariable("UPDATE_SNAPSHOTS") == "1") File.WriteAllText(path, actual);
        Xunit.Assert.True(File.Exists(path), $"no snapshot {path}; run with UPDATE_SNAPSHOTS=1");
        Xunit.Assert.Equal(File.ReadAllText(path).ReplaceLineEndings("\n"), actual);
    }

    private sealed class InMemoryText(string path, string text) : AdditionalText
    {
        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text, Encoding.UTF8);
    }

    private sealed class Options(string? projectDirectory) : AnalyzerConfigOptionsProvider
    {
        private readonly ConfigOptions _global = new(projectDirectory is null
            ? ImmutableDictionary<string, string>.Empty
            : ImmutableDictionary<string, string>.Empty.Add("build_property.MSBuildProjectDirectory", projectDirectory));

        public override AnalyzerConfigOptions GlobalOptions => _global;

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => ConfigOptions.Empty;

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => ConfigOptions.Empty;
    }

    private sealed class ConfigOptions(ImmutableDictionary<string, string> values) : AnalyzerConfigOptions
    {
        public static readonly ConfigOptions Empty = new(ImmutableDictionary<string, string>.Empty);

        public override bool TryGetValue(string key, out string value) => values.TryGetValue(key, out value!);
    }
}
