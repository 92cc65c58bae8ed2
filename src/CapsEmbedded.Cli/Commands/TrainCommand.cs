using System.CommandLine;
using CapsEmbedded.Cli.Figures;
using CapsEmbedded.IO;
using System.Globalization;
using CapsEmbedded.Data;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using Spectre.Console;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet train</c>: trains a CapsNet with the pure C# trainer (margin + reconstruction loss, Adam with exponential
/// decay, random 2-pixel shifts), with a live progress bar, per-epoch CSV and SVG chart, atomic checkpoints and exact
/// <c>--resume</c>. The final weights are a safetensors file with the architecture and provenance in its metadata.
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data", "-d") { Description = "mnist, fashion, or a folder with the four IDX files", DefaultValueFactory = _ => "mnist" };
        var dataDir = CommonOptions.DataDir();
        var arch = new Option<string>("--arch") { Description = "paper (28x28 MNIST network) or tiny (10x10 test network)", DefaultValueFactory = _ => "paper" };
        arch.AcceptOnlyFromAmong("paper", "tiny");
        var epochs = new Option<int>("--epochs") { Description = "Epochs to train (with --resume: the total, counting those done)", DefaultValueFactory = _ => 10 };
        var batch = new Option<int>("--batch") { Description = "Images per step", DefaultValueFactory = _ => 100 };
        var lr = new Option<double>("--lr") { Description = "Adam's initial learning rate", DefaultValueFactory = _ => 1e-3 };
        var decay = new Option<double>("--decay")
        {
            Description = "Learning-rate decay per 2000 steps of batch 128 (256,000 images), continuous; 1 = none",
            DefaultValueFactory = _ => 0.96,
        };
        var threads = CommonOptions.Threads();
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initialisation, shuffling and shifts", DefaultValueFactory = _ => 1 };
        var limit = new Option<int?>("--limit") { Description = "Train on the first N training images only" };
        var testLimit = new Option<int?>("--test-limit") { Description = "Evaluate on the first N test images only after each epoch" };
        var output = new Option<string?>("--out", "-o") { Description = "Final weight file (default: capsnet-<data>.safetensors); the CSV and SVG go next to it" };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Checkpoint file (default: <out>.ckpt)" };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Steps between checkpoints (one is also written after each epoch)", DefaultValueFactory = _ => 200 };
        var resume = new Option<bool>("--resume") { Description = "Continue exactly from the checkpoint (weights, Adam, step, epoch, order, RNG)" };
        var shift = new Option<int>("--shift") { Description = "Largest random shift in pixels (the paper: 2; 0 = none)", DefaultValueFactory = _ => 2 };
        var group = new Option<int>("--group") { Description = "Images per GEMM inside a thread (memory vs speed; part of the run's arithmetic, kept on --resume)", DefaultValueFactory = _ => 8 };
        var force = new Option<bool>("--force") { Description = "Overwrite existing output files (--out, --checkpoint and the .csv/.svg next to --out); --resume continues them without it" };
        var plain = new Option<bool>("--plain") { Description = "Plain progress lines instead of a live bar" };
        var initFrom = new Option<string?>("--init-from")
        {
            Description = "Start from this weight file (same architecture) instead of the seeded initialisation; Adam and the schedule start afresh",
        };
        var command = new Command("train", "Train a CapsNet (pure C#, data-parallel over the batch)")
        {
            data, dataDir, arch, epochs, batch, lr, decay, threads, seed, limit, testLimit, output, checkpoint,
            checkpointEvery, resume, shift, group, plain, initFrom, force,
        };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string dataName = parse.GetValue(data)!;
            string outPath = parse.GetValue(output) ?? $"capsnet-{SafeName(dataName)}.safetensors";
            var request = new TrainRequest(
                dataName, parse.GetValue(dataDir)!,
                parse.GetValue(arch) == "tiny" ? CapsNetArchitecture.Tiny : CapsNetArchitecture.Paper,
                new TrainingOptions
                {
                    Epochs = CommonOptions.Positive(parse.GetValue(epochs), "--epochs"),
                    Batch = CommonOptions.Positive(parse.GetValue(batch), "--batch"),
                    LearningRate = parse.GetValue(lr), Decay = parse.GetValue(decay),
                    Threads = CommonOptions.ThreadCount(parse.GetValue(threads)),
                    Seed = parse.GetValue(seed), MaxShift = parse.GetValue(shift),
                    // Unless given, a group never exceeds the batch (a given one that does is refused by Validate).
                    GroupSize = parse.GetResult(group) is null ? Math.Min(parse.GetValue(group), Math.Max(1, parse.GetValue(batch)))
                        : CommonOptions.Positive(parse.GetValue(group), "--group"),
                    CheckpointPath = parse.GetValue(checkpoint) ?? Path.ChangeExtension(outPath, ".ckpt"),
                    CheckpointEverySteps = CommonOptions.Positive(parse.GetValue(checkpointEvery), "--checkpoint-every"),
                    TestLimit = parse.GetValue(testLimit) is { } t ? CommonOptions.Positive(t, "--test-limit") : 0,
                },
                parse.GetValue(limit) is { } l ? CommonOptions.Positive(l, "--limit") : null,
                outPath, parse.GetValue(resume), parse.GetValue(initFrom), parse.GetValue(plain),
                parse.GetResult(threads) is not null, parse.GetValue(force),
                "capsnet " + string.Join(" ", parse.Tokens.Select(t => t.Value)));
            return Run(request, parse.InvocationConfiguration.Output);
        }));
        return command;
    }

    internal sealed record TrainRequest(string Data, string DataRoot, CapsNetArchitecture Architecture, TrainingOptions Options,
        int? Limit, string OutPath, bool Resume, string? InitFrom, bool Plain, bool ThreadsGiven, bool Force, string CommandLine);

    private static string SafeName(string data) =>
        new string(Path.GetFileName(Path.TrimEndingDirectorySeparator(data)).Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray());

    internal static int Run(TrainRequest request, TextWriter output)
    {
        var options = request.Options with { Architecture = request.Architecture };
        // Every output is checked before data or weights are loaded; --resume continues the run that wrote them.
        CommonOptions.OutputPath(request.OutPath, "--out", request.Force || request.Resume);
        CommonOptions.OutputPath(options.CheckpointPath, "--checkpoint", request.Force || request.Resume);
        string outStem = Path.ChangeExtension(request.OutPath, null);
        CommonOptions.OutputPath(outStem + ".csv", "--out's log", request.Force || request.Resume);
        CommonOptions.OutputPath(outStem + ".svg", "--out's chart", request.Force || request.Resume);
        TrainingCheckpoint? checkpoint = null;
        CapsNetWeights? initial = null;
        if (request.InitFrom is not null)
        {
            if (request.Resume) throw new CliException("--init-from and --resume exclude each other: a checkpoint already holds the weights");
            initial = CapsNetWeightsFile.Load(request.InitFrom);
            if (initial.Architecture != request.Architecture)
                throw new CliException($"{request.InitFrom} holds {initial.Architecture}; --arch gives {request.Architecture}");
            options = options with { InitSource = $"from {Path.GetFileName(request.InitFrom)} (sha256 {FileHash.Sha256(request.InitFrom)})" };
        }
        if (request.Resume)
        {
            string path = options.CheckpointPath!;
            if (!File.Exists(path)) throw new CliException($"{path}: no checkpoint to resume from (pass --checkpoint <file>)");
            checkpoint = TrainingCheckpoint.Load(path);
            var saved = checkpoint.Options;
            if (request.Options.Epochs < checkpoint.State.Epoch)
                throw new CliException($"--epochs {request.Options.Epochs} is less than the {checkpoint.State.Epoch} epochs the checkpoint has done");
            // The run's maths comes from the checkpoint; only the length, threads and reporting come from the command line.
            options = saved with
            {
                Epochs = request.Options.Epochs,
                Threads = request.ThreadsGiven ? request.Options.Threads : saved.Threads,
                CheckpointPath = options.CheckpointPath,
                CheckpointEverySteps = options.CheckpointEverySteps,
                TestLimit = options.TestLimit,
            };
            output.WriteLine(FormattableString.Invariant(
                $"resuming {path}: epoch {checkpoint.State.Epoch + 1}, image {checkpoint.State.Position}, step {checkpoint.State.Step} (batch {saved.Batch}, lr {saved.LearningRate}, decay {saved.Decay}, seed {saved.Seed} from the checkpoint)"));
            if (options.Threads != saved.Threads)
                output.WriteLine($"note: {options.Threads} threads instead of the checkpoint's {saved.Threads}: the sums round differently, the run is not bit-identical to an uninterrupted one");
        }
        if (options.Validate() is { } problem) throw new CliException(problem);
        CommonOptions.WithinMemory(options.EstimatedBytes, $"--batch {options.Batch} with --group {options.GroupSize} on {options.Threads} threads");

        var train = DatasetStore.Load(request.Data, DatasetSplit.Train, request.DataRoot);
        var test = DatasetStore.Load(request.Data, DatasetSplit.Test, request.DataRoot);
        if (request.Limit is { } limit && limit < train.Count) train = Take(train, limit);

        var a = options.Architecture;
        string outBase = Path.ChangeExtension(request.OutPath, null);
        string csvPath = outBase + ".csv", svgPath = outBase + ".svg";
        output.WriteLine($"model    {a}, {a.ParameterCount:N0} parameters, {a.MultiplyAdds / 1e6:F0} M multiply-adds forward per image");
        output.WriteLine($"data     {request.Data}: {train.Count:N0} training images (shifted up to {options.MaxShift} px), {(options.TestLimit > 0 ? Math.Min(options.TestLimit, test.Count) : test.Count):N0} test images");
        output.WriteLine(FormattableString.Invariant(
            $"train    {options.Epochs} epochs, batch {options.Batch}, Adam lr {options.LearningRate} x {options.Decay} per {options.Schedule.PeriodSteps(options.Batch):F0} steps, {options.Threads} threads, seed {options.Seed}"));
        output.WriteLine($"files    {request.OutPath}, {options.CheckpointPath}, {csvPath}, {svgPath} (and .png)");

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancel.IsCancellationRequested) return; // a second Ctrl+C ends the process
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var session = new TrainingSession(options, train, test, checkpoint, initial);
        TrainingOutcome outcome;
        var observer = new ReportingObserver(csvPath, svgPath, SafeName(request.Data), output);
        try
        {
            bool live = !request.Plain && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
            outcome = live ? RunWithProgressBar(session, observer, cancel.Token) : session.Run(observer, cancel.Token);
        }
        catch (TrainingDivergedException e)
        {
            throw new CliException(e.Message);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        if (outcome == TrainingOutcome.Interrupted)
        {
            output.WriteLine($"interrupted at step {session.State.Step}; checkpoint {options.CheckpointPath} written. Continue with the same command and --resume.");
            return 130;
        }
        var history = session.State.History;
        double testError = history.Count > 0 ? history[^1].TestError : double.NaN;
        var weights = session.Trainer.ExportWeights();
        var inv = CultureInfo.InvariantCulture;
        weights.Metadata["capsnet.created_by"] = "capsnet train";
        weights.Metadata["training.command"] = request.CommandLine;
        weights.Metadata["training.data"] = request.Data;
        weights.Metadata["training.train_images"] = train.Count.ToString(inv);
        weights.Metadata["training.seed"] = options.Seed.ToString(inv);
        weights.Metadata["training.epochs"] = session.State.Epoch.ToString(inv);
        weights.Metadata["training.steps"] = session.State.Step.ToString(inv);
        weights.Metadata["training.batch"] = options.Batch.ToString(inv);
        weights.Metadata["training.lr"] = options.LearningRate.ToString("R", inv);
        weights.Metadata["training.decay"] = options.Decay.ToString("R", inv);
        weights.Metadata["training.threads"] = options.Threads.ToString(inv);
        weights.Metadata["training.wall_seconds"] = session.State.WallSeconds.ToString("F1", inv);
        weights.Metadata["training.test_error"] = testError.ToString("R", inv);
        weights.Metadata["training.test_images"] = (options.TestLimit > 0 ? Math.Min(options.TestLimit, test.Count) : test.Count).ToString(inv);
        weights.Metadata["training.date"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", inv);
        weights.Metadata["training.init"] = options.InitDescription;
        // Fashion-MNIST's labels are garments: name them (Xiao et al. 2017's order); other data sets stay numbered.
        if (request.Data == "fashion" && weights.Architecture.Classes == CapsNetClassNames.FashionMnist.Count)
            weights.Metadata[CapsNetClassNames.MetadataKey] = CapsNetClassNames.Encode(CapsNetClassNames.FashionMnist);
        CapsNetWeightsFile.Save(weights, request.OutPath);
        output.WriteLine(FormattableString.Invariant(
            $"done: {session.State.Epoch} epochs, {session.State.Step} steps, {session.State.WallSeconds:F0} s, test error {100 * testError:F2}%; wrote {request.OutPath}"));
        return 0;
    }

    private static LabeledImages Take(LabeledImages set, int count) =>
        new(count, set.Rows, set.Cols, set.Pixels.AsSpan(0, count * set.ImageLength).ToArray(), set.Labels.AsSpan(0, count).ToArray());

    private static TrainingOutcome RunWithProgressBar(TrainingSession session, ReportingObserver observer, CancellationToken cancel)
    {
        TrainingOutcome outcome = TrainingOutcome.Completed;
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 16 }, new PercentageColumn())
            .Start(context =>
            {
                observer.Live = context;
                outcome = session.Run(observer, cancel);
            });
        return outcome;
    }

    /// <summary>Turns progress into the live bar (or plain lines), and epochs into the CSV and the chart.</summary>
    private sealed class ReportingObserver(string csvPath, string svgPath, string title, TextWriter output) : TrainingObserver
    {
        public ProgressContext? Live { get; set; }
        private ProgressTask? _task;
        private int _taskEpoch = -1;
        private DateTime _lastLine = DateTime.MinValue;

        public override void OnStep(in StepProgress p)
        {
            if (Live is not null)
            {
                // Compact, to fit 80 columns next to the bar: the ETA is for the whole run, not the epoch.
                string brief = FormattableString.Invariant(
                    $"{p.Epoch}/{p.Epochs} loss {p.RunningLoss:F4} acc {100 * p.RunningAccuracy:F1}% {p.ImagesPerSecond:F0} img/s ETA {Eta(p.Remaining)}");
                if (_taskEpoch != p.Epoch)
                {
                    _task?.StopTask();
                    _task = Live.AddTask($"epoch {p.Epoch}", maxValue: p.EpochImages);
                    _taskEpoch = p.Epoch;
                }
                _task!.Description = Markup.Escape(brief);
                _task.Value = p.Position;
                return;
            }
            string text = FormattableString.Invariant(
                $"epoch {p.Epoch}/{p.Epochs}  step {p.Step}  loss {p.RunningLoss:F4}  acc {100 * p.RunningAccuracy:F1}%  {p.ImagesPerSecond:F1} img/s  lr {p.LearningRate:G3}  ETA {Eta(p.Remaining)}");
            if (DateTime.UtcNow - _lastLine > TimeSpan.FromSeconds(10) || p.Position == p.EpochImages)
            {
                output.WriteLine($"{text}  [{p.Position}/{p.EpochImages}]");
                _lastLine = DateTime.UtcNow;
            }
        }

        public override void OnEvaluating(int images)
        {
            if (_task is not null) _task.Description = Markup.Escape($"epoch {_taskEpoch}: evaluating {images:N0} test images…");
        }

        public override void OnEpoch(in EpochMetrics m, IReadOnlyList<EpochMetrics> history)
        {
            TrainingLog.Write(csvPath, history);
            SvgChart.Write(svgPath, history, $"CapsNet training on {title}");
            PngFile.Write(Path.ChangeExtension(svgPath, ".png"), FigureRenderer.TrainingCurve(history, $"CAPSNET TRAINING ON {title}"), overwrite: true);
            string line = FormattableString.Invariant(
                $"epoch {m.Epoch}: train loss {m.TrainLoss:F4}, train accuracy {100 * m.TrainAccuracy:F2}%, test error {100 * m.TestError:F2}%, lr {m.LearningRate:G3}, {m.Seconds:F0} s");
            if (_task is not null)
            {
                _task.Description = Markup.Escape(line);
                _task.Value = _task.MaxValue;
                _task.StopTask();
            }
            else output.WriteLine(line);
        }


        private static string Eta(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : $"{t.Minutes}m{t.Seconds:00}s";
    }
}
