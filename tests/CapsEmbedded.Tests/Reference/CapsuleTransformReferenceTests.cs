using CapsEmbedded.Reference;

namespace CapsEmbedded.Tests.Reference;

/// <summary>Prediction vectors (eq. 2): û_{j|i} = W_ij u_i with W_ij = digit_caps.weight[i, j] ([classDims][primaryDims]).</summary>
public class CapsuleTransformReferenceTests
{
    [Fact]
    public void HandSetMatricesGiveHandComputedPredictions()
    {
        // Two primary capsules (3-D), two classes (2-D). Weight layout [i][j][d][p].
        float[] weight =
        {
            1, 0, 0, /**/ 0, 1, 0,   // W_00: picks (u_0, u_1)
            1, 1, 1, /**/ 0, 0, 2,   // W_01: (u_0 + u_1 + u_2, 2 u_2)
            0, 0, 5, /**/ 0, 0, -1,  // W_10: (5 u_2, −u_2)
            0, 0, 0, /**/ 0, 0, 0,   // W_11: zero
        };
        float[] primary = { 1, 2, 3, /**/ 0, 0, 1 };
        var uHat = new float[2 * 2 * 2];
        ReferenceModel.CapsuleTransform<float>(primary, weight, 2, 2, 2, 3, uHat);
        Assert.Equal(new float[] { 1, 2, 6, 6, 5, -1, 0, 0 }, uHat);

        var precise = new double[8];
        ReferenceModel.CapsuleTransform<double>(primary.Select(x => (double)x).ToArray(), weight, 2, 2, 2, 3, precise);
        Assert.Equal(new double[] { 1, 2, 6, 6, 5, -1, 0, 0 }, precise);
    }

    [Fact]
    public void RejectsAWeightOfTheWrongSize()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            ReferenceModel.CapsuleTransform<float>(new float[6], new float[23], 2, 2, 2, 3, new float[8]));
        Assert.Contains("digit weight", error.Message);
        Assert.Contains("24", error.Message);
    }
}
