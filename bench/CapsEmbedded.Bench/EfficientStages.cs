using System.Diagnostics;
using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;
using M = CapsEmbedded.Models.MnistEfficientCapsNet;

namespace CapsEmbedded.Bench;

/// <summary>
/// `efficient-stages [ROUNDS]`: MnistEfficientCapsNet's forward pass cut into its stages, each the same kernel calls the
/// generated Forward makes (on the same packed weights and scratch layout), timed with a Stopwatch per stage over the
/// fixture's 200 digits at batch 1 on one thread, best tier. Rounds alternate with the whole generated Predict, so the
/// sum of the stages can be checked against it. Prints per stage the median ms per image, its share and its multiply-adds,
/// and the share of zeros in each stem output (what PackedGemm's zero-column skip can drop in the next layer).
/// </summary>
public static class EfficientStages
{
    private const int Stages = 10;

    private static readonly string[] s_names =
    [
        "stem.0 5x5 1→32 (im2col + GEMM)", "stem.1 3x3 32→64 (Winograd F(2x2,3x3))", "stem.2 3x3 64→64 (Winograd)", "stem.3 3x3/2 64→128",
        "primary depthwise 9x9", "squash", "self-attention routing", "lengths + argmax", "generated Predict (whole)", "(stem.3 as dense im2col + GEMM)",
    ];

    public static void Run(TextWriter output, int rounds)
    {
        var file = EfficientCapsNetWeightsFile.Load(Peers.PeerBenchmark.FindRepositoryFile("weights", "mnist-efficient.safetensors"));
        using var packed = PackedEfficientCapsNetWeights.Pack(file);
        var a = file.Architecture;
        var tier = SimdTiers.Best;
        var digits = Peers.PeerBenchmark.Digits(200);
        var scratch = new float[M.ScratchLength];
        var patches = new float[M.Stem3Pixels * M.Stem3PatchLength];
        var stem3 = new float[M.Stem3Pixels * M.Stem3Channels];
        var winograd = new float[WinogradConvolution.TransformedLength(M.Stem1Channels, M.Stem2OutputSize, M.Stem2OutputSize)
            + WinogradConvolution.ProductsLength(M.Stem1Channels, M.Stem1OutputSize, M.Stem1OutputSize)];
        var lengths = new float[M.Classes];
        using var workspace = new M.Workspace();
        var weights = M.Weights.Embedded;
        var samples = new List<double>[Stages];
        for (int s = 0; s < Stages; s++) samples[s] = new List<double>();
        var zeros = new double[a.Stem.Count];
        long[] macs =
        [
            M.Stem0Pixels * (long)M.Stem0PatchLength * M.Stem0Channels, M.Stem1Pixels * (long)M.Stem1PatchLength * M.Stem1Channels,
            M.Stem2Pixels * (long)M.Stem2PatchLength * M.Stem2Channels, M.Stem3Pixels * (long)M.Stem3PatchLength * M.Stem3Channels,
            M.PrimaryPositions * (long)M.PrimaryKernel * M.PrimaryKernel * M.PrimaryChannels, 0,
            (long)M.Classes * M.PrimaryCapsules * M.PrimaryDims * M.ClassDims + 2L * M.Classes * M.PrimaryCapsules * M.ClassDims, 0, 0,
            M.Stem3Pixels * (long)M.Stem3PatchLength * M.Stem3Channels,
        ];
        var stamps = new long[Stages + 1];
        for (int round = -1; round < rounds; round++)
        {
            for (int d = 0; d < 200; d++)
            {
                var image = digits.AsSpan(d * M.InputLength, M.InputLength);
                Forward(packed, scratch, image, lengths, tier, stamps, winograd);
                long t0 = Stopwatch.GetTimestamp();
                M.Predict(weights, workspace, image, lengths);
                long t1 = Stopwatch.GetTimestamp();
                Im2Col.RunChannelsLast<float>(scratch.AsSpan(M.ScratchStem2Offset, M.Stem2Pixels * M.Stem2Channels), M.Stem2Channels, M.Stem2OutputSize,
                    M.Stem2OutputSize, M.Stem3Kernel, M.Stem3Stride, patches);
                PackedGemm.Multiply(patches, M.Stem3Pixels, M.Stem3PatchLength, packed.StemWeight(3), M.Stem3Channels, packed.StemBias(3),
                    Activation.Relu, stem3, tier);
                long t2 = Stopwatch.GetTimestamp();
                if (round < 0) continue;
                for (int s = 0; s < Stages - 2; s++) samples[s].Add(Stopwatch.GetElapsedTime(stamps[s], stamps[s + 1]).TotalMilliseconds);
                samples[Stages - 2].Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
                samples[Stages - 1].Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
                if (round == 0)
                {
                    int[] offsets = [M.ScratchStem0Offset, M.ScratchStem1Offset, M.ScratchStem2Offset, M.ScratchStem3Offset];
                    int[] lengthsOf = [M.Stem0Pixels * M.Stem0Channels, M.Stem1Pixels * M.Stem1Channels, M.Stem2Pixels * M.Stem2Channels, M.Stem3Pixels * M.Stem3Channels];
                    for (int k = 0; k < zeros.Length; k++)
                    {
                        int count = 0;
                        foreach (float v in scratch.AsSpan(offsets[k], lengthsOf[k])) count += v == 0f ? 1 : 0;
                        zeros[k] += count / (double)lengthsOf[k] / 200;
                    }
                }
            }
        }

        double total = 0;
        var medians = new double[Stages];
        for (int s = 0; s < Stages; s++)
        {
            samples[s].Sort();
            medians[s] = samples[s][samples[s].Count / 2];
            if (s < Stages - 2) total += medians[s];
        }

        output.WriteLine(FormattableString.Invariant($"MnistEfficientCapsNet by stage, batch 1, one thread, {tier}, {rounds} rounds x 200 digits; median ms per image"));
        output.WriteLine("| stage | median ms | share | multiply-adds | GMAC/s |");
        output.WriteLine("|---|---:|---:|---:|---:|");
        for (int s = 0; s < Stages; s++)
        {
            string share = s < Stages - 2 ? FormattableString.Invariant($"{100 * medians[s] / total:F1}%") : "";
            string rate = macs[s] > 0 ? FormattableString.Invariant($"{macs[s] / medians[s] / 1e6:F1}") : "";
            output.WriteLine(FormattableString.Invariant($"| {s_names[s]} | {medians[s]:F4} | {share} | {macs[s]:N0} | {rate} |"));
        }

        output.WriteLine(FormattableString.Invariant($"| sum of the stages | {total:F4} | | | |"));

        // One image split over 2 workers against the one-thread Predict, alternating call by call.
        using var context = M.CreateBatchContext(2);
        var one = new List<double>();
        var split = new List<double>();
        for (int k = 0; k < 200 * rounds; k++)
        {
            var image = digits.AsSpan(k % 200 * M.InputLength, M.InputLength);
            long t0 = Stopwatch.GetTimestamp();
            M.Predict(weights, workspace, image, lengths);
            long t1 = Stopwatch.GetTimestamp();
            M.Predict(weights, context, image, lengths, default, default, tier);
            long t2 = Stopwatch.GetTimestamp();
            one.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
            split.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
        }

        one.Sort();
        split.Sort();
        output.WriteLine(FormattableString.Invariant(
            $"one thread: p50 {one[one.Count / 2]:F4} ms, min {one[0]:F4}; split over 2 workers: p50 {split[split.Count / 2]:F4} ms, min {split[0]:F4}"));
        for (int k = 0; k < zeros.Length; k++) output.WriteLine(FormattableString.Invariant($"stem.{k} output: {100 * zeros[k]:F1}% zeros"));
    }

    /// <summary>The generated Forward's calls (lengths only), a timestamp before each stage.</summary>
    private static void Forward(PackedEfficientCapsNetWeights w, Span<float> scratch, ReadOnlySpan<float> image, Span<float> lengths,
        SimdTier tier, long[] stamps, Span<float> winograd)
    {
        stamps[0] = Stopwatch.GetTimestamp();
        Im2Col.Run(image, M.InputChannels, M.InputSize, M.InputSize, M.Stem0Kernel, M.Stem0Stride, scratch.Slice(M.ScratchPatchesOffset, M.Stem0Pixels * M.Stem0PatchLength));
        PackedGemm.Multiply(scratch.Slice(M.ScratchPatchesOffset, M.Stem0Pixels * M.Stem0PatchLength), M.Stem0Pixels, M.Stem0PatchLength,
            w.StemWeight(0), M.Stem0Channels, w.StemBias(0), Activation.Relu, scratch.Slice(M.ScratchStem0Offset, M.Stem0Pixels * M.Stem0Channels), tier);
        stamps[1] = Stopwatch.GetTimestamp();
        WinogradConvolution.Run(scratch.Slice(M.ScratchStem0Offset, M.Stem0Pixels * M.Stem0Channels), M.Stem0Channels, M.Stem0OutputSize,
            M.Stem0OutputSize, w.StemWeight(1), M.Stem1Channels, w.StemBias(1), Activation.Relu,
            scratch.Slice(M.ScratchStem1Offset, M.Stem1Pixels * M.Stem1Channels), winograd, tier);
        stamps[2] = Stopwatch.GetTimestamp();
        WinogradConvolution.Run(scratch.Slice(M.ScratchStem1Offset, M.Stem1Pixels * M.Stem1Channels), M.Stem1Channels, M.Stem1OutputSize,
            M.Stem1OutputSize, w.StemWeight(2), M.Stem2Channels, w.StemBias(2), Activation.Relu,
            scratch.Slice(M.ScratchStem2Offset, M.Stem2Pixels * M.Stem2Channels), winograd, tier);
        stamps[3] = Stopwatch.GetTimestamp();
        PackedGemm.ConvolveChannelsLast(scratch.Slice(M.ScratchStem2Offset, M.Stem2Pixels * M.Stem2Channels), M.Stem2Channels, M.Stem2OutputSize,
            M.Stem2OutputSize, M.Stem3Kernel, M.Stem3Stride, w.StemWeight(3), M.Stem3Channels, w.StemBias(3), Activation.Relu,
            scratch.Slice(M.ScratchStem3Offset, M.Stem3Pixels * M.Stem3Channels), tier);
        stamps[4] = Stopwatch.GetTimestamp();
        DepthwiseConvolution.Run(scratch.Slice(M.ScratchStem3Offset, M.Stem3Pixels * M.Stem3Channels), M.PrimaryChannels, M.Stem3OutputSize,
            M.PrimaryKernel, w.PrimaryWeight, w.PrimaryBias, scratch.Slice(M.ScratchPrimaryOffset, M.PrimaryPositions * M.PrimaryChannels), tier);
        stamps[5] = Stopwatch.GetTimestamp();
        EfficientSquash.Run(scratch.Slice(M.ScratchPrimaryCapsOffset, M.PrimaryCapsules * M.PrimaryDims), M.PrimaryCapsules, M.PrimaryDims, tier);
        stamps[6] = Stopwatch.GetTimestamp();
        SelfAttentionRouting.Run(scratch.Slice(M.ScratchPrimaryCapsOffset, M.PrimaryCapsules * M.PrimaryDims), w.DigitWeight, w.DigitBias,
            M.PrimaryCapsules, M.PrimaryDims, M.Classes, M.ClassDims, scratch.Slice(M.ScratchRoutingOffset, M.RoutingScratchLength),
            scratch.Slice(M.ScratchDigitCapsOffset, M.DecoderInput), tier);
        stamps[7] = Stopwatch.GetTimestamp();
        CapsuleLengths.Run(scratch.Slice(M.ScratchDigitCapsOffset, M.DecoderInput), M.Classes, M.ClassDims, lengths, tier);
        _ = TopK.ArgMax<float>(lengths.Slice(0, M.Classes));
        stamps[8] = Stopwatch.GetTimestamp();
    }
}
