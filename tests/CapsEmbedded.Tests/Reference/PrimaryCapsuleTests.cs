using CapsEmbedded.Reference;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Reference;

/// <summary>Primary capsules: channel k is type k / dims, dimension k % dims; capsule i = type·grid² + y·grid + x.</summary>
public class PrimaryCapsuleTests
{
    [Fact]
    public void RegroupPutsEveryConvOutputAtItsCapsuleAndDimension()
    {
        const int types = 2, dims = 3, grid = 2, cells = grid * grid;
        for (int k = 0; k < types * dims; k++)
        for (int y = 0; y < grid; y++)
        for (int x = 0; x < grid; x++)
        {
            var conv = new float[types * dims * cells];
            conv[(k * grid + y) * grid + x] = 1;
            var capsules = new float[conv.Length];
            ReferenceModel.RegroupPrimaryCapsules<float>(conv, types, dims, grid, capsules);
            int capsule = (k / dims) * cells + y * grid + x;
            int expectedIndex = capsule * dims + k % dims;
            Assert.Equal(1, capsules.Count(v => v != 0));
            Assert.Equal(1f, capsules[expectedIndex]);
        }
    }

    [Fact]
    public void ABiasOnOneChannelLightsThatDimensionOfEveryCapsuleOfItsType()
    {
        var arch = CapsNetArchitecture.Tiny; // 2 types × 4D on a 3×3 grid = 18 capsules
        var weights = new CapsNetWeights(arch);
        const int channel = 5; // type 1, dimension 1
        weights.PrimaryBias[channel] = 3;
        var conv1 = new double[arch.Conv1Channels * arch.Conv1OutSize * arch.Conv1OutSize];
        var capsules = new double[arch.PrimaryCapsules * arch.PrimaryDims];
        ReferenceModel.PrimaryCapsules<double>(conv1, weights, capsules);

        int cells = arch.PrimaryGridSize * arch.PrimaryGridSize;
        for (int i = 0; i < arch.PrimaryCapsules; i++)
        for (int d = 0; d < arch.PrimaryDims; d++)
        {
            // squash((0, 3, 0, 0)) = 9/10 · (0, 1, 0, 0).
            double expected = i / cells == 1 && d == 1 ? 0.9 : 0;
            Assert.Equal(expected, capsules[i * arch.PrimaryDims + d], 1e-15);
        }

        // The forward pass reports the same squashed primary capsules.
        var output = ReferenceModel.Forward(weights, new float[arch.InputLength]);
        Assert.Equal(capsules, output.PrimaryCapsules.Select(x => (double)x), new ToleranceComparer(1e-7));
    }
}
