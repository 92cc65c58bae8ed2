using CapsEmbedded.Kernels;

namespace CapsEmbedded.TestSupport;

/// <summary>
/// The one child-process SIMD-tier harness (linked into both test projects; a derived class names its probe). A probe
/// is an assembly that, run as a child, prints <c>best=</c>SimdTiers.Best, <c>ran=</c>the tier it ran and
/// <c>isa=</c>its instruction set, one a line, then runs its checks on that tier and prints <c>result=pass</c> (exit
/// code 0) or <c>result=fail: why</c>. Each case starts the probe with DOTNET_Enable* switches that take instruction
/// sets away from its JIT, so the lower tiers run exactly as on a machine without them (Vector128 is what ARM64 NEON
/// runs), and asserts the tier the child found and ran: a child that silently took another tier fails.
/// </summary>
public abstract class TierProbeTests
{
    /// <summary>The probe's assembly (a .dll run with <c>dotnet exec</c>).</summary>
    protected abstract string ProbeAssembly { get; }

    /// <summary>Its arguments.</summary>
    protected abstract string[] ProbeArguments { get; }

    /// <summary>
    /// Switches (space-separated, each set to 0) and the tier each forces where the CPU has what it switches off.
    /// DOTNET_EnableAVX512F is .NET 9's name for the AVX-512 switch, set as well in case the child runs on it.
    /// </summary>
    public static TheoryData<string, SimdTier> Switches => new()
    {
        { "DOTNET_EnableAVX512 DOTNET_EnableAVX512F", SimdTier.Vector256 },
        { "DOTNET_EnableAVX2", SimdTier.Vector128 },
        { "DOTNET_EnableAVX", SimdTier.Vector128 },
        { "DOTNET_EnableHWIntrinsic", SimdTier.Scalar },
    };

    [Theory]
    [MemberData(nameof(Switches))]
    public void Child_process_with_instruction_sets_switched_off_runs_the_lower_tier_and_passes(string switches, SimdTier forced)
    {
        // Where this CPU lacks what the switch turns off (no AVX-512; ARM64, which ignores the x64 switches) the child
        // stays on this process's best tier, below the forced one: it must report exactly that. Nothing is skipped; the
        // tiers an x64 test machine must have are required by TierRequirement in the in-process kernel tests.
        SimdTier expected = forced <= SimdTiers.Best ? forced : SimdTiers.Best;
        string output = RunProbe(ProbeAssembly, ProbeArguments, SwitchedOff(switches));
        Assert.Contains($"best={expected}\n", output);
        Assert.Contains($"ran={expected}\n", output);
        AssertProbeOutput(output, expected);
    }

    [Fact]
    public void Child_process_without_switches_runs_this_process_best_tier_and_passes()
    {
        string output = RunProbe(ProbeAssembly, ProbeArguments, new Dictionary<string, string>());
        Assert.Contains($"best={SimdTiers.Best}\n", output);
        Assert.Contains($"ran={SimdTiers.Best}\n", output);
        Assert.Contains($"isa={SimdTiers.InstructionSet(SimdTiers.Best)}\n", output);
        AssertProbeOutput(output, SimdTiers.Best);
    }

    /// <summary>What else a passing probe that ran on <paramref name="tier"/> must have printed (nothing more by default).</summary>
    protected virtual void AssertProbeOutput(string output, SimdTier tier)
    {
    }

    /// <summary>The child's environment for <paramref name="switches"/> (a row of <see cref="Switches"/>): each set to 0.</summary>
    public static Dictionary<string, string> SwitchedOff(string switches) => switches.Split(' ').ToDictionary(name => name, _ => "0");

    /// <summary>Runs a probe with <paramref name="environment"/>; asserts exit code 0 and <c>result=pass</c>, returns its output.</summary>
    public static string RunProbe(string probeAssembly, string[] probeArguments, Dictionary<string, string> environment)
    {
        var (code, output, error) = ChildProcess.Run(probeAssembly, probeArguments, environment);
        string setting = string.Join(" ", environment.Select(pair => $"{pair.Key}={pair.Value}"));
        Assert.True(code == 0, $"probe with [{setting}] failed (exit {code}):\n{output}\n{error}");
        Assert.Contains("result=pass\n", output);
        return output;
    }
}
