using System.Security.Cryptography;
using System.Text.RegularExpressions;
using CapsEmbedded.Tests.Onnx;

namespace CapsEmbedded.Tests.Packaging;

/// <summary>
/// The NuGet consumer (tests/Consumer, run by .ci/nuget.sh) checks its generated models' SHA-256 constants against
/// hashes written in its Program.cs; those must be the hashes of the files it copies, or the consumer step fails only
/// in CI, long after a weight file was replaced.
/// </summary>
public sealed partial class ConsumerConstantsTests
{
    private static readonly string Root = Path.GetDirectoryName(OnnxExportTests.FindRepositoryFile("CapsEmbedded.sln"))!;

    [GeneratedRegex("const string ExpectedEfficientSha256 = \"([0-9a-f]{64})\";")]
    private static partial Regex EfficientConstant();

    [Fact]
    public void The_consumers_efficient_hash_is_the_committed_files()
    {
        string program = File.ReadAllText(Path.Combine(Root, "tests", "Consumer", "Program.cs"));
        var match = EfficientConstant().Match(program);
        Assert.True(match.Success, "tests/Consumer/Program.cs has no ExpectedEfficientSha256 constant");
        string actual = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(Root, "weights", "mnist-efficient.safetensors"))));
        Assert.Equal(actual, match.Groups[1].Value);
    }
}
