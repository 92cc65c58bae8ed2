namespace CapsEmbedded.TestSupport;

/// <summary>Float arrays compared bit for bit, so the sign of zero and NaN payloads count (linked into both test projects).</summary>
internal static class FloatBits
{
    /// <summary>Each of <paramref name="expected"/>'s elements has the same bits in <paramref name="actual"/>; the message names the first that differs.</summary>
    public static void AssertSame(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        for (int t = 0; t < expected.Length; t++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(expected[t]) == BitConverter.SingleToInt32Bits(actual[t]),
                $"{what}: [{t}] {actual[t]:R}, expected {expected[t]:R}");
        }
    }
}
