using CapsEmbedded.Cli;
using CapsEmbedded.Cli.Commands;
using CapsEmbedded.Tests.Onnx;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// Where <c>capsnet serve</c> finds capsnet-serve: $CAPSNET_SERVE, next to capsnet, else, when capsnet runs from its
/// build output in a source checkout, <c>dotnet run</c> of the Serve project (nothing published by hand).
/// </summary>
public sealed class ServeCommandTests() : TempDirectoryTest("capsnet-serve-locate-")
{
    private static readonly string Executable = OperatingSystem.IsWindows() ? "capsnet-serve.exe" : "capsnet-serve";

    [Fact]
    public void From_a_source_checkouts_build_output_it_runs_the_Serve_project_in_the_same_configuration()
    {
        string project = Touch(Path.Combine("src", "CapsEmbedded.Serve", "CapsEmbedded.Serve.csproj"));
        string output = Folder(Path.Combine("src", "CapsEmbedded.Cli", "bin", "Debug", "net10.0"));

        var (file, arguments) = ServeCommand.Locate(output + Path.DirectorySeparatorChar, configured: null);

        Assert.Equal("dotnet", file);
        Assert.Equal(["run", "-c", "Debug", "--project", project, "--"], arguments);
    }

    [Fact]
    public void In_this_repository_the_Cli_build_output_finds_the_real_Serve_project()
    {
        string root = Path.GetDirectoryName(OnnxExportTests.FindRepositoryFile("CapsEmbedded.sln"))!;
        string output = Path.Combine(root, "src", "CapsEmbedded.Cli", "bin", "Release", "net10.0");

        var (file, arguments) = ServeCommand.Locate(output, configured: null);

        Assert.Equal("dotnet", file);
        Assert.Equal(Path.Combine(root, "src", "CapsEmbedded.Serve", "CapsEmbedded.Serve.csproj"), arguments[4]);
        Assert.True(File.Exists(arguments[4]));
    }

    [Fact]
    public void A_published_capsnet_serve_next_to_capsnet_wins_over_the_checkout()
    {
        Touch(Path.Combine("src", "CapsEmbedded.Serve", "CapsEmbedded.Serve.csproj"));
        string output = Folder(Path.Combine("src", "CapsEmbedded.Cli", "bin", "Release", "net10.0"));
        string next = Touch(Path.Combine(output, Executable));

        var (file, arguments) = ServeCommand.Locate(output, configured: null);

        Assert.Equal(next, file);
        Assert.Empty(arguments);
    }

    [Fact]
    public void CAPSNET_SERVE_wins_and_a_missing_file_there_is_one_line()
    {
        string output = Folder(Path.Combine("src", "CapsEmbedded.Cli", "bin", "Release", "net10.0"));
        Touch(Path.Combine(output, Executable));
        string configured = Touch("my-serve");

        var (file, arguments) = ServeCommand.Locate(output, configured);

        Assert.Equal(configured, file);
        Assert.Empty(arguments);
        var e = Assert.Throws<CliException>(() => ServeCommand.Locate(output, P("absent")));
        Assert.Equal($"CAPSNET_SERVE={P("absent")}: no such file", e.Message);
    }

    [Theory]
    [InlineData("out")]                                            // a published folder without capsnet-serve
    [InlineData("src/CapsEmbedded.Cli/bin/Release/net10.0")]      // a checkout's layout, but no Serve project
    [InlineData("src/Other.Cli/bin/Release/net10.0")]             // a Serve project, but capsnet not built in the Cli's bin
    public void Elsewhere_it_says_how_to_get_capsnet_serve(string folder)
    {
        if (folder.StartsWith("src/Other", StringComparison.Ordinal)) Touch(Path.Combine("src", "CapsEmbedded.Serve", "CapsEmbedded.Serve.csproj"));
        string output = Folder(folder);

        var e = Assert.Throws<CliException>(() => ServeCommand.Locate(output, configured: ""));

        Assert.StartsWith($"capsnet serve runs capsnet-serve, not found next to capsnet ({output}); build it with", e.Message);
    }

    private string Folder(string relative) => Directory.CreateDirectory(P(relative)).FullName;

    private string Touch(string relative)
    {
        string path = P(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "");
        return path;
    }
}
