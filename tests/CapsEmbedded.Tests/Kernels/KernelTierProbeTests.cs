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
    /// The trainer's self-check ran too, at the vector width the switches left: this process's <see cref="Vector{T}"/> (8
    /// floats) wherever AVX2 stays, AVX-512 switched off included (Vector&lt;T&gt; is 256 bits by default on AVX-512 CPUs
    /// too); 4 floats below Vector256 (SSE without AVX2, no hardware intrinsics at all, or ARM64's NEON).
    /// </summary>
    protected override void AssertProbeOutput(string output, SimdTier tier)
    {
        AssertTrainerRanAtWidth(output, tier >= SimdTier.Vector256 ? Vector<float>.Count : 4);
    }

    /// <summary>
    /// The trainer's <see cref="Vector{T}"/> code at 16 floats: DOTNET_MaxVectorTBitWidth=512 widens Vector&lt;T&gt; to AVX-512
    /// where the CPU has it (stage 5 of the MNIST model trained so, weights/README.md). Without AVX-512 the setting caps
    /// nothing and the child must report this process's width: asserted either way, never skipped.
    /// </summary>
    [Fact]
    public void Trainer_self_check_passes_with_Vector_T_widened_to_512_bits()
    {
        string output = RunProbe(ProbeAssembly, ProbeArguments, new() { ["DOTNET_MaxVectorTBitWidth"] = "512" });
        AssertTrainerRanAtWidth(output, System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? 16 : Vector<float>.Count);
    }

    /// <summary>The probe's trainer ran with <paramref name="lanes"/> floats a vector and every check for that width passed.</summary>
    private static void AssertTrainerRanAtWidth(string output, int lanes)
    {
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
