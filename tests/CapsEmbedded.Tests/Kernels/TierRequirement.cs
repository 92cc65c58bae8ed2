using System.Reflection;
using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;
using Xunit.Sdk;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>Which tiers a kernel test runs, and what it does when a tier cannot run here.</summary>
internal static class TierRequirement
{
    /// <summary>Every tier, as MemberData (the kernel tests use <see cref="AllTiersAttribute"/>, which gives the same).</summary>
    public static TheoryData<SimdTier> AllTiers => new(Enum.GetValues<SimdTier>());

    /// <summary>Every named check on every tier, as MemberData for a theory that runs one check on one tier.</summary>
    public static TheoryData<string, SimdTier> OnEveryTier(IEnumerable<string> checks)
    {
        var rows = new TheoryData<string, SimdTier>();
        foreach (string check in checks)
            foreach (var tier in Enum.GetValues<SimdTier>()) rows.Add(check, tier);
        return rows;
    }

    /// <summary>
    /// Runs <paramref name="check"/> on <paramref name="tier"/> where the tier <see cref="Runs"/> (probed with
    /// <paramref name="runOnTier"/>).
    /// </summary>
    public static void RunCheck(Action<SimdTier> check, SimdTier tier, Action<SimdTier> runOnTier)
    {
        if (Runs(tier, () => runOnTier(tier))) check(tier);
    }

    /// <summary>
    /// True when <paramref name="tier"/> runs here. Scalar always must; on x64 Vector128 and Vector256 must too (the
    /// project's machines have AVX2 + FMA), so a missing one fails instead of skipping. Otherwise (Vector512 without
    /// AVX-512, Vector256 on ARM64) the test checks that the kernel refuses the tier with PlatformNotSupportedException.
    /// </summary>
    public static bool Runs(SimdTier tier, Action runOnTier)
    {
        if (SimdTiers.IsSupported(tier))
        {
            return true;
        }

        bool mustRun = tier == SimdTier.Scalar
            || (RuntimeInformation.ProcessArchitecture == Architecture.X64 && tier is SimdTier.Vector128 or SimdTier.Vector256);
        Assert.False(mustRun, $"SIMD tier {tier} is not supported in this test process; the kernel tests require it on x64.");
        var error = Assert.Throws<PlatformNotSupportedException>(runOnTier);
        Assert.Contains(tier.ToString(), error.Message);
        return false;
    }
}

/// <summary>A kernel theory's data: every tier, so that the test runs once per tier, forced explicitly.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class AllTiersAttribute : DataAttribute
{
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => TierRequirement.AllTiers;
}
