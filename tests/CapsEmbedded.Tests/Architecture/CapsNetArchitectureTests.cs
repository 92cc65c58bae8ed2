namespace CapsEmbedded.Tests;

public sealed class CapsNetArchitectureTests
{
    [Fact]
    public void Paper_sizes_match_the_paper()
    {
        var a = CapsNetArchitecture.Paper;
        Assert.Equal(20, a.Conv1OutSize);
        Assert.Equal(6, a.PrimaryGridSize);
        Assert.Equal(1152, a.PrimaryCapsules);
        Assert.Equal(160, a.DecoderInput);
        Assert.Equal(784, a.DecoderOutput);
        Assert.Equal(8_215_568, a.ParameterCount);
        // conv1 8.3 M + primary 191.1 M + û 1.47 M + routing 0.92 M + decoder 1.41 M multiply-adds.
        Assert.Equal(203_202_560, a.MultiplyAdds);
        Assert.Null(a.Validate());
        Assert.Null(CapsNetArchitecture.Tiny.Validate());
    }

    [Fact]
    public void Metadata_round_trips_and_absent_keys_mean_the_paper()
    {
        var variant = CapsNetArchitecture.Paper with { InputSize = 36, RoutingIterations = 5 };
        Assert.Equal(variant, CapsNetArchitecture.FromMetadata(variant.ToMetadata(), out var error));
        Assert.Null(error);
        Assert.Equal(CapsNetArchitecture.Paper, CapsNetArchitecture.FromMetadata(new Dictionary<string, string>(), out _));
        Assert.Equal(10, variant.PrimaryGridSize); // MultiMNIST 36×36: (28 − 9)/2 + 1
    }

    [Fact]
    public void Derived_sizes_that_overflow_int_are_rejected()
    {
        var huge = CapsNetArchitecture.Paper with
        {
            InputSize = 16384, Conv1Kernel = 1, PrimaryKernel = 1, PrimaryStride = 1, PrimaryTypes = 16384,
        };
        Assert.Contains("too large", huge.Validate());
    }
}
