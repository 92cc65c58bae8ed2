using System.CommandLine;
using System.Globalization;
using CapsEmbedded.CommandLine;
using CapsEmbedded.Models;
using CapsEmbedded.Cli.Figures;
using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.IO;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet reconstruct</c>, <c>tweak</c> and <c>errors</c>: PNG figures of what the digit capsules encode (paper
/// §5.1, Fig. 3 and 4; on a MultiMNIST set, reconstruct draws §6's Fig. 5), drawn by <see cref="FigureRenderer"/> from
/// the compiled model.
/// </summary>
internal static class FigureCommands
{
    private sealed record Shared(ModelOptions Chosen, DataOptions Set, Option<string> Out, Option<bool> Force, Option<int> Scale)
    {
        /// <summary>
        /// The --model (else the model of --data mnist|fashion|multimnist, else MNIST) and --data (default: the model's own
        /// data set), and whether that data set is a MultiMNIST one (two labels per image).
        /// </summary>
        private (CompiledModel Model, string Data, bool Pairs) Resolve(ParseResult parse)
        {
            // The PNG is checked before the model runs, so a run never ends in "cannot write".
            CommonOptions.OutputPath(parse.GetValue(Out), "--out", parse.GetValue(Force));
            string? weights = Chosen.WeightsPath(parse);
            string? modelName = Chosen.ModelName(parse, Set.Given(parse));
            // Without --model, a --weights file picks the compiled model of its architecture, as eval does.
            var model = modelName is null && weights is not null && File.Exists(weights)
                ? CompiledModel.OfFile(weights) ?? CompiledModel.Default
                : ModelChoice.Named(modelName);
            string data = Set.Of(parse, model.Name);
            return (model, data, MultiMnistStore.IsPairs(data, Set.Root(parse)));
        }

        /// <summary>The model on a one-label data set; a MultiMNIST set is refused (only reconstruct draws pairs).</summary>
        public FigureModel Open(ParseResult parse, string command)
        {
            var (model, data, pairs) = Resolve(parse);
            if (pairs)
                throw new CliException($"{data} is a MultiMNIST set (two digits per image); capsnet {command} draws one-digit sets, capsnet reconstruct draws pairs");
            return new FigureModel(model, Chosen.WeightsPath(parse), DatasetStore.Load(data, Set.SplitOf(parse), Set.Root(parse)), data);
        }

        /// <summary>The model on a MultiMNIST set when --data (or --model's own data set) is one, else null.</summary>
        public PairFigureModel? OpenPairs(ParseResult parse)
        {
            var (model, data, pairs) = Resolve(parse);
            if (!pairs) return null;
            if (Set.SplitOf(parse) == DatasetSplit.Train)
                throw new CliException($"{data} is a MultiMNIST test set; it has no train split (training pairs are drawn afresh each epoch)");
            return new PairFigureModel(model, Chosen.WeightsPath(parse), MultiMnistStore.Load(data, Set.Root(parse)), data);
        }

        public void Write(ParseResult parse, Raster raster, string what)
        {
            string path = parse.GetValue(Out)!;
            PngFile.Write(path, raster, parse.GetValue(Force));
            parse.InvocationConfiguration.Output.WriteLine(UntrustedText.Line($"wrote {path}: {what}, {raster.Width}x{raster.Height} pixels"));
        }

        public int ScaleOf(ParseResult parse)
        {
            int scale = parse.GetValue(Scale);
            return scale is >= 1 and <= 8 ? scale : throw new CliException($"--scale must be 1..8, got {scale}");
        }
    }

    private static Shared Options(string defaultOut)
    {
        return new Shared(new ModelOptions(), new DataOptions("mnist, fashion, or a folder with the four IDX files"),
            new Option<string>("--out", "-o") { Description = "Output PNG file", DefaultValueFactory = _ => defaultOut },
            new Option<bool>("--force") { Description = "Overwrite an existing file" },
            new Option<int>("--scale") { Description = "Pixels per image pixel (1..8)", DefaultValueFactory = _ => 2 });
    }

    private static Command With(Command command, Shared o)
    {
        command.Options.Add(o.Chosen.Model);
        command.Options.Add(o.Chosen.Weights);
        command.Options.Add(o.Set.Data);
        command.Options.Add(o.Set.Split);
        command.Options.Add(o.Set.DataDir);
        command.Options.Add(o.Out);
        command.Options.Add(o.Force);
        command.Options.Add(o.Scale);
        return command;
    }

    public static Command Reconstruct()
    {
        var o = Options("reconstruct.png");
        var start = new Option<int>("--start") { Description = "First image index", DefaultValueFactory = _ => 0 };
        var count = new Option<int>("--count", "-n") { Description = "Number of digits, or of pairs on MultiMNIST (1..200)", DefaultValueFactory = _ => 16 };
        var columns = new Option<int>("--columns") { Description = "Digits per row", DefaultValueFactory = _ => 8 };
        var command = With(new Command("reconstruct",
            "PNG: test digits above their reconstructions from the predicted capsule (paper Fig. 3); with --data multimnist, each pair beside its two longest capsules' reconstructions in red and green (Fig. 5)")
        {
            start, count, columns,
        }, o);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            int n = parse.GetValue(count), cols = CommonOptions.Positive(parse.GetValue(columns), "--columns"), scale = o.ScaleOf(parse);
            if (n is < 1 or > 200) throw new CliException($"--count must be 1..200, got {n}");
            using var pairs = o.OpenPairs(parse);
            if (pairs is not null) return ReconstructPairs(parse, o, pairs, parse.GetValue(start), n, cols, scale);
            using var model = o.Open(parse, "reconstruct");
            int first = model.CheckIndex(parse.GetValue(start), "--start");
            if (first + n > model.Data.Count)
                throw new CliException($"--start {first} with --count {n} needs images {first}..{first + n - 1}; {model.DataName} has {model.Data.Count:N0} (0..{model.Data.Count - 1})");
            var digits = Enumerable.Range(first, n).Select(i => model.Run(i, false, out _)).ToList();
            int wrong = digits.Count(d => d.Predicted != d.Label);
            o.Write(parse, FigureRenderer.Reconstructions(digits, model.Side, cols, scale), $"{n} digits from {first}, {wrong} misclassified (red)");
            return 0;
        }));
        return command;
    }

    /// <summary>Paper Fig. 5: pairs <paramref name="first"/>.. beside the reconstructions of their two longest capsules.</summary>
    private static int ReconstructPairs(ParseResult parse, Shared o, PairFigureModel model, int first, int n, int cols, int scale)
    {
        int count = model.Pairs.Count;
        if (first < 0 || first >= count)
            throw new CliException($"--start {first} is outside {model.DataName}'s {count:N0} images (0..{count - 1})");
        if (first + n > count)
            throw new CliException($"--start {first} with --count {n} needs images {first}..{first + n - 1}; {model.DataName} has {count:N0} (0..{count - 1})");
        var pairs = Enumerable.Range(first, n).Select(model.Run).ToList();
        int wrong = pairs.Count(p => !p.Right);
        string title = FormattableString.Invariant($"MULTIMNIST PAIRS {first}-{first + n - 1}: {wrong} OF {n} WRONG (RED FRAME)");
        o.Write(parse, FigureRenderer.Pairs(pairs, model.Side, cols, scale, title),
            $"{n} pairs from {first}, {wrong} wrong (the two longest capsules are not the two labels; red frame)");
        return 0;
    }

    public static Command Tweak()
    {
        var o = Options("tweak.png");
        var index = new Option<int>("--index", "-i") { Description = "Image index", DefaultValueFactory = _ => 0 };
        var command = With(new Command("tweak", "PNG: each of the winning capsule's 16 dimensions moved by -0.25..0.25 in steps of 0.05 (paper Fig. 4)")
        {
            index,
        }, o);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            int scale = o.ScaleOf(parse);
            using var model = o.Open(parse, "tweak");
            int i = model.CheckIndex(parse.GetValue(index), "--index");
            var digit = model.Run(i, false, out float[] capsules);
            var grid = new float[model.Dims][][];
            for (int d = 0; d < model.Dims; d++)
            {
                grid[d] = new float[FigureRenderer.PerturbationSteps][];
                for (int s = 0; s < FigureRenderer.PerturbationSteps; s++)
                {
                    var edited = (float[])capsules.Clone();
                    edited[digit.Predicted * model.Dims + d] += FigureRenderer.Perturbation(s);
                    grid[d][s] = model.Reconstruct(edited, digit.Predicted);
                }
            }
            string title = FormattableString.Invariant($"IMAGE {i} (TRUE {digit.Label}), CAPSULE {digit.Predicted}: DIMENSION + DELTA");
            o.Write(parse, FigureRenderer.Tweaks(grid, model.Side, scale, title), $"image {i}, capsule {digit.Predicted}, 16x11 reconstructions");
            return 0;
        }));
        return command;
    }

    public static Command Errors()
    {
        var o = Options("errors.png");
        var limit = new Option<int?>("--limit") { Description = "Scan only the first N images" };
        var max = new Option<int>("--max") { Description = "Draw at most N errors", DefaultValueFactory = _ => 60 };
        var columns = new Option<int>("--columns") { Description = "Errors per row", DefaultValueFactory = _ => 4 };
        var threads = ToolOptions.Threads();
        var command = With(new Command("errors", "PNG: misclassified digits with true/predicted class, the two longest capsules and both reconstructions")
        {
            limit, max, columns, threads,
        }, o);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            int scale = o.ScaleOf(parse), cols = CommonOptions.Positive(parse.GetValue(columns), "--columns");
            int most = CommonOptions.Positive(parse.GetValue(max), "--max");
            using var model = o.Open(parse, "errors");
            int n = Math.Min(parse.GetValue(limit) is { } l ? CommonOptions.Positive(l, "--limit") : model.Data.Count, model.Data.Count);
            int[] classes = model.Classify(n, CommonOptions.ThreadCount(parse.GetValue(threads)));
            var wrong = Enumerable.Range(0, n).Where(i => classes[i] != model.Data.Labels[i]).ToList();
            var drawn = wrong.Take(most).Select(i => model.Run(i, true, out _)).ToList();
            string rate = (100.0 * wrong.Count / n).ToString("F2", CultureInfo.InvariantCulture);
            string title = $"{wrong.Count} OF {n} MISCLASSIFIED ({rate}%)" + (drawn.Count < wrong.Count ? $", FIRST {drawn.Count} SHOWN" : "");
            o.Write(parse, FigureRenderer.Errors(drawn, model.Side, cols, scale, title), $"{wrong.Count} of {n:N0} misclassified, {drawn.Count} drawn");
            return 0;
        }));
        return command;
    }
}
