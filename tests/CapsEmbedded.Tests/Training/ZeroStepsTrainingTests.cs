using System.Runtime.InteropServices;
using CapsEmbedded.Tests.Data;
using CapsEmbedded.Tests.Onnx;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Training;

/// <summary>The trainer's GEMMs step over all-zero k steps of A; training must come out bit for bit the same without it.</summary>
public class ZeroStepsTrainingTests
{
    [Theory]
    [InlineData(false)] // the training start: conv1's patches are sparse, its ReLU output about half zeros
    [InlineData(true)]  // trained weights: conv1's ReLU output mostly zeros, so the primary conv skips too
    public void Paper_network_steps_on_real_digits_give_the_same_bits_with_and_without_skipping(bool trained)
    {
        var arch = CapsNetArchitecture.Paper;
        var initial = trained
            ? CapsNetWeightsFile.Load(OnnxExportTests.FindRepositoryFile("weights", "mnist.safetensors"))
            : TrainingInit.Create(arch, 1);
        const int batch = 6, steps = 2;
        byte[] pixels = DataFixtures.ImagesBytes, labelBytes = DataFixtures.LabelsBytes;
        var images = new float[steps * batch * arch.InputLength];
        for (int i = 0; i < images.Length; i++) images[i] = pixels[16 + i] / 255f;
        var labels = new int[steps * batch];
        for (int i = 0; i < labels.Length; i++) labels[i] = labelBytes[8 + i];

        using var skipping = new CapsNetTrainer<float>(initial, threads: 2, groupSize: 3);
        using var dense = new CapsNetTrainer<float>(initial, threads: 2, groupSize: 3) { SkipZeroSteps = false };
        Assert.True(skipping.SkipZeroSteps);
        for (int s = 0; s < steps; s++)
        {
            var stepImages = images.AsSpan(s * batch * arch.InputLength, batch * arch.InputLength).ToArray();
            var stepLabels = labels.AsSpan(s * batch, batch).ToArray();
            var a = skipping.TrainStep(stepImages, stepLabels, batch, 1e-3);
            var b = dense.TrainStep(stepImages, stepLabels, batch, 1e-3);
            Assert.Equal(BitConverter.DoubleToInt64Bits(b.MarginLoss), BitConverter.DoubleToInt64Bits(a.MarginLoss));
            Assert.Equal(BitConverter.DoubleToInt64Bits(b.ReconstructionLoss), BitConverter.DoubleToInt64Bits(a.ReconstructionLoss));
            Assert.True(MemoryMarshal.AsBytes(dense.Parameters.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(skipping.Parameters.AsSpan())),
                $"parameters differ after step {s + 1}");
        }
        Assert.True(skipping.SkippedZeroSteps > 0, "the skipping trainer stepped over nothing");
        Assert.Equal(0, dense.SkippedZeroSteps);
    }
}
