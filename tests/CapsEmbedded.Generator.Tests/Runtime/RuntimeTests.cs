using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Generator.Tests.Runtime;

/// <summary>The generated-model support in src/CapsEmbedded/Runtime, tested on its own.</summary>
public class RuntimeTests
{
    [Fact]
    public unsafe void AlignedBuffer_is_64_byte_aligned_zeroed_and_refuses_use_after_dispose()
    {
        var buffer = new AlignedBuffer(1001);
        fixed (float* p = buffer.Span) Assert.Equal(0, (long)p % 64);
        Assert.All(buffer.Span.ToArray(), v => Assert.Equal(0f, v));
        buffer.Dispose();
        buffer.Dispose();
        Assert.True(buffer.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => buffer.Span.Length);
    }

    [Fact]
    public void Packed_layout_regions_are_aligned_and_disjoint()
    {
        var layout = new PackedCapsNetLayout(CapsNetArchitecture.Paper);
        var regions = new[]
        {
            layout.Conv1Weight, layout.Conv1Bias, layout.PrimaryWeight, layout.PrimaryBias, layout.DigitWeight,
            layout.Fc1Weight, layout.Fc1Bias, layout.Fc2Weight, layout.Fc2Bias, layout.Fc3Weight, layout.Fc3Bias,
        };
        for (int k = 0; k < regions.Length; k++)
        {
            Assert.Equal(0, regions[k].Offset % 16);
            if (k > 0) Assert.True(regions[k].Offset >= regions[k - 1].Offset + regions[k - 1].Length);
        }
        Assert.True(layout.TotalLength >= regions[^1].Offset + regions[^1].Length);
        Assert.True(layout.PrimaryWeight.Length >= 256 * 256 * 81);
    }

    [Fact]
    public void Architecture_mismatch_names_each_differing_size()
    {
        var e = Assert.Throws<WeightFormatException>(() => PackedCapsNetWeights.ThrowIfArchitectureDiffers(
            CapsNetArchitecture.Tiny with { Classes = 5, RoutingIterations = 2 }, CapsNetArchitecture.Tiny, "w.safetensors"));
        Assert.Contains("w.safetensors", e.Message);
        Assert.Contains("classes is 5, the model's is 3", e.Message);
        Assert.Contains("routing_iterations is 2, the model's is 3", e.Message);
        PackedCapsNetWeights.ThrowIfArchitectureDiffers(CapsNetArchitecture.Tiny, CapsNetArchitecture.Tiny with { }, "same");
    }

    [Fact]
    public void Packing_from_a_blob_rejects_offsets_outside_the_data_area()
    {
        var offsets = new long[CapsNetArchitecture.Tiny.Tensors.Count];
        offsets[^1] = 1_000_000;
        var e = Assert.Throws<WeightFormatException>(() =>
            PackedCapsNetWeights.Pack(CapsNetArchitecture.Tiny, new byte[16_000], offsets, "blob"));
        Assert.Equal(CapsNetArchitecture.Fc3Bias, e.TensorName);
    }

    private static int Echo(PackedCapsNetWeights weights, ReadOnlySpan<float> image, Span<float> lengths, Span<float> scratch, SimdTier tier,
        Int8Tier int8Tier)
    {
        if (image[0] < 0) throw new InvalidDataException($"negative pixel in item {image[1]}");
        scratch[0] = image[0];
        lengths[0] = scratch[0] * 2;
        return (int)image[1];
    }

    [Fact]
    public void BatchContext_runs_every_item_once_and_rethrows_an_item_failure()
    {
        using var weights = PackedCapsNetWeights.Pack(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 3));
        using var context = new BatchContext(scratchLength: 4, workerCount: 3);
        Assert.Equal(3, context.WorkerCount);
        int count = 101;
        var inputs = new float[count * 2];
        for (int i = 0; i < count; i++) (inputs[2 * i], inputs[2 * i + 1]) = (i, i);
        var outputs = new float[count];
        var classes = new int[count];
        context.Run(Echo, weights, SimdTier.Scalar, default, inputs, 2, outputs, 1, classes);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(i, classes[i]);
            Assert.Equal(2f * i, outputs[i]);
        }
        inputs[2 * 50] = -1;
        var e = Assert.Throws<InvalidDataException>(() => context.Run(Echo, weights, SimdTier.Scalar, default, inputs, 2, outputs, 1, classes));
        Assert.Contains("item 50", e.Message);
        inputs[2 * 50] = 50;
        context.Run(Echo, weights, SimdTier.Scalar, default, inputs, 2, outputs, 1, classes);
        Assert.Equal(50, classes[50]);
    }
}
