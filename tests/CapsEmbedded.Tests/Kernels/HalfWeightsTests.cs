using CapsEmbedded.Kernels;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>
/// The F16-weight kernels on every tier, bit for bit against their float32 paths (<see cref="HalfWeightsSelfCheck"/>;
/// the probe runs the same checks with the tiers lowered by DOTNET_Enable* switches).
/// </summary>
public sealed class HalfWeightsTests
{
    private static void RunSmall(SimdTier tier) => HalfPanels.Widen(new Half[8], new float[8], tier);

    /// <summary>Each F16 kernel's check against its float32 path (bit for bit), over its shapes and seeds, by what it checks.</summary>
    private static readonly Dictionary<string, Action<SimdTier>> BitChecks = new()
    {
        ["Widen: the bits of (float)Half for every finite value"] = HalfWeightsSelfCheck.Widen,
        ["GEMM with F16 panels: the float32 bits, whole and split by panels"] = tier =>
        {
            foreach (var (m, n, k) in HalfWeightsSelfCheck.GemmShapes)
            {
                HalfWeightsSelfCheck.Gemm(tier, m, n, k, zeroShare: 0, seed: (ulong)(m + n + k));
                HalfWeightsSelfCheck.Gemm(tier, m, n, k, zeroShare: 0.9, seed: (ulong)(m * n + k));
            }
        },
        ["Convolution with F16 panels: the float32 bits"] = tier =>
        {
            foreach (var (c, h, w, kernel, stride, n) in HalfWeightsSelfCheck.ConvShapes)
                HalfWeightsSelfCheck.Convolution(tier, c, h, w, kernel, stride, n, seed: (ulong)(c * h + n));
        },
        ["Capsule transform with F16 W: the float32 bits"] = tier =>
        {
            foreach (var (n, j, d, p, seed) in KernelSelfCheck.TransformCases())
                HalfWeightsSelfCheck.CapsuleTransform(tier, n, j, d, p, seed);
        },
    };

    public static TheoryData<string, SimdTier> KernelsOnEveryTier() => TierRequirement.OnEveryTier(BitChecks.Keys);

    [Theory]
    [MemberData(nameof(KernelsOnEveryTier))]
    public void F16_kernel_gives_the_float32_bits(string check, SimdTier tier) =>
        TierRequirement.RunCheck(BitChecks[check], tier, RunSmall);

    [Theory]
    [AllTiers]
    public void F16_kernels_allocate_nothing(SimdTier tier)
    {
        if (!TierRequirement.Runs(tier, () => RunSmall(tier))) return;
        float[] u = new float[1152 * 8], uHat = new float[1152 * 10 * 16];
        var w = new Half[1152 * 10 * 128];
        Allocations.AssertNone(() => CapsuleTransform.Run(u, w, 1152, 10, 16, 8, uHat, tier));
        float[] a = new float[36 * 600], c = new float[36 * 256], widened = new float[PackedGemm.WidenedLength(256, 600)];
        var b = new Half[PackedGemm.PackedLength(256, 600)];
        Allocations.AssertNone(() => PackedGemm.MultiplyPanels(a, 36, 600, b, 256, default, Activation.None, c, tier, 0, 16, widened));
    }

    [Fact]
    public void A_short_widening_scratch_throws_naming_its_length()
    {
        var error = Assert.Throws<ArgumentException>(() => PackedGemm.MultiplyPanels(new float[6 * 300], 6, 300,
            new Half[PackedGemm.PackedLength(32, 300)], 32, default, Activation.None, new float[6 * 32], SimdTier.Scalar, 0, 2,
            new float[PackedGemm.WidenedLength(32, 300) - 1]));
        Assert.Equal("widened", error.ParamName);
        Assert.Contains(PackedGemm.WidenedLength(32, 300).ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
        Assert.Equal(2 * 256 * 16, PackedGemm.WidenedLength(32, 300));
        Assert.Equal(2 * 100 * 16, PackedGemm.WidenedLength(32, 100));
    }
}
