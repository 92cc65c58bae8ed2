using CapsEmbedded.Kernels.Int8;

namespace CapsEmbedded.Tests.Kernels.Int8;

/// <summary>QuantizeU7 against the rule it states, on every length (the vector body and the scalar tail) and at the edges.</summary>
public sealed class QuantizeU7Tests
{
    [Fact]
    public void Rounds_half_up_clamps_and_matches_the_rule_on_every_length()
    {
        var random = new Random(9);
        for (int length = 0; length <= 200; length += length < 40 ? 1 : 37)
        {
            var x = new float[length];
            for (int k = 0; k < length; k++) x[k] = (float)(random.NextDouble() * 3 - 0.5);
            if (length > 3) { x[0] = 0f; x[1] = 100f; x[2] = 0.49f / 40f; x[3] = 0.5f / 40f; }
            var codes = new byte[length];
            QuantizeU7.Run(x, 40f, codes);
            for (int k = 0; k < length; k++)
            {
                int expected = (int)Math.Min(Math.Floor(Math.Max(x[k] * 40f + 0.5f, 0f)), QuantizeU7.MaxCode);
                Assert.True(expected == codes[k], $"length {length}, x[{k}] = {x[k]}: code {codes[k]}, expected {expected}");
            }
        }
    }

    [Fact]
    public void Any_split_of_the_input_gives_the_same_codes()
    {
        var random = new Random(4);
        var x = new float[1000];
        for (int k = 0; k < x.Length; k++) x[k] = (float)(random.NextDouble() * 4);
        var whole = new byte[x.Length];
        QuantizeU7.Run(x, 31.5f, whole);
        foreach (int cut in new[] { 1, 17, 64, 500, 999 })
        {
            var split = new byte[x.Length];
            QuantizeU7.Run(x.AsSpan(0, cut), 31.5f, split);
            QuantizeU7.Run(x.AsSpan(cut), 31.5f, split.AsSpan(cut));
            Assert.Equal(whole, split);
        }
        Assert.Throws<ArgumentException>(() => QuantizeU7.Run(x, 1f, new byte[x.Length - 1]));
    }
}
