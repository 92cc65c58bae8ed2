using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using CapsEmbedded.CommandLine;
using CapsEmbedded.Cli.Figures;
using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.IO;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet eval</c>: accuracy, error %, confusion matrix and images/s on a test set; <c>--dump-lengths</c> writes
/// each image's capsule lengths so results can be compared line by line with other frameworks. On a MultiMNIST set
/// (two labels per image) it prints the paper's metric instead (<see cref="MultiMnistMetric"/>).
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var chosen = new ModelOptions();
        var set = new DataOptions(
            "mnist, fashion, multimnist, or a folder with the four IDX files or the two MultiMNIST files (default: the data set of --model)");
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N images" };
        var dump = new Option<string?>("--dump-lengths")
        {
            Description = "Write one line per image with its capsule lengths (space-separated, invariant culture)",
        };
        var threads = ToolOptions.Threads();
        var plot = new Option<string?>("--plot") { Description = "Also draw the confusion matrix as a PNG heatmap" };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing --plot or --dump-lengths file" };
        var command = new Command("eval", "Evaluate a model on a labelled data set")
        {
            chosen.Model, chosen.Weights, set.Data, set.Split, limit, dump, chosen.Engine, threads, set.DataDir, plot, force, chosen.Precision,
            chosen.Residency,
        };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            int? n = parse.GetValue(limit);
            if (n is not null) CommonOptions.Positive(n.Value, "--limit");
            string? modelName = chosen.ModelName(parse, set.Given(parse));
            var request = new EvalRequest(set.Of(parse, modelName), set.SplitOf(parse), n, parse.GetValue(dump),
                CommonOptions.ThreadCount(parse.GetValue(threads)), set.Root(parse))
            {
                Plot = parse.GetValue(plot), Force = parse.GetValue(force),
            };
            bool pairs = Check(request);
            var (session, description) = chosen.Open(parse, modelName);
            using (session) return Run(request, pairs, session, description, parse.InvocationConfiguration.Output);
        }));
        return command;
    }

    internal sealed record EvalRequest(string Data, DatasetSplit Split, int? Limit, string? DumpLengths, int Threads, string DataRoot)
    {
        public string? Plot { get; init; }
        public bool Force { get; init; }
    }

    /// <summary>
    /// Refuses bad output paths and a flag the data set cannot take before the model is opened and the (long) evaluation
    /// runs, not after it; true when the data set is a MultiMNIST one (two labels per image).
    /// </summary>
    internal static bool Check(EvalRequest request)
    {
        if (request.DumpLengths is not null) CommonOptions.OutputPath(request.DumpLengths, "--dump-lengths", request.Force);
        if (request.Plot is not null) CommonOptions.OutputPath(request.Plot, "--plot", overwrite: request.Force);
        bool pairs = MultiMnistStore.IsPairs(request.Data, request.DataRoot);
        if (pairs && request.Split == DatasetSplit.Train)
            throw new CliException($"{request.Data} is a MultiMNIST test set; it has no train split (training pairs are drawn afresh each epoch)");
        if (pairs && request.Plot is not null)
            throw new CliException("--plot draws the one-label confusion matrix; a MultiMNIST set has two labels per image");
        if (request.DumpLengths is not null && request.Plot is not null
            && AtomicFile.CollisionProblem([(request.DumpLengths, "--dump-lengths"), (request.Plot, "--plot")]) is { } collision)
            throw new CliException(collision);
        return pairs;
    }

    internal static int Run(EvalRequest request, bool pairs, ICapsNetSession model, string description, TextWriter output)
    {
        using var context = model.CreateBatchContext(request.Threads);
        if (pairs) return RunPairs(request, model, description, context, output);
        var a = model.Shape;
        var set = DatasetStore.Load(request.Data, request.Split, request.DataRoot);
        if (set.Rows != a.InputSize || set.Cols != a.InputSize || a.InputChannels != 1)
            throw new CliException($"{request.Data} holds {set.Rows}x{set.Cols} images; the model needs {a.InputSize}x{a.InputSize}x{a.InputChannels}");
        int count = Math.Min(request.Limit ?? set.Count, set.Count);
        int pixels = a.InputLength, classes = a.Classes;
        var images = new float[(long)count * pixels];
        for (int i = 0; i < count; i++)
        {
            if (set.Labels[i] >= classes)
                throw new CliException($"{request.Data}: label {set.Labels[i]} of image {i} is not below the model's {classes} classes");
            set.CopyImage(i, images.AsSpan(i * pixels, pixels));
        }
        var lengths = new float[(long)count * classes];
        var predicted = new int[count];

        output.WriteLine(UntrustedText.Line($"engine   {description}"));
        output.WriteLine(UntrustedText.Line($"data     {request.Data} ({request.Split.ToString().ToLowerInvariant()}), {count:N0} images, {request.Threads} threads"));
        var clock = Stopwatch.StartNew();
        model.PredictBatch(images, lengths, predicted, context);
        double seconds = clock.Elapsed.TotalSeconds;
        for (int i = 0; i < count; i++) // a NaN length would otherwise count as "class 0"
            if (NonFiniteLengths.Any(lengths.AsSpan(i * classes, classes)))
                throw new CliException(NonFiniteLengths.Message($"image {i}"));

        var confusion = new int[classes, classes];
        int correct = 0;
        for (int i = 0; i < count; i++)
        {
            confusion[set.Labels[i], predicted[i]]++;
            if (predicted[i] == set.Labels[i]) correct++;
        }
        var inv = CultureInfo.InvariantCulture;
        double error = 100.0 * (count - correct) / count;
        output.WriteLine($"accuracy {(100.0 - error).ToString("F2", inv)}% ({correct:N0}/{count:N0})");
        output.WriteLine($"error    {error.ToString("F2", inv)}%");
        output.WriteLine($"speed    {(count / seconds).ToString("F1", inv)} images/s ({seconds.ToString("F2", inv)} s)");
        output.WriteLine();
        WriteConfusion(output, confusion, classes);
        if (!model.ClassNames.SequenceEqual(CapsEmbedded.Weights.CapsNetClassNames.Default(classes)))
            output.WriteLine($"classes  {string.Join(", ", model.ClassNames.Select((n, k) => $"{k} = {n}"))}");
        if (request.DumpLengths is not null)
        {
            DumpLengths(request.DumpLengths, lengths, count, classes);
            output.WriteLine(UntrustedText.Line($"wrote {count:N0} lines of capsule lengths to {request.DumpLengths}"));
        }
        if (request.Plot is not null)
        {
            string title = $"{request.Data} {request.Split}, {count} IMAGES: ERROR {error.ToString("F2", inv)}%";
            PngFile.Write(request.Plot, FigureRenderer.Confusion(confusion, title), request.Force, "--plot");
            output.WriteLine(UntrustedText.Line($"wrote the confusion matrix heatmap to {request.Plot}"));
        }
        return 0;
    }

    /// <summary>Images per batch on a MultiMNIST set (21 MB of floats at 36×36).</summary>
    internal const int PairChunk = 4096;

    /// <summary>
    /// MultiMNIST: the paper's metric (an image is right only when its two longest capsules are its two labels) and
    /// the share with at least one label among the two longest.
    /// </summary>
    private static int RunPairs(EvalRequest request, ICapsNetSession model, string description, BatchContext context, TextWriter output)
    {
        var a = model.Shape;
        var set = MultiMnistStore.Load(request.Data, request.DataRoot);
        if (set.Rows != a.InputSize || set.Cols != a.InputSize || a.InputChannels != 1)
            throw new CliException($"{request.Data} holds {set.Rows}x{set.Cols} images; the model ({description}) needs {a.InputSize}x{a.InputSize}x{a.InputChannels}"
                + $"; give weights for {set.Rows}x{set.Cols} with --weights (capsnet init --arch multimnist writes random ones)");
        if (a.Classes <= DatasetStore.MaxLabel)
            throw new CliException($"the model has {a.Classes} classes; MultiMNIST labels are the digits 0..{DatasetStore.MaxLabel}");
        int count = Math.Min(request.Limit ?? set.Count, set.Count);
        int pixels = a.InputLength, classes = a.Classes;
        // In chunks: 100,000 pairs as floats would be 518 MB beside the 130 MB of bytes.
        int chunk = Math.Min(count, PairChunk);
        var images = new float[(long)chunk * pixels];
        var chunkLengths = new float[(long)chunk * classes];
        var predicted = new int[chunk];
        var lengths = new float[(long)count * classes];

        output.WriteLine($"engine   {description}");
        output.WriteLine($"data     {request.Data} (MultiMNIST test), {count:N0} images of two digits, {request.Threads} threads");
        var clock = Stopwatch.StartNew();
        for (int start = 0; start < count; start += chunk)
        {
            int n = Math.Min(chunk, count - start);
            for (int i = 0; i < n; i++) set.CopyImage(start + i, images.AsSpan(i * pixels, pixels));
            model.PredictBatch(images.AsSpan(0, n * pixels), chunkLengths, predicted, context);
            chunkLengths.AsSpan(0, n * classes).CopyTo(lengths.AsSpan(start * classes));
        }
        double seconds = clock.Elapsed.TotalSeconds;
        for (int i = 0; i < count; i++)
            if (NonFiniteLengths.Any(lengths.AsSpan(i * classes, classes)))
                throw new CliException(NonFiniteLengths.Message($"image {i}"));

        MultiMnistScore score = MultiMnistMetric.Score(lengths, classes, set.Labels, count);
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine($"error    {score.ErrorPercent.ToString("F2", inv)}% ({score.Wrong:N0}/{count:N0}): the two longest capsules are not exactly the two labels (paper §6)");
        output.WriteLine($"one      {score.AtLeastOnePercent.ToString("F2", inv)}% ({score.AtLeastOneRight:N0}/{count:N0}) have at least one label among the two longest capsules");
        output.WriteLine($"speed    {(count / seconds).ToString("F1", inv)} images/s ({seconds.ToString("F2", inv)} s)");
        if (request.DumpLengths is not null)
        {
            DumpLengths(request.DumpLengths, lengths, count, classes);
            output.WriteLine(UntrustedText.Line($"wrote {count:N0} lines of capsule lengths to {request.DumpLengths}"));
        }
        return 0;
    }

    private static void WriteConfusion(TextWriter output, int[,] confusion, int classes)
    {
        output.WriteLine("confusion matrix (rows: true class, columns: predicted)");
        var line = new StringBuilder("true\\pred");
        for (int p = 0; p < classes; p++) line.Append(CultureInfo.InvariantCulture, $"{p,6}");
        output.WriteLine(line.ToString());
        for (int t = 0; t < classes; t++)
        {
            line.Clear().Append(CultureInfo.InvariantCulture, $"{t,9}");
            for (int p = 0; p < classes; p++) line.Append(CultureInfo.InvariantCulture, $"{confusion[t, p],6}");
            output.WriteLine(line.ToString());
        }
    }

    /// <summary>"G9" round-trips a float exactly (9 significant digits); written through <see cref="AtomicFile"/>.</summary>
    internal static void DumpLengths(string path, float[] lengths, int count, int classes) => AtomicFile.Write(path, stream =>
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
        for (int i = 0; i < count; i++)
        {
            for (int k = 0; k < classes; k++)
            {
                if (k > 0) writer.Write(' ');
                writer.Write(lengths[i * classes + k].ToString("G9", CultureInfo.InvariantCulture));
            }
            writer.Write('\n');
        }
    });
}
