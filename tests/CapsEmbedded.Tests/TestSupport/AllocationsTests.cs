using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Tests.TestSupport;

/// <summary>The zero-allocation check itself: it passes code that allocates nothing and fails code that allocates per call.</summary>
public sealed class AllocationsTests
{
    private static byte[]? _kept;

    [Fact]
    public void AssertNone_fails_a_call_that_allocates_every_time()
    {
        var error = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => Allocations.AssertNone(() => _kept = new byte[64]));
        Assert.Contains("each of ten warm calls allocated", error.Message);
    }

    [Fact]
    public void AssertNone_passes_a_call_that_allocates_nothing()
    {
        int[] values = [1, 2, 3];
        Allocations.AssertNone(() => values[0] = values[1] + values[2]);
    }
}
