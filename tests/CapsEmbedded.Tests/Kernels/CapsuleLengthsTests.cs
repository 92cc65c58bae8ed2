using CapsEmbedded.Kernels;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>|v_j| on every tier against double (tolerance 1e-6 relative).</summary>
public sealed class CapsuleLengthsTests
{
    [Theory]
    [AllTiers]
    public void Matches_double_for_every_dims(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => CapsuleLengths.Run(new float[16], 1, 16, new float[1], tier))) return;
        foreach (int dims in KernelSelfCheck.CapsuleDims)
        {
            foreach (int count in new[] { 0, 1, 10, 33 })
            {
                KernelSelfCheck.CapsuleLengths(tier, count, dims, seed: (ulong)(dims + count));
            }
        }
    }

    [Fact]
    public void Wrong_lengths_throw()
    {
        var shortV = Assert.Throws<ArgumentException>(() => CapsuleLengths.Run(new float[159], 10, 16, new float[10]));
        Assert.Contains("160", shortV.Message);
        var shortOut = Assert.Throws<ArgumentException>(() => CapsuleLengths.Run(new float[160], 10, 16, new float[9]));
        Assert.Equal("lengths", shortOut.ParamName);
    }
}
