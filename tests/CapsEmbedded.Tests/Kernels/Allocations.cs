namespace CapsEmbedded.Tests.Kernels;

/// <summary>Checks that a kernel call allocates nothing on the managed heap.</summary>
internal static class Allocations
{
    /// <summary>
    /// Warms <paramref name="call"/> up, then measures five calls and asserts that at least one allocated zero bytes
    /// (a kernel that allocates per call allocates in all five; a one-off allocation by the runtime itself — type
    /// initialisation, tiered re-compilation landing mid-call — must not fail the test) and none allocated more than a few.
    /// </summary>
    public static void AssertNone(Action call)
    {
        for (int warmUp = 0; warmUp < 3; warmUp++) call();
        var deltas = new long[5];
        for (int run = 0; run < deltas.Length; run++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            call();
            deltas[run] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.True(deltas.Min() == 0, $"every call allocated: {string.Join(", ", deltas)} bytes");
    }
}
