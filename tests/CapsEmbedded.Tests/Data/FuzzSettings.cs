namespace CapsEmbedded.Tests.Data;

/// <summary>
/// What every in-process fuzz test here shares: the count (CAPSNET_FUZZ_ITERATIONS raises it; .ci/hostile.sh runs
/// 100,000 per reader), a per-input allocation cap measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/>, and
/// a wall-clock bound on the whole loop so a hang fails the test instead of stalling CI. A mutant that breaks a rule is
/// written to CAPSNET_FUZZ_CRASH_DIR (default: the temp folder) so it can be kept as a regression fixture.
/// </summary>
internal static class FuzzSettings
{
    public static int Iterations(int unitTestDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("CAPSNET_FUZZ_ITERATIONS"), out int n) && n > 0 ? n : unitTestDefault;

    /// <summary>
    /// No reader may allocate more for one input than 1 MiB plus 4 × 1032 bytes per input byte: deflate expands at most
    /// 1032:1 and a decoded sample becomes a 4-byte float, so only a forged size (never real data) could go past this.
    /// </summary>
    public static long AllocationCap(int inputLength) => 4 * 1032L * inputLength + (1 << 20);

    /// <summary>Runs <paramref name="read"/> on <paramref name="input"/>, failing on an allocation above the cap; returns what it threw.</summary>
    public static Exception? Measure(byte[] input, Action read, string what)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Exception? thrown = null;
        try
        {
            read();
        }
        catch (Exception e)
        {
            thrown = e;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > AllocationCap(input.Length))
            Assert.Fail($"{what}: {allocated:N0} bytes allocated for a {input.Length:N0}-byte input (cap {AllocationCap(input.Length):N0}); input kept at {Keep(input, what)}");
        return thrown;
    }

    /// <summary>Fails with the input kept on disk when a disallowed exception escaped.</summary>
    public static void Escaped(byte[] input, Exception e, string what) =>
        Assert.Fail($"{what}: {e.GetType().Name} escaped: {e.Message}; input kept at {Keep(input, what)}");

    /// <summary>
    /// <paramref name="iterations"/> copies of <paramref name="original"/>, each with 1 to <paramref name="maxFlips"/>
    /// bytes XOR-ed with a non-zero value (half of them within the first <paramref name="headerBytes"/> bytes, where a
    /// header decides everything), through <paramref name="read"/>(mutant, iteration), which returns 1 for a rejected
    /// mutant and 0 for an accepted one; returns how many were rejected.
    /// </summary>
    public static int CountRejectedFlips(byte[] original, ulong seed, int iterations, int maxFlips, int headerBytes, Func<byte[], int, int> read)
    {
        var random = new DeterministicRandom(seed);
        int rejected = 0;
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            byte[] mutated = (byte[])original.Clone();
            int flips = 1 + random.NextInt(maxFlips);
            for (int f = 0; f < flips; f++)
            {
                int index = random.NextInt(2) == 0 ? random.NextInt(Math.Min(headerBytes, mutated.Length)) : random.NextInt(mutated.Length);
                mutated[index] ^= (byte)(1 + random.NextInt(255));
            }
            rejected += read(mutated, iteration);
        }
        return rejected;
    }

    /// <summary>Runs the whole loop with a wall-clock bound (a hang in any reader fails here).</summary>
    public static async Task WithinAsync(TimeSpan limit, Action loop) =>
        await Task.Factory.StartNew(loop, TaskCreationOptions.LongRunning).WaitAsync(limit);

    public static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    private static string Keep(byte[] input, string what)
    {
        string dir = Environment.GetEnvironmentVariable("CAPSNET_FUZZ_CRASH_DIR") ?? Path.GetTempPath();
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "fuzz-" + string.Concat(what.Select(c => char.IsLetterOrDigit(c) ? c : '-')) + ".bin");
        File.WriteAllBytes(path, input);
        return path;
    }
}
