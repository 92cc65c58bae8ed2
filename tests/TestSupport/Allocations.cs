namespace CapsEmbedded.TestSupport;

/// <summary>
/// Checks that warm calls allocate nothing on the managed heap of the calling thread (linked into both test projects).
/// Each measures a few windows and keeps the fewest bytes: code that allocates per call allocates in every window, while
/// a one-off allocation by the runtime itself (type initialisation, tiered re-compilation landing mid-call; 496 B and
/// 4,824 B were each seen once in loaded full-suite runs) does not fail a test.
/// </summary>
internal static class Allocations
{
    /// <summary>
    /// Bytes allocated on this thread by <paramref name="measured"/> calls (call k gets k) after <paramref name="warmUp"/>
    /// calls: the fewest of <paramref name="windows"/> such windows.
    /// </summary>
    public static long OnThisThread(int warmUp, int measured, Action<int> call, int windows = 3)
    {
        for (int k = 0; k < warmUp; k++) call(k);
        long fewest = long.MaxValue;
        for (int window = 0; window < windows && fewest != 0; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int k = 0; k < measured; k++) call(k);
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return fewest;
    }

    /// <summary>
    /// Warms a kernel <paramref name="call"/> up (three calls), then asserts that one of five single calls allocated
    /// nothing; if all five did, it waits a moment for the runtime's tiering work to land and measures five more (a CI run
    /// once saw 496 B in each of five calls of a slow Scalar-tier kernel mid-suite; alone the same test allocates 0 B).
    /// Code that allocates per call allocates in all ten and fails.
    /// </summary>
    public static void AssertNone(Action call)
    {
        long fewest = OnThisThread(3, 1, _ => call(), windows: 5);
        if (fewest != 0)
        {
            Thread.Sleep(250);
            long again = OnThisThread(0, 1, _ => call(), windows: 5);
            Assert.True(again == 0, $"each of ten warm calls allocated, the fewest {fewest} bytes, then {again} bytes after a pause");
        }
    }
}
