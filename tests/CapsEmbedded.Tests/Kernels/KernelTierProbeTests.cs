using System.Numerics;
using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;
using CapsEmbedded.TestSupport;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>
/// Every kernel self-check (CapsEmbedded.TierProbe, KernelSelfCheck.RunAll) and the trainer's (TrainingSelfCheck.RunAll)
/// in child processes whose tier is lowered by DOTNET_Enable* switches (the cases are in <see cref="TierProbeTests"/>).
/// </summary>
public sealed class KernelTierProbeTests : TierProbeTests
{
    protected override string ProbeAssembly => Path.Combine(AppContext.BaseDirectory, "CapsEmbedded.TierProbe.dll");

    protected override string[] ProbeArguments => [];

    /// <summary>
    /// The trainer's self-check ran too, at the vector width the switches left: this process's <see cref="Vector{T}"/>
    /// on its best tier, 4 floats below it (SSE without AVX2, or no hardware intrinsics at all).
    /// </summary>
    protected override void AssertProbeOutput(string output, SimdTier tier)
    {
        int lanes = tier == SimdTiers.Best ? Vector<float>.Count : 4;
        Assert.Contains($"float-lanes={lanes}\n", output);
        Assert.Contains($"\ntraining-checks={TrainingSelfCheck.ExpectedChecks(lanes)}\n", output);
    }

    [Fact]
    public void Instruction_set_names_what_the_tier_runs_on_this_architecture()
    {
        // CI runs the probe for linux-arm64 under qemu and requires "isa=NEON/AdvSimd" (.ci/arm64.sh).
        string vector128 = SimdTiers.InstructionSet(SimdTier.Vector128);
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
        {
            Assert.Equal("NEON/AdvSimd", vector128);
        }
        else
        {
            Assert.Equal(Architecture.X64, RuntimeInformation.ProcessArchitecture);
            Assert.Equal("SSE + FMA3", vector128); // the project's x64 machines have FMA3 (TierRequirement)
            Assert.Equal("AVX2 + FMA3", SimdTiers.InstructionSet(SimdTier.Vector256));
        }

        Assert.Equal("no SIMD", SimdTiers.InstructionSet(SimdTier.Scalar));
        Assert.Throws<ArgumentOutOfRangeException>(() => SimdTiers.InstructionSet((SimdTier)42));
    }
}
