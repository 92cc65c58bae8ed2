using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Tests.Kernels.Int8;

/// <summary>
/// The tier probe (which runs <see cref="TierProbe.Int8SelfCheck"/> on every int8 tier its process supports) in a child
/// whose JIT is told to ignore instruction sets: the lower int8 tiers run as on a machine without the wider ones, and
/// the child's reported tiers are asserted so that a child that silently ran another tier fails. The switches are the
/// float harness's (<see cref="TierProbeTests.Switches"/>), so both kinds of kernel are lowered by the same cases.
/// </summary>
public sealed class Int8TierProbeTests
{
    [Theory]
    [MemberData(nameof(TierProbeTests.Switches), MemberType = typeof(TierProbeTests))]
    public void Lower_int8_tier_runs_bit_exact_in_a_child_process(string switches, SimdTier forced)
    {
        // Without AVX-512 the int8 kernels keep AVX2 (or AVX-VNNI, its own VEX switch, where the CPU has it); without
        // AVX2 they have no x64 SIMD tier left.
        Int8Tier expected = forced != SimdTier.Vector256 ? Int8Tier.Scalar
            : Int8Tiers.IsSupported(Int8Tier.AvxVnni) ? Int8Tier.AvxVnni : Int8Tier.Avx2;
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64 && expected != Int8Tier.Scalar) return; // x64 switches
        string output = Probe(TierProbeTests.SwitchedOff(switches));
        Assert.Contains($"int8best={expected}\n", output);
        if (expected == Int8Tier.Scalar) Assert.Contains("int8supported=Scalar\n", output);
        else Assert.DoesNotContain("Avx512BW", output[output.IndexOf("int8supported=", StringComparison.Ordinal)..]);
        Assert.Contains($"int8 {expected}=pass", output);
        if (expected != Int8Tier.Scalar) Assert.Contains("int8 Avx2=pass", output);
        Assert.Contains("int8 Scalar=pass", output);
        Assert.Contains("int8=pass\n", output);
    }

    [Fact]
    public void Child_without_switches_runs_every_tier_the_parent_supports()
    {
        string output = Probe(new());
        Assert.Contains($"int8best={Int8Tiers.Best}\n", output);
        Assert.Contains($"int8supported={string.Join(",", Int8Tiers.Supported)}\n", output);
        foreach (Int8Tier tier in Int8Tiers.Supported)
        {
            Assert.Contains($"int8 {tier}=pass", output);
        }

        Assert.Contains("int8=pass\n", output);
    }

    private static string Probe(Dictionary<string, string> environment) => TierProbeTests.RunProbe(
        Path.Combine(AppContext.BaseDirectory, "CapsEmbedded.TierProbe.dll"), [], environment);
}
