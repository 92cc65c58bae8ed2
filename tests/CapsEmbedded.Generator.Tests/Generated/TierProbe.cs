using System.Diagnostics;
using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using Xunit;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// The child process of <see cref="ChildProcessTierTests"/>: <c>dotnet CapsEmbedded.Generator.Tests.dll probe EXPECTED</c>
/// checks that this process got the tier EXPECTED (a run that silently took another tier fails), then runs the generated
/// Tiny and Paper models with the default tier against ReferenceModel, and the split Predict against the one-thread one. Exit code 0 = all good.
/// </summary>
public static class TierProbe
{
    public static int Run(ReadOnlySpan<string> args)
    {
        if (args.Length != 1 || !Enum.TryParse(args[0], out SimdTier expected))
        {
            Console.Error.WriteLine("usage: probe <Scalar|Vector128|Vector256|Vector512>");
            return 2;
        }
        Console.WriteLine($"tier={MnistCapsNet.ActiveTier}");
        if (MnistCapsNet.ActiveTier != expected || TinyCapsNet.ActiveTier != expected)
        {
            Console.Error.WriteLine($"expected tier {expected}, got {MnistCapsNet.ActiveTier}");
            return 3;
        }
        bool ok = true;
        var tiny = ModelCheck.Tiny();
        for (int k = 0; k < 20; k++)
        {
            var image = TestData.RandomImage(TinyCapsNet.InputLength, (ulong)k + 1);
            var result = ModelCheck.Compare(tiny, TinyCapsNet.Architecture, ModelCheck.Reference("tiny", k, TestData.Tiny, image), image, expected);
            if (!result.WithinTolerance) Console.Error.WriteLine($"tiny image {k}: {result}");
            ok &= result.WithinTolerance;
        }
        var paper = ModelCheck.Paper();
        var digit = TestData.Digits[0];
        var paperResult = ModelCheck.Compare(paper, MnistCapsNet.Architecture, ModelCheck.Reference("paper-digit", 0, TestData.Paper, digit), digit, expected);
        Console.WriteLine($"paper digit 0: {paperResult}");
        ok &= paperResult.WithinTolerance;
        // The one image split over 3 workers: the same bits as one thread on this process's tier.
        float[] one = new float[MnistCapsNet.Classes], split = new float[MnistCapsNet.Classes];
        using (var workspace = new MnistCapsNet.Workspace())
            MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, workspace, digit, one);
        using (var context = MnistCapsNet.CreateBatchContext(3))
            MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, context, digit, split);
        bool same = one.AsSpan().SequenceEqual(split);
        if (!same) Console.Error.WriteLine($"split Predict differs: {string.Join(",", split)} vs {string.Join(",", one)}");
        ok &= same;
        Console.WriteLine(ok ? "ok" : "MISMATCH");
        return ok ? 0 : 1;
    }
}

/// <summary>
/// Re-runs the generated models in child processes whose JIT is told to leave out instruction sets, so the lower tiers
/// really run: DOTNET_EnableAVX512=0 → Vector256 (.NET 10's name; DOTNET_EnableAVX512F is set too for .NET 9),
/// DOTNET_EnableAVX2=0 → Vector128 (the tier ARM's NEON gets), DOTNET_EnableHWIntrinsic=0 → Scalar.
/// </summary>
public class ChildProcessTierTests
{
    [Theory]
    [InlineData("DOTNET_EnableAVX512 DOTNET_EnableAVX512F", "Vector256")]
    [InlineData("DOTNET_EnableAVX2", "Vector128")]
    [InlineData("DOTNET_EnableHWIntrinsic", "Scalar")]
    public async Task Child_process_runs_the_lower_tier_and_matches_the_reference(string switches, string expectedTier)
    {
        // Only meaningful where the host has the instruction set being switched off.
        if (expectedTier == "Vector256" && !SimdTiers.IsSupported(SimdTier.Vector512)) return;
        if (expectedTier == "Vector128" && !SimdTiers.IsSupported(SimdTier.Vector256)) return;
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(TierProbe).Assembly.Location);
        start.ArgumentList.Add("probe");
        start.ArgumentList.Add(expectedTier);
        foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("DOTNET_Enable", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        foreach (string name in switches.Split(' ')) start.Environment[name] = "0";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"probe exit {process.ExitCode}\n{stdout}\n{await stderr}");
        Assert.Contains($"tier={expectedTier}", stdout);
        Assert.Contains("ok", stdout);
    }
}
