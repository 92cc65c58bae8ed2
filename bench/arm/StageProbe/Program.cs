// bench/arm's probe (bench/arm/README.md). Two measurements the cycle estimate needs from real MNIST test digits:
//   stage-probe zeros DATA_ROOT IMAGES   the k steps PackedGemm's micro-kernels take per image once zero columns are
//                                        skipped, for 2-row (NEON) and 6-row (AVX2) register tiles (JSON)
//   stage-probe times DATA_ROOT IMAGES ROUNDS   the NativeAOT float32 model's stage times on this machine (JSON)
//   stage-probe run DATA_ROOT IMAGES      one Predict per image and nothing else (what estimate.sh traces under qemu)
using System.Diagnostics;
using System.Globalization;
using CapsEmbedded.Data;
using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using CapsEmbedded.Reference;
using CapsEmbedded.Weights;

if (args.Length < 3 || (args[0] != "zeros" && args[0] != "times" && args[0] != "run"))
{
    Console.Error.WriteLine("usage: stage-probe zeros DATA_ROOT IMAGES WEIGHTS | times DATA_ROOT IMAGES ROUNDS | run DATA_ROOT IMAGES");
    return 2;
}

var test = DatasetStore.Load("mnist", DatasetSplit.Test, args[1]);
int imageCount = Math.Min(int.Parse(args[2], CultureInfo.InvariantCulture), test.Count);
var images = new float[imageCount][];
for (int i = 0; i < imageCount; i++)
{
    images[i] = new float[test.ImageLength];
    test.CopyImage(i, images[i]);
}

if (args[0] == "run")
{
    var lengths = new float[10];
    using var workspace = new MnistCapsNet.Workspace();
    foreach (float[] image in images) MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, workspace, image, lengths, default, default, SimdTiers.Best);
    return 0;
}

Console.WriteLine(args[0] == "zeros"
    ? ZeroSteps.Json(CapsNetWeightsFile.Load(args[3]), images)
    : StageTimes.Json(images, int.Parse(args[3], CultureInfo.InvariantCulture)));
return 0;

/// <summary>
/// The micro-kernel k steps of the two convolutions as PackedGemm.Drive takes them: per row tile of R rows and k block,
/// the columns where some row of A is not zero, listed when fewer than 7/8 of the block's columns, else the whole block
/// (PackedGemm.ZeroColumns.cs); rows past the last whole tile run the dense 1×16 row kernel. Per output panel.
/// </summary>
internal static class ZeroSteps
{
    private const int KBlock = PackedGemm.KBlock;

    public static string Json(CapsNetWeights weights, float[][] images)
    {
        var a = weights.Architecture;
        int side = a.InputSize, k1 = a.Conv1Kernel, out1 = a.Conv1OutSize, channels = a.Conv1Channels;
        int grid = a.PrimaryGridSize, k2 = a.PrimaryKernel, stride2 = a.PrimaryStride;
        var conv1 = new float[channels * out1 * out1];
        var parts = new List<string>();
        foreach (int rows in new[] { 2, 6 })
        {
            var c1 = new Tally();
            var c2 = new Tally();
            foreach (float[] image in images)
            {
                // conv1's A: im2col rows of the image, p = y·out1 + x, columns ky·k1 + kx (one channel).
                c1.Add(out1 * out1, k1 * k1, rows, (p, kk) => image[(p / out1 + kk / k1) * side + p % out1 + kk % k1] != 0f);
                ReferenceModel.Conv2d<float>(image, a.InputChannels, side, side, weights["conv1.weight"], weights["conv1.bias"],
                    channels, k1, a.Conv1Stride, conv1);
                ReferenceModel.Relu<float>(conv1);
                // The primary conv's A, channels last: p = y·grid + x, column (ky·k2 + kx)·channels + c.
                c2.Add(grid * grid, k2 * k2 * channels, rows, (p, kk) =>
                {
                    int c = kk % channels, ky = kk / channels / k2, kx = kk / channels % k2;
                    return conv1[(c * out1 + p / grid * stride2 + ky) * out1 + p % grid * stride2 + kx] != 0f;
                });
            }

            parts.Add(Invariant($"\"rows{rows}\": {{\"conv1\": {c1.Json(images.Length)}, \"primary\": {c2.Json(images.Length)}}}"));
        }

        return Invariant($"{{\"images\": {images.Length}, {string.Join(", ", parts)}}}");
    }

    private sealed class Tally
    {
        private long _listedSteps, _denseSteps, _rowSteps, _tileBlocks, _listedBlocks, _nonZero, _columns;

        /// <summary>One image's GEMM A[m × k] (<paramref name="isNonZero"/>(row, column)) with tiles of <paramref name="rows"/>.</summary>
        public void Add(int m, int k, int rows, Func<int, int, bool> isNonZero)
        {
            int tiled = m / rows * rows;
            for (int k0 = 0; k0 < k; k0 += KBlock)
            {
                int kc = Math.Min(KBlock, k - k0);
                for (int i0 = 0; i0 < tiled; i0 += rows)
                {
                    int count = 0;
                    for (int kk = k0; kk < k0 + kc; kk++)
                    {
                        bool any = false;
                        for (int r = 0; r < rows && !any; r++) any = isNonZero(i0 + r, kk);
                        count += any ? 1 : 0;
                    }

                    bool listed = count * 8 < kc * 7; // PackedGemm's DenseColumnShare
                    _tileBlocks++;
                    _nonZero += count;
                    _columns += kc;
                    if (listed) { _listedSteps += count; _listedBlocks++; }
                    else _denseSteps += kc;
                }

                _rowSteps += (long)(m - tiled) * kc;
            }
        }

        public string Json(int images) => Invariant(
            $"{{\"listed_steps\": {(double)_listedSteps / images:F1}, \"dense_steps\": {(double)_denseSteps / images:F1}, \"row_steps\": {(double)_rowSteps / images:F1}, \"tile_blocks\": {(double)_tileBlocks / images:F1}, \"listed_blocks\": {(double)_listedBlocks / images:F1}, \"nonzero_share\": {(double)_nonZero / _columns:F4}}}");
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// The float32 model's stages on one thread, best tier, through the generated Layers methods (as bench/CapsEmbedded.Bench
/// times them), each image <c>rounds</c> times. The machine is shared, so per stage and image the fastest of the rounds is
/// kept (a stage of a few ms is rarely interrupted in every round) and averaged over the images: "best_ms"; "median_ms" is
/// the median over rounds of the mean over images.
/// </summary>
internal static class StageTimes
{
    private static readonly string[] Names = ["conv1", "primary", "transform", "routing", "predict"];

    public static string Json(float[][] images, int rounds)
    {
        var weights = MnistCapsNet.Weights.Embedded;
        using var workspace = new MnistCapsNet.Workspace();
        var tier = SimdTiers.Best;
        var lengths = new float[10];
        var best = new long[Names.Length, images.Length];
        for (int s = 0; s < Names.Length; s++)
            for (int i = 0; i < images.Length; i++) best[s, i] = long.MaxValue;
        var roundMeans = new double[Names.Length][];
        for (int s = 0; s < Names.Length; s++) roundMeans[s] = new double[rounds];
        var t = new long[Names.Length + 1];
        for (int round = -1; round < rounds; round++) // round -1 warms up
        {
            for (int i = 0; i < images.Length; i++)
            {
                t[0] = Stopwatch.GetTimestamp();
                MnistCapsNet.Layers.Conv1(weights, workspace, images[i], tier);
                t[1] = Stopwatch.GetTimestamp();
                MnistCapsNet.Layers.PrimaryCaps(weights, workspace, tier);
                t[2] = Stopwatch.GetTimestamp();
                MnistCapsNet.Layers.CapsuleTransform(weights, workspace, tier);
                t[3] = Stopwatch.GetTimestamp();
                MnistCapsNet.Layers.Route(workspace, tier);
                t[4] = Stopwatch.GetTimestamp();
                MnistCapsNet.Predict(weights, workspace, images[i], lengths, default, default, tier);
                t[5] = Stopwatch.GetTimestamp();
                if (round < 0) continue;
                for (int s = 0; s < Names.Length; s++)
                {
                    long ticks = s < 4 ? t[s + 1] - t[s] : t[5] - t[4];
                    best[s, i] = Math.Min(best[s, i], ticks);
                    roundMeans[s][round] += ticks * 1e3 / Stopwatch.Frequency / images.Length;
                }
            }
        }

        var fields = new List<string>();
        for (int s = 0; s < Names.Length; s++)
        {
            double bestMs = 0;
            for (int i = 0; i < images.Length; i++) bestMs += best[s, i] * 1e3 / Stopwatch.Frequency / images.Length;
            var sorted = roundMeans[s].Order().ToArray();
            fields.Add(string.Create(CultureInfo.InvariantCulture,
                $"\"{Names[s]}\": {{\"best_ms\": {bestMs:F4}, \"median_ms\": {sorted[sorted.Length / 2]:F4}}}"));
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"{{\"tier\": \"{tier}\", \"images\": {images.Length}, \"rounds\": {rounds}, {string.Join(", ", fields)}}}");
    }
}
