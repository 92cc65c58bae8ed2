using CapsEmbedded.Reference;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Training;

public class CanvasTransferTests
{
    // Tiny: 10×10 → conv1 8×8 → primary grid 3×3. On 14×14 (pad 2): conv1 12×12, grid 5×5, grid offset 2 / (1·2) = 1.
    private static readonly CapsNetArchitecture Small = CapsNetArchitecture.Tiny;
    private static readonly CapsNetArchitecture Large = CapsNetArchitecture.Tiny with { InputSize = 14 };

    [Fact]
    public void A_centred_image_gives_the_source_networks_capsules_and_lengths_exactly()
    {
        var source = CapsNetWeights.CreateRandom(Small, 11);
        var moved = CanvasTransfer.ToCanvas(source, Large, "test");
        var random = new DeterministicRandom(3);
        float[] small = new float[Small.InputLength], large = new float[Large.InputLength];
        for (int k = 0; k < small.Length; k++) small[k] = (float)random.NextDouble();
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 10; x++) large[(y + 2) * 14 + x + 2] = small[y * 10 + x];

        var expected = ReferenceModel.Trace<float>(source, small);
        var actual = ReferenceModel.Trace<float>(moved, large);

        int dims = Small.PrimaryDims, perPrediction = Small.Classes * Small.ClassDims;
        for (int type = 0; type < Small.PrimaryTypes; type++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++)
                {
                    int from = type * 9 + y * 3 + x, to = type * 25 + (y + 1) * 5 + x + 1;
                    Assert.Equal(expected.PrimaryCapsules.AsSpan(from * dims, dims).ToArray(), actual.PrimaryCapsules.AsSpan(to * dims, dims).ToArray());
                    Assert.Equal(expected.UHat.AsSpan(from * perPrediction, perPrediction).ToArray(),
                        actual.UHat.AsSpan(to * perPrediction, perPrediction).ToArray());
                }
        // The border ring predicts 0, so routing sums the same terms: the digit capsules are the same bits.
        Assert.Equal(expected.Capsules, actual.Capsules);
        Assert.Equal(expected.Lengths, actual.Lengths);
    }

    [Fact]
    public void The_border_ring_has_zero_W_and_border_pixels_copy_the_nearest_source_pixel_and_the_convolutions_are_copied()
    {
        var source = CapsNetWeights.CreateRandom(Small, 12);
        var moved = CanvasTransfer.ToCanvas(source, Large, "test");
        int perCapsule = Small.Classes * Small.ClassDims * Small.PrimaryDims;
        // Target capsule (type 1, y 3, x 1) ← source (type 1, 2, 0); (type 1, 0, 4) is on the new ring: zeros.
        Assert.Equal(source.DigitWeight.AsSpan((9 + 2 * 3 + 0) * perCapsule, perCapsule).ToArray(),
            moved.DigitWeight.AsSpan((25 + 3 * 5 + 1) * perCapsule, perCapsule).ToArray());
        Assert.All(moved.DigitWeight.AsSpan((25 + 0 * 5 + 4) * perCapsule, perCapsule).ToArray(), w => Assert.Equal(0f, w));
        int hidden = Small.DecoderHidden2;
        // Canvas pixel (13, 0) ← source pixel (clamp(11) = 9, clamp(−2) = 0); canvas (5, 6) ← (3, 4).
        Assert.Equal(source.Fc3Weight.AsSpan((9 * 10 + 0) * hidden, hidden).ToArray(), moved.Fc3Weight.AsSpan((13 * 14 + 0) * hidden, hidden).ToArray());
        Assert.Equal(source.Fc3Bias[3 * 10 + 4], moved.Fc3Bias[5 * 14 + 6]);
        Assert.Equal(source.Conv1Weight, moved.Conv1Weight);
        Assert.Equal(source.PrimaryWeight, moved.PrimaryWeight);
        Assert.Equal(source.Fc2Weight, moved.Fc2Weight);
        Assert.Equal(Large, moved.Architecture);
        Assert.StartsWith("canvas transfer from test (10x10 -> 14x14)", moved.Metadata["capsnet.init"]);
    }

    [Fact]
    public void Architectures_that_differ_in_more_than_the_input_or_grow_by_a_misaligned_pad_are_refused()
    {
        Assert.Null(CanvasTransfer.Problem(CapsNetArchitecture.Paper, CapsNetArchitecture.MultiMnist));
        Assert.Contains("only the input size", CanvasTransfer.Problem(Small, Large with { Classes = 4 }));
        Assert.Contains("positive multiple", CanvasTransfer.Problem(Small, Small with { InputSize = 12 }));
        Assert.Contains("positive multiple", CanvasTransfer.Problem(Large, Small));
        var source = CapsNetWeights.CreateRandom(Small, 1);
        Assert.Throws<ArgumentException>(() => CanvasTransfer.ToCanvas(source, Small with { InputSize = 12 }, "test"));
    }
}
