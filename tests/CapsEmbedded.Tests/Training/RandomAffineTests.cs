using CapsEmbedded.Training;

namespace CapsEmbedded.Tests.Training;

/// <summary><see cref="RandomAffine"/> (<c>--rotate</c>, <c>--scale</c>) against maps worked out by hand.</summary>
public sealed class RandomAffineTests
{
    private static byte[] RandomImage(int size, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var image = new byte[size * size];
        for (int k = 0; k < image.Length; k++) image[k] = (byte)random.NextInt(256);
        return image;
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(2, -1)]
    [InlineData(-2, 2)]
    public void No_rotation_and_scale_one_is_the_shift_bit_for_bit(int dx, int dy)
    {
        var image = RandomImage(28, 1);
        var shifted = new float[784];
        var affine = new float[784];
        RandomShift.Apply(image, 1, 28, dx, dy, shifted);
        RandomAffine.Apply(image, 1, 28, dx, dy, degrees: 0, scale: 1, affine);
        Assert.Equal(shifted, affine);
    }

    [Fact]
    public void Quarter_turn_is_counter_clockwise_about_the_centre()
    {
        const int size = 5; // centre (2, 2)
        var image = RandomImage(size, 2);
        var turned = new float[size * size];
        RandomAffine.Apply(image, 1, size, 0, 0, degrees: 90, scale: 1, turned);
        // Counter-clockwise as displayed (y down): the pixel right of the centre goes above it, i.e.
        // destination (x, y) = source (column 2c − y, row x).
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                Assert.Equal(image[x * size + (4 - y)] / 255f, turned[y * size + x], 5);
    }

    [Fact]
    public void Scaling_is_about_the_centre_with_bilinear_samples_and_zeros_outside()
    {
        const int size = 5;
        var image = RandomImage(size, 3);
        var grown = new float[size * size];
        RandomAffine.Apply(image, 1, size, 0, 0, degrees: 0, scale: 2, grown);
        float Source(int x, int y) => image[y * size + x] / 255f;
        Assert.Equal(Source(2, 2), grown[2 * size + 2], 6);               // the centre stays
        Assert.Equal(Source(3, 2), grown[2 * size + 4], 6);               // 2 px right ← 1 px right
        Assert.Equal((Source(2, 2) + Source(3, 2)) / 2, grown[2 * size + 3], 5); // halfway: the mean of the two
        Assert.Equal((Source(1, 1) + Source(2, 1) + Source(1, 2) + Source(2, 2)) / 4, grown[1 * size + 1], 5);

        var shrunk = new float[size * size];
        RandomAffine.Apply(image, 1, size, 0, 0, degrees: 0, scale: 0.5, shrunk);
        Assert.Equal(Source(4, 2), shrunk[2 * size + 3], 6);   // 1 px right ← 2 px right
        Assert.Equal(Source(0, 0), shrunk[1 * size + 1], 6);
        Assert.Equal(0f, shrunk[0]);                            // ← (−2, −2): outside, zero
    }

    [Fact]
    public void Rotated_and_scaled_images_stay_in_range_and_keep_most_of_a_centred_digit()
    {
        var image = new byte[28 * 28];
        for (int y = 8; y < 20; y++) for (int x = 10; x < 18; x++) image[y * 28 + x] = 255;
        var random = new DeterministicRandom(4);
        var output = new float[784];
        for (int trial = 0; trial < 50; trial++)
        {
            double degrees = 15 * (2 * random.NextDouble() - 1), scale = 1 + 0.15 * (2 * random.NextDouble() - 1);
            RandomAffine.Apply(image, 1, 28, random.NextInt(5) - 2, random.NextInt(5) - 2, degrees, scale, output);
            Assert.All(output, v => Assert.InRange(v, 0f, 1f));
            // The ink's total follows the area: it scales with scale² (bilinear sampling keeps it within a few %).
            double ink = output.Sum(), expected = 96 * scale * scale;
            Assert.InRange(ink, 0.9 * expected, 1.1 * expected);
        }
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        var image = new byte[16];
        var output = new float[16];
        Assert.Throws<ArgumentOutOfRangeException>(() => RandomAffine.Apply(image, 1, 4, 0, 0, 0, 0, output));
        Assert.Throws<ArgumentOutOfRangeException>(() => RandomAffine.Apply(image, 1, 4, 0, 0, double.NaN, 1, output));
        Assert.Throws<ArgumentException>(() => RandomAffine.Apply(image, 1, 5, 0, 0, 0, 1, output));
    }

    [Fact]
    public void Options_refuse_out_of_range_rotation_and_scale_naming_the_flag()
    {
        var ok = new TrainingOptions { MaxRotationDegrees = 12, MaxScale = 0.1 };
        Assert.Null(ok.Validate());
        Assert.True(ok.Affine);
        Assert.False(new TrainingOptions().Affine);
        Assert.Equal("--rotate must be in 0..45 degrees, got 50", new TrainingOptions { MaxRotationDegrees = 50 }.Validate());
        Assert.Equal("--rotate must be in 0..45 degrees, got -1", new TrainingOptions { MaxRotationDegrees = -1 }.Validate());
        Assert.Equal("--scale must be in 0..0.5 (a fraction of the size), got 0.6", new TrainingOptions { MaxScale = 0.6 }.Validate());
        Assert.StartsWith("--scale", new TrainingOptions { MaxScale = double.NaN }.Validate());
    }
}
