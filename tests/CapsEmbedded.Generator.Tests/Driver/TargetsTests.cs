using System.Diagnostics;
using CapsEmbedded.Runtime;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Generator.Tests.Driver;

/// <summary>
/// CapsEmbedded.Generator.targets run by MSBuild on a project of their own (no compiler, no restore): one resource per
/// weight file, packed when the file is wholly F16 and as it is otherwise, and a packed form or header that no longer
/// matches the weight file fails the build naming the file, however the time stamps say it is up to date.
/// </summary>
public sealed class TargetsTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"capsnet-targets-{Guid.NewGuid():N}");

    public TargetsTests()
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllText(Path.Combine(_directory, "weights.proj"), $"""
            <Project>
              <PropertyGroup>
                <IntermediateOutputPath>obj/</IntermediateOutputPath>
              </PropertyGroup>
              <ItemGroup>
                <CapsNetWeights Include="f16.safetensors" />
                <CapsNetWeights Include="f32.safetensors" />
                <CapsNetWeights Include="tiny-f16.safetensors" />
              </ItemGroup>
              <Import Project="{TargetsFile()}" />
              <Target Name="ShowEmbedded" DependsOnTargets="CapsNetAddWeightItems">
                <Message Importance="high" Text="embedded %(EmbeddedResource.LogicalName) from %(EmbeddedResource.Filename)%(EmbeddedResource.Extension)" />
              </Target>
            </Project>
            """);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Weights", "mnist.safetensors"), F16File);
        string tiny = Path.Combine(AppContext.BaseDirectory, "Weights", "tiny.safetensors");
        File.Copy(tiny, Path.Combine(_directory, "f32.safetensors"));
        // The tiny architecture in F16: panels cut short past n (4, 8, 16 and 100 rows), k far from a multiple of 16.
        File.WriteAllBytes(TinyF16File, CapsNetWeightsFile.Write(CapsNetWeightsFile.Load(tiny), SafeTensorsDType.F16));
    }

    private string TinyF16File => Path.Combine(_directory, "tiny-f16.safetensors");

    private string F16File => Path.Combine(_directory, "f16.safetensors");

    private string PackedFile => Path.Combine(_directory, "obj", "f16.safetensors.capsnet-packed");

    private string HeaderFile => Path.Combine(_directory, "obj", "f16.safetensors.capsnet-header.txt");

    [Fact]
    public void One_resource_per_file_and_a_stale_or_damaged_packed_form_fails_the_build()
    {
        var (code, output) = Build();
        Assert.True(code == 0, output);
        Assert.Contains("embedded CapsNetWeights/f16.safetensors.packed from f16.safetensors.capsnet-packed", output);
        Assert.Contains("embedded CapsNetWeights/f32.safetensors from f32.safetensors", output); // float32: as it is
        Assert.DoesNotContain("embedded CapsNetWeights/f16.safetensors from", output);
        Assert.False(File.Exists(Path.Combine(_directory, "obj", "f32.safetensors.capsnet-packed")));
        Assert.Equal(File.ReadAllBytes(F16File), PackedWeightFile.Unpack(File.ReadAllBytes(PackedFile), PackedFile));
        Assert.Contains("embedded CapsNetWeights/tiny-f16.safetensors.packed from", output);
        string tinyPacked = Path.Combine(_directory, "obj", "tiny-f16.safetensors.capsnet-packed");
        Assert.Equal(File.ReadAllBytes(TinyF16File), PackedWeightFile.Unpack(File.ReadAllBytes(tinyPacked), tinyPacked));

        // One weight bit of the packed form flipped: the time stamps say up to date, the SHA-256 does not.
        byte[] packed = File.ReadAllBytes(PackedFile);
        packed[^100] ^= 1;
        File.WriteAllBytes(PackedFile, packed);
        (code, output) = Build();
        Assert.NotEqual(0, code);
        Assert.Contains("f16.safetensors.capsnet-packed of", output);
        Assert.Contains("is damaged or stale", output);

        // Rebuilt from scratch, then the weight file replaced by another with an older time stamp: the header is stale.
        Directory.Delete(Path.Combine(_directory, "obj"), recursive: true);
        Assert.Equal(0, Build().Code);
        byte[] weights = File.ReadAllBytes(F16File);
        weights[^2] ^= 1;
        File.WriteAllBytes(F16File, weights);
        File.SetLastWriteTimeUtc(F16File, File.GetLastWriteTimeUtc(HeaderFile).AddHours(-1));
        (code, output) = Build();
        Assert.NotEqual(0, code);
        Assert.Contains("f16.safetensors.capsnet-header.txt is stale", output);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private (int Code, string Output) Build()
    {
        var start = new ProcessStartInfo(ChildProcess.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory,
        };
        foreach (string arg in new[] { "msbuild", "weights.proj", "-t:ShowEmbedded", "-nologo", "-nr:false", "-v:m" })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(300_000), "msbuild did not finish within 300 s");
        return (process.ExitCode, output + error.Result);
    }

    private static string TargetsFile()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "generator", "CapsEmbedded.Generator", "build", "CapsEmbedded.Generator.targets");
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"CapsEmbedded.Generator.targets not found above {AppContext.BaseDirectory}");
    }
}
