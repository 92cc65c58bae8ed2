using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels.Int8;

/// <summary>
/// û with int8 W (<see cref="QuantizedTransform"/>) on every tier against the plain loop of its rule, bit for bit
/// (<see cref="KernelSelfCheck.QuantizedTransform"/>, which the tier probe also runs on ARM64 under qemu): the û shapes
/// and d = 1..33 at p = 8 and 5, so every chunk width (16, 8, 4 lanes) and the scalar tail are taken.
/// </summary>
public sealed class QuantizedTransformTests
{
    public static TheoryData<SimdTier, int, int, int, int> Cases()
    {
        var data = new TheoryData<SimdTier, int, int, int, int>();
        foreach (var tier in Enum.GetValues<SimdTier>())
        {
            foreach (var (n, j, d, p, _) in KernelSelfCheck.TransformCases()) data.Add(tier, n, j, d, p);
            foreach (int d in Enumerable.Range(1, 33)) data.Add(tier, 3, 2, d, d % 2 == 0 ? 8 : 5);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Equals_the_scalar_rule_bit_for_bit(SimdTier tier, int n, int j, int d, int p)
    {
        if (!TierRequirement.Runs(tier, () => QuantizedTransform.Run(new float[n * p], new sbyte[n * j * d * p], new float[n * j], n, j, d, p,
                new float[n * j * d], tier))) return;
        KernelSelfCheck.QuantizedTransform(tier, n, j, d, p, seed: (ulong)(n * 1000 + d * 10 + p));
    }

    [Fact]
    public void Refuses_short_spans()
    {
        const int n = 2, j = 3, d = 4, p = 2;
        var u = new float[n * p];
        var q = new sbyte[n * j * d * p];
        var scales = new float[n * j];
        var uHat = new float[n * j * d];
        Assert.Equal("u", Assert.Throws<ArgumentException>(() => QuantizedTransform.Run(u.AsSpan(1), q, scales, n, j, d, p, uHat, SimdTier.Scalar)).ParamName);
        Assert.Equal("quantised", Assert.Throws<ArgumentException>(() => QuantizedTransform.Run(u, q.AsSpan(1), scales, n, j, d, p, uHat, SimdTier.Scalar)).ParamName);
        Assert.Equal("scales", Assert.Throws<ArgumentException>(() => QuantizedTransform.Run(u, q, scales.AsSpan(1), n, j, d, p, uHat, SimdTier.Scalar)).ParamName);
        Assert.Equal("uHat", Assert.Throws<ArgumentException>(() => QuantizedTransform.Run(u, q, scales, n, j, d, p, uHat.AsSpan(1), SimdTier.Scalar)).ParamName);
    }
}
