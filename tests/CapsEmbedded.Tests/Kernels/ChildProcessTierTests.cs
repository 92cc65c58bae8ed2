using System.Diagnostics;
using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;
using Xunit;

namespace CapsEmbedded.Tests.Kernels;

/// <summary>
/// Re-runs every kernel self-check in a child process (CapsEmbedded.TierProbe) whose JIT is told to ignore instruction
/// sets, so that the narrower tiers run exactly as they would on a machine without them (the Vector128 tier is what
/// ARM64 NEON runs). The child prints the tier it found and ran; the test asserts it, so a child that silently took
/// another tier fails.
/// </summary>
public sealed class ChildProcessTierTests
{
    public static TheoryData<string, SimdTier> X64Switches => new()
    {
        { "DOTNET_EnableAVX512=0", SimdTier.Vector256 },
        { "DOTNET_EnableAVX2=0", SimdTier.Vector128 },
        { "DOTNET_EnableAVX=0", SimdTier.Vector128 },
        { "DOTNET_EnableHWIntrinsic=0", SimdTier.Scalar },
    };

    [Theory]
    [MemberData(nameof(X64Switches))]
    public void Lower_tier_runs_all_self_checks_in_a_child_process(string setting, SimdTier expected)
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            // Off x64 only switching hardware intrinsics off as a whole is meaningful.
            if (expected != SimdTier.Scalar) return;
        }

        if (expected == SimdTier.Vector256)
        {
            // The AVX-512 switch only lowers the tier where AVX-512 is there to switch off.
            expected = SimdTiers.Best >= SimdTier.Vector256 ? SimdTier.Vector256 : SimdTiers.Best;
        }

        var (name, value) = (setting.Split('=')[0], setting.Split('=')[1]);
        string output = RunProbe(name, value);
        Assert.Contains($"best={expected}\n", output);
        Assert.Contains($"ran={expected}\n", output);
        Assert.Contains("result=pass", output);
    }

    [Fact]
    public void Child_without_switches_runs_the_parents_best_tier()
    {
        string output = RunProbe(null, null);
        Assert.Contains($"best={SimdTiers.Best}\n", output);
        Assert.Contains($"isa={SimdTiers.InstructionSet(SimdTiers.Best)}\n", output);
        Assert.Contains("result=pass", output);
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

    internal static string RunProbe(string? variable, string? value)
    {
        string probe = Path.Combine(AppContext.BaseDirectory, "CapsEmbedded.TierProbe.dll");
        Assert.True(File.Exists(probe), $"{probe} is missing; the test project references CapsEmbedded.TierProbe to copy it.");
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(probe);
        foreach (string key in start.Environment.Keys.Where(key => key.StartsWith("DOTNET_Enable", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        if (variable is not null)
        {
            start.Environment[variable] = value;
        }

        using var process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd().Replace("\r\n", "\n");
        Assert.True(process.WaitForExit(120_000), "probe did not finish within 2 minutes");
        Assert.True(process.ExitCode == 0, $"probe with {variable}={value} failed (exit {process.ExitCode}):\n{output}\n{error.Result}");
        return output;
    }

    /// <summary>The dotnet host that runs this test process (the test host itself is an apphost, not dotnet).</summary>
    internal static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host)) return host;
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }
}
