using CapsEmbedded.TorchSharp.ShimFix;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp.Tests;

public class ShimLoadTests
{
    private static string Shim => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void The_build_output_shim_needs_only_what_this_libstdcxx_defines()
    {
        Assert.True(File.Exists(Shim), $"{Shim} is missing from the build output");
        string system = ShimFixer.SystemLibstdcxx() ?? throw new InvalidOperationException("no libstdc++ in this process");
        var defined = ElfVersionNeedPatcher.DefinedVersions(File.ReadAllBytes(system));
        var needed = ElfVersionNeedPatcher.NeededVersions(File.ReadAllBytes(Shim), ShimFixer.Library);
        Assert.NotEmpty(needed);
        Assert.All(needed, v => Assert.Contains(v, defined));
    }

    [Fact]
    public void The_shim_loads_and_runs_a_convolution_and_a_matmul()
    {
        using var scope = NewDisposeScope();
        // A 3×3 all-ones kernel over a 4×4 all-ones image: every output is 9; a matmul of ones [2×3]·[3×2] gives 3.
        var conv = nn.functional.conv2d(ones(1, 1, 4, 4), ones(1, 1, 3, 3));
        Assert.Equal(new long[] { 1, 1, 2, 2 }, conv.shape);
        Assert.All(conv.data<float>().ToArray(), v => Assert.Equal(9f, v));
        var product = matmul(ones(2, 3), ones(3, 2));
        Assert.All(product.data<float>().ToArray(), v => Assert.Equal(3f, v));
        Assert.StartsWith("2.10", __version__);
    }
}
