using System.CommandLine;
using CapsEmbedded.CommandLine;
using System.Globalization;
using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.IO;
using CapsEmbedded.Models;
using CapsEmbedded.Quantization;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet quantize --weights F --calibrate mnist --out F.int8.safetensors</c>: the primary-capsule conv as int8
/// (per-channel symmetric weights, u7 activations), its input scale calibrated on training images (for MultiMNIST,
/// <c>--calibrate multimnist</c>: pairs composed from MNIST's training digits).
/// </summary>
internal static class QuantizeCommand
{
    /// <summary>
    /// Clip conv1's output at this percentile of its positive values: on the MNIST test digits it keeps the error of the
    /// other clips and gives the smallest length error against float32 (bench/RESULTS.md, "int8").
    /// </summary>
    public const double DefaultPercentile = 99.999;

    public static Command Create()
    {
        var weights = CommonOptions.Weights(required: true);
        var calibrate = new Option<string>("--calibrate")
        {
            Description = "Data set whose training images calibrate the activation scale: mnist, fashion, multimnist (pairs composed from MNIST's training digits), or a folder with the IDX files",
            Required = true,
        };
        var images = new Option<int>("--images") { Description = "Calibration images (the first N of the training split)", DefaultValueFactory = _ => 1000 };
        var percentile = new Option<double>("--percentile")
        {
            Description = "Clip conv1's output at this percentile of its positive values (100 = the maximum)",
            DefaultValueFactory = _ => DefaultPercentile,
        };
        var dataDir = ToolOptions.DataDir();
        var output = new Option<string>("--out", "-o") { Description = "Quantised weight file to write", Required = true };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing file" };
        var command = new Command("quantize", "Quantise the primary-capsule conv to int8 (calibrated on training images)")
        {
            weights, calibrate, images, percentile, dataDir, output, force,
        };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string path = parse.GetValue(output)!;
            CommonOptions.OutputPath(path, "--out", parse.GetValue(force));
            double p = parse.GetValue(percentile);
            if (!(p > 0 && p <= 100)) throw new CliException($"--percentile must lie in (0, 100], got {p.ToString(CultureInfo.InvariantCulture)}");
            return Run(parse.GetValue(weights)!, parse.GetValue(calibrate)!, parse.GetValue(dataDir)!,
                CommonOptions.Positive(parse.GetValue(images), "--images"), p, path, parse.InvocationConfiguration.Output);
        }));
        return command;
    }

    internal static int Run(string weightsPath, string data, string dataRoot, int images, double percentile, string outPath, TextWriter output)
    {
        var weights = CapsNetWeightsFile.Load(weightsPath);
        var a = weights.Architecture;
        var (pixels, count, source) = CalibrationImages(data, dataRoot, images, a);

        var histogram = Quantizer.CalibrateConv1(weights, pixels, count);
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(UntrustedText.Line($"weights     {weightsPath} ({a})"));
        output.WriteLine($"calibration conv1 ReLU output on {source} 0..{count - 1}: {histogram}");
        foreach (double p in new[] { 100, 99.999, 99.99, 99.9, 99.0 })
        {
            float c = histogram.Percentile(p);
            output.WriteLine(string.Create(inv, $"  clip at {(p == 100 ? "max" : p + "%"),-8} = {c,10:G6}  s_a = {c / QuantizedCapsNetWeights.ActivationLimit:G6}  clipped {100 * histogram.ClippedShare(c):F4}% of positive values"));
        }
        float clip = histogram.Percentile(percentile);
        string method = percentile == 100 ? "max" : string.Create(inv, $"percentile {percentile}");
        // conv1's channels renumbered so that the int8 GEMM's 4-channel groups are more often all zero (same outputs).
        var grouping = Conv1ChannelGrouping.Collect(weights, pixels, count, clip / QuantizedCapsNetWeights.ActivationLimit);
        int[] order = grouping.GroupedOrder();
        double before = grouping.NonzeroGroupShare([.. Enumerable.Range(0, a.Conv1Channels)]), after = grouping.NonzeroGroupShare(order);
        output.WriteLine(string.Create(inv, $"channels    conv1's channels grouped by co-activation: primary conv groups with a non-zero code {100 * before:F1}% -> {100 * after:F1}% of the dense product"));
        var quantised = Quantizer.Quantize(weights, clip, string.Create(inv,
            $"{method} of conv1 ReLU output on {count} {source}: clip {clip:G9}; conv1 channels grouped by co-activation"), order);
        byte[] bytes = QuantizedWeightsFile.Write(quantised);
        AtomicFile.Write(outPath, bytes);
        output.WriteLine(UntrustedText.Line(string.Create(inv, $"wrote {outPath}: {QuantizedCapsNetWeights.Scheme}, {method}, s_a = {quantised.PrimaryInputScale:G6}, {bytes.Length:N0} bytes, sha256 {FileHash.Sha256(bytes)}")));
        return 0;
    }

    /// <summary>
    /// The first <paramref name="images"/> calibration images, scaled to [0, 1], and what they are, for the report: the
    /// training split of <paramref name="data"/>, or for <c>multimnist</c> (whose stored set holds test pairs only, which
    /// must not calibrate) pairs composed from the MNIST training digits as training draws them (paper §6), fixed by
    /// <see cref="MultiMnistGenerator.DefaultSeed"/>.
    /// </summary>
    private static (float[] Pixels, int Count, string Source) CalibrationImages(string data, string dataRoot, int images, CapsNetArchitecture a)
    {
        bool pairs = data == MultiMnistStore.Name;
        var set = DatasetStore.Load(pairs ? CompiledModel.Mnist.Name : data, DatasetSplit.Train, dataRoot);
        int side = pairs ? MultiMnistPairs.CanvasSize : set.Rows;
        if (side != a.InputSize || (!pairs && set.Cols != a.InputSize) || a.InputChannels != 1)
            throw new CliException($"{data} holds {side}x{(pairs ? side : set.Cols)} images; the model needs {a.InputSize}x{a.InputSize}x{a.InputChannels}"
                + (pairs || a.InputSize != MultiMnistPairs.CanvasSize ? "" : $" (--calibrate {MultiMnistStore.Name} composes them from MNIST's training digits)"));
        int count = Math.Min(images, set.Count);
        var pixels = new float[(long)count * a.InputLength];
        if (!pairs)
        {
            for (int i = 0; i < count; i++) set.CopyImage(i, pixels.AsSpan(i * a.InputLength, a.InputLength));
            return (pixels, count, $"{data} train images");
        }
        var recipes = MultiMnistGenerator.DrawPairs(set, 1, MultiMnistGenerator.DefaultSeed);
        byte[] first = new byte[MultiMnistPairs.CanvasLength], second = new byte[MultiMnistPairs.CanvasLength], merged = new byte[MultiMnistPairs.CanvasLength];
        for (int i = 0; i < count; i++)
        {
            MultiMnistPairs.Compose(set, recipes[i], first, second, merged);
            for (int p = 0; p < merged.Length; p++) pixels[(long)i * a.InputLength + p] = merged[p] / 255f;
        }
        return (pixels, count, $"{MultiMnistStore.Name} pairs composed from {CompiledModel.Mnist.Name} train digits (seed {MultiMnistGenerator.DefaultSeed})");
    }
}
