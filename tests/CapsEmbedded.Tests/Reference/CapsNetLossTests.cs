using CapsEmbedded.Reference;

namespace CapsEmbedded.Tests.Reference;

/// <summary>Margin loss (eq. 4) and reconstruction loss (§4.1).</summary>
public class CapsNetLossTests
{
    private static readonly float[] Lengths = { 0.95f, 0.3f, 0.05f };

    [Fact]
    public void MarginLossOfAConfidentCorrectPredictionOnlyCountsTheOtherLongCapsules()
    {
        // Class 0: max(0, 0.9 − 0.95)² = 0; class 1: 0.5 · (0.3 − 0.1)² = 0.02; class 2: below m⁻ → 0.
        Assert.Equal(0.02, CapsNetLoss.Margin(Lengths, 0), 1e-7);
    }

    [Fact]
    public void MarginLossOfAWrongPredictionByHand()
    {
        // Label 1: class 0: 0.5 · (0.95 − 0.1)² = 0.36125; class 1: (0.9 − 0.3)² = 0.36; class 2: 0.
        Assert.Equal(0.72125, CapsNetLoss.Margin(Lengths, 1), 1e-7);
        // Custom constants: m⁺ = 1, m⁻ = 0, λ = 1: (1 − 0.3)² + 0.95² + 0.05².
        Assert.Equal(0.49 + 0.9025 + 0.0025, CapsNetLoss.Margin(Lengths, 1, mPlus: 1, mMinus: 0, lambda: 1), 1e-7);
    }

    [Fact]
    public void MarginLossRejectsALabelOutsideTheClasses()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => CapsNetLoss.Margin(Lengths, 3));
        Assert.Contains("[0, 3)", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => CapsNetLoss.Margin(Lengths, -1));
        Assert.Throws<ArgumentException>(() => CapsNetLoss.Margin(ReadOnlySpan<float>.Empty, 0));
    }

    [Fact]
    public void ReconstructionLossIsScaledSumOfSquaredErrors()
    {
        float[] reconstruction = { 1, 0.5f, 0.25f };
        float[] image = { 0, 0.5f, 0.75f };
        Assert.Equal(0.0005 * 1.25, CapsNetLoss.Reconstruction(reconstruction, image), 1e-12);
        Assert.Equal(1.25, CapsNetLoss.Reconstruction(reconstruction, image, scale: 1), 1e-12);
        Assert.Equal(0.0, CapsNetLoss.Reconstruction(image, image));
    }

    [Fact]
    public void ReconstructionLossRejectsMismatchedLengths()
    {
        var error = Assert.Throws<ArgumentException>(() => CapsNetLoss.Reconstruction(new float[3], new float[4]));
        Assert.Contains("3", error.Message);
        Assert.Contains("4", error.Message);
    }
}
