using System.Numerics;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Training;

/// <summary>
/// The trainer's self-check (tests/TestSupport/Training) at this process's vector width; KernelTierProbeTests runs it again
/// in child processes at the narrower widths, and .ci/arm64.sh on linux-arm64 (NEON) under qemu.
/// </summary>
public class TrainingSelfCheckTests
{
    [Fact]
    public void Trainer_passes_its_self_check_at_this_process_width()
    {
        Assert.Equal(Vector<float>.Count, TrainingSelfCheck.FloatLanes);
        Assert.Equal(TrainingSelfCheck.ExpectedChecks(Vector<float>.Count), TrainingSelfCheck.RunAll());
    }
}
