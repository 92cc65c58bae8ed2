using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;

namespace CapsEmbedded.Tests.Data.MultiMnist;

public class MultiMnistPairsTests
{
    private static LabeledImages Fixture() => new(DataFixtures.Count, DataFixtures.Side, DataFixtures.Side,
        DataFixtures.ImagesBytes.AsSpan(16).ToArray(), DataFixtures.LabelsBytes.AsSpan(8).ToArray());

    [Theory]
    [InlineData(0, 0)]
    [InlineData(4, -4)]
    [InlineData(-4, 3)]
    public void Place_puts_the_digit_at_pad_plus_shift_and_zeros_elsewhere(int dx, int dy)
    {
        byte[] digit = new byte[28 * 28];
        for (int k = 0; k < digit.Length; k++) digit[k] = (byte)(1 + k % 250);
        byte[] canvas = Enumerable.Repeat((byte)77, MultiMnistPairs.CanvasLength).ToArray();

        MultiMnistPairs.Place(digit, dx, dy, canvas);

        for (int y = 0; y < 36; y++)
            for (int x = 0; x < 36; x++)
            {
                int sy = y - 4 - dy, sx = x - 4 - dx;
                byte expected = sy is >= 0 and < 28 && sx is >= 0 and < 28 ? digit[sy * 28 + sx] : (byte)0;
                Assert.Equal(expected, canvas[y * 36 + x]);
            }
    }

    [Fact]
    public void Place_refuses_a_shift_beyond_the_padding()
    {
        byte[] canvas = new byte[MultiMnistPairs.CanvasLength];
        Assert.Throws<ArgumentOutOfRangeException>(() => MultiMnistPairs.Place(new byte[784], 5, 0, canvas));
        Assert.Throws<ArgumentOutOfRangeException>(() => MultiMnistPairs.Place(new byte[784], 0, -5, canvas));
    }

    [Fact]
    public void Merge_adds_and_saturates_at_255()
    {
        byte[] merged = new byte[4];
        MultiMnistPairs.Merge(new byte[] { 0, 100, 200, 255 }, new byte[] { 0, 100, 100, 255 }, merged);
        Assert.Equal(new byte[] { 0, 200, 255, 255 }, merged);
    }

    [Fact]
    public void Draw_pairs_different_classes_with_every_shift_in_range_and_is_fixed_by_the_seed()
    {
        var digits = Fixture();
        var shifts = new HashSet<int>();
        var first = new DeterministicRandom(5);
        var again = new DeterministicRandom(5);
        for (int i = 0; i < digits.Count; i++)
        {
            var pair = MultiMnistPairs.Draw(digits.Labels, i, first);
            Assert.Equal(pair, MultiMnistPairs.Draw(digits.Labels, i, again));
            Assert.Equal(i, pair.First);
            Assert.NotEqual(digits.Labels[pair.First], digits.Labels[pair.Second]);
            foreach (int s in new[] { pair.FirstDx, pair.FirstDy, pair.SecondDx, pair.SecondDy })
            {
                Assert.InRange(s, -4, 4);
                shifts.Add(s);
            }
        }
        Assert.Equal(9, shifts.Count);
    }

    [Fact]
    public void Draw_refuses_digits_of_one_class_instead_of_looping()
    {
        var error = Assert.Throws<ArgumentException>(() => MultiMnistPairs.Draw(new byte[] { 3, 3, 3 }, 0, new DeterministicRandom(1)));
        Assert.Contains("two classes", error.Message);
    }

    [Fact]
    public void Compose_overlays_the_two_shifted_digits()
    {
        var digits = Fixture();
        var pair = new MultiMnistPair(0, 1, 2, -3, -4, 1);
        byte[] a = new byte[MultiMnistPairs.CanvasLength], b = new byte[a.Length], merged = new byte[a.Length];

        MultiMnistPairs.Compose(digits, pair, a, b, merged);

        byte[] expectedA = new byte[a.Length], expectedB = new byte[a.Length];
        MultiMnistPairs.Place(digits.GetImage(0), 2, -3, expectedA);
        MultiMnistPairs.Place(digits.GetImage(1), -4, 1, expectedB);
        Assert.Equal(expectedA, a);
        Assert.Equal(expectedB, b);
        for (int k = 0; k < merged.Length; k++) Assert.Equal(Math.Min(a[k] + b[k], 255), merged[k]);
        Assert.Contains(merged, v => v == 255); // two strokes overlap somewhere and saturate
    }
}
