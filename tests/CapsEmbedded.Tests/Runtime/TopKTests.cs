using CapsEmbedded.Reference;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Tests.Runtime;

public class TopKTests
{
    [Theory]
    [InlineData(new float[] { 0.1f, 0.9f, 0.3f, 0.8f }, new[] { 1, 3 })]
    [InlineData(new float[] { 0.9f, 0.1f, 0.3f, 0.8f }, new[] { 0, 3, 2 })]
    [InlineData(new float[] { 0.5f }, new[] { 0 })]
    [InlineData(new float[] { 0.2f, 0.4f, 0.6f }, new[] { 2, 1, 0 })]
    public void Longest_lists_the_k_longest_longest_first(float[] lengths, int[] expected)
    {
        var classes = new int[expected.Length];
        var longest = new float[expected.Length];
        TopK.Longest(lengths, classes, longest);
        Assert.Equal(expected, classes);
        Assert.Equal(expected.Select(c => lengths[c]), longest);
    }

    [Fact]
    public void Equal_lengths_go_to_the_lower_class_and_NaN_ranks_last()
    {
        var classes = new int[3];
        TopK.Longest([0.5f, 0.7f, 0.5f, 0.7f, 0.5f], classes);
        Assert.Equal([1, 3, 0], classes);

        TopK.Longest([float.NaN, 0.2f, float.NaN, 0.1f], classes);
        Assert.Equal([1, 3, 0], classes);

        TopK.Longest([float.NaN, float.NaN, float.NaN], classes);
        Assert.Equal([0, 1, 2], classes);

        TopK.Longest([0.1f, float.PositiveInfinity, 0.3f], classes);
        Assert.Equal([1, 2, 0], classes);
    }

    [Fact]
    public void Matches_a_sort_and_argmax_on_random_lengths_with_ties()
    {
        var random = new DeterministicRandom(30);
        for (int iteration = 0; iteration < 2000; iteration++)
        {
            int n = 1 + random.NextInt(12);
            var lengths = new float[n];
            // Few distinct values, so ties are common.
            for (int c = 0; c < n; c++) lengths[c] = random.NextInt(5) / 4f;
            int k = 1 + random.NextInt(n);
            var classes = new int[k];
            TopK.Longest(lengths, classes);

            int[] sorted = Enumerable.Range(0, n).OrderByDescending(c => lengths[c]).ThenBy(c => c).Take(k).ToArray();
            Assert.Equal(sorted, classes);
            Assert.Equal(TopK.ArgMax<float>(lengths), classes[0]);
        }
    }

    [Fact]
    public void Refuses_k_of_zero_more_than_the_capsules_or_a_wrong_lengths_span()
    {
        Assert.Throws<ArgumentException>(() => TopK.Longest([0.1f, 0.2f], Span<int>.Empty));
        Assert.Throws<ArgumentException>(() => TopK.Longest([0.1f, 0.2f], new int[3]));
        Assert.Throws<ArgumentException>(() => TopK.Longest([0.1f, 0.2f], new int[2], new float[1]));
    }

    [Fact]
    public void Allocates_nothing()
    {
        float[] lengths = [0.1f, 0.9f, 0.3f, 0.8f, 0.2f, 0.7f, 0.4f, 0.6f, 0.5f, 0.05f];
        var classes = new int[2];
        var longest = new float[2];
        TopK.Longest(lengths, classes, longest); // JIT first
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) TopK.Longest(lengths, classes, longest);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal([1, 3], classes);
    }
}
