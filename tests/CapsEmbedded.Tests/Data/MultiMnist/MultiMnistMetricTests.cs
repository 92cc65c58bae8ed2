using CapsEmbedded.Data.MultiMnist;

namespace CapsEmbedded.Tests.Data.MultiMnist;

public class MultiMnistMetricTests
{
    [Theory]
    [InlineData(3, 7, 2)]  // the two longest are 7 and 3, in either order
    [InlineData(7, 3, 2)]
    [InlineData(3, 1, 1)]  // 3 among them, 1 not
    [InlineData(0, 1, 0)]
    public void Counts_the_labels_among_the_two_longest_capsules(int first, int second, int expected)
    {
        float[] lengths = [0.1f, 0.2f, 0.05f, 0.8f, 0.1f, 0.1f, 0.1f, 0.9f, 0.1f, 0.3f];
        Assert.Equal(expected, MultiMnistMetric.LabelsAmongTwoLongest(lengths, first, second));
    }

    [Fact]
    public void Score_is_the_paper_metric_and_the_at_least_one_share()
    {
        float[] lengths =
        [
            0.9f, 0.8f, 0.1f, // two longest {0, 1}
            0.1f, 0.8f, 0.9f, // {2, 1}
            0.5f, 0.5f, 0.5f, // tie: {0, 1}
            0.1f, 0.2f, 0.3f, // {2, 1}
        ];
        byte[] labels = [1, 0, /* right */ 0, 2, /* one */ 0, 2, /* one */ 0, 1 /* one */];
        MultiMnistScore score = MultiMnistMetric.Score(lengths, 3, labels, 4);
        Assert.Equal(new MultiMnistScore(4, 1, 4), score);
        Assert.Equal(3, score.Wrong);
        Assert.Equal(75.0, score.ErrorPercent);
        Assert.Equal(100.0, score.AtLeastOnePercent);

        Assert.Equal(new MultiMnistScore(1, 1, 1), MultiMnistMetric.Score(lengths, 3, labels, 1));
    }

    [Fact]
    public void Equal_labels_and_short_spans_are_refused()
    {
        Assert.Throws<ArgumentException>(() => MultiMnistMetric.LabelsAmongTwoLongest([0.1f, 0.2f, 0.3f], 2, 2));
        Assert.Throws<ArgumentException>(() => MultiMnistMetric.Score(new float[5], 3, new byte[4], 2));
        Assert.Throws<ArgumentException>(() => MultiMnistMetric.Score(new float[6], 3, new byte[3], 2));
    }
}
