using System.Reflection;
using Microsoft.CodeAnalysis;

namespace CapsEmbedded.Generator.Tests.Driver;

/// <summary>Turns a compilation with generated sources into a loaded assembly, as a consumer's build would.</summary>
internal static class GeneratedAssembly
{
    /// <summary>
    /// Compiles <paramref name="output"/> (any warning fails) with <paramref name="weightFile"/> as its manifest resource
    /// CapsNetWeights/<paramref name="fileName"/>, as CapsEmbedded.Generator.targets embeds it, and loads the result.
    /// </summary>
    public static Assembly Load(Compilation output, string fileName, byte[] weightFile)
    {
        var problems = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        using var image = new MemoryStream();
        var emitted = output.Emit(image, manifestResources:
            [new ResourceDescription("CapsNetWeights/" + fileName, () => new MemoryStream(weightFile), isPublic: true)]);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        return Assembly.Load(image.ToArray());
    }
}
