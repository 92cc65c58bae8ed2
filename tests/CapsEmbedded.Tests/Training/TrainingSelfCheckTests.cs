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
        // 64 GEMM cases (4 transposes × 4 shapes × dense/sparse, float and double) and one network per distinct class
        // capsule width: two float vectors, two double vectors, the paper's 16.
        int networks = new[] { 2 * Vector<float>.Count, 2 * Vector<double>.Count, 16 }.Distinct().Count();
        Assert.Equal(64 + networks, TrainingSelfCheck.RunAll());
        Assert.Equal(Vector<float>.Count, TrainingSelfCheck.FloatLanes);
    }
}
