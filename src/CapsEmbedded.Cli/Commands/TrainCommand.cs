using System.CommandLine;
using CapsEmbedded.CommandLine;
using CapsEmbedded.Cli.Figures;
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
        var shared = new TrainingCommandLine("capsnet");
        var dataDir = ToolOptions.DataDir();
        var threads = ToolOptions.Threads();
        var group = new Option<int>("--group") { Description = "Images per GEMM inside a thread (memory vs speed; part of the run's arithmetic, kept on --resume)", DefaultValueFactory = _ => 8 };
        var force = new Option<bool>("--force") { Description = "Overwrite existing output files (--out, --checkpoint and the .csv/.svg/.png next to --out); --resume continues them without it" };
        var plain = new Option<bool>("--plain") { Description = "Plain progress lines instead of a live bar" };
        var command = shared.CreateCommand("Train a CapsNet (pure C#, data-parallel over the batch)", dataDir, threads, group, plain, force, shared.SaveEpochs);
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var options = shared.Options(parse) with
            {
                Threads = CommonOptions.ThreadCount(parse.GetValue(threads)),
                // Unless given, a group never exceeds the batch (a given one that does is refused by Validate).
                GroupSize = parse.GetResult(group) is not { Implicit: false } ? Math.Min(parse.GetValue(group), Math.Max(1, parse.GetValue(shared.Batch)))
                    : CommonOptions.Positive(parse.GetValue(group), "--group"),
            };
            var request = new TrainRequest(
                parse.GetValue(shared.Data)!, parse.GetValue(dataDir)!, options, shared.LimitValue(parse),
                shared.OutPath(parse), parse.GetValue(shared.Resume), parse.GetValue(shared.InitFrom), parse.GetValue(plain),
                parse.GetResult(threads) is { Implicit: false }, parse.GetValue(force),
                "capsnet " + string.Join(" ", parse.Tokens.Select(t => t.Value)), parse.GetValue(shared.SaveEpochs));
            return Run(request, parse.InvocationConfiguration.Output);
        }));
        return command;
    }

    internal sealed record TrainRequest(string Data, string DataRoot, TrainingOptions Options,
        int? Limit, string OutPath, bool Resume, string? InitFrom, bool Plain, bool ThreadsGiven, bool Force, string CommandLine,
        bool SaveEpochs = false);

    internal static int Run(TrainRequest request, TextWriter output)
    {
        // Every output is checked before data or weights are loaded; --resume continues the run that wrote them.
        TrainingCommandLine.CheckOutputs(TrainingCommandLine.OutputFiles(request.OutPath, request.Options, request.SaveEpochs, png: true),
            request.Force || request.Resume, "pass --force to overwrite it");
        var (options, checkpoint, initial) = TrainingCommandLine.Start(request.Options, request.Resume, request.InitFrom, request.ThreadsGiven, output);
        if (checkpoint is not null && options.Threads != checkpoint.Options.Threads)
            output.WriteLine($"note: {options.Threads} threads instead of the checkpoint's {checkpoint.Options.Threads}: the sums round differently, the run is not bit-identical to an uninterrupted one");
        if (options.Validate() is { } problem) throw new CliException(problem);
        TrainingCommandLine.CheckMemory(options);

        var train = TrainingCommandLine.Take(TrainingCommandLine.Load(request.Data, DatasetSplit.Train, request.DataRoot), request.Limit);
        var test = TrainingCommandLine.Load(request.Data, DatasetSplit.Test, request.DataRoot);

        var a = options.Architecture;
        string? csvPath = TrainingCommandLine.SidePath(request.OutPath, ".csv"), svgPath = TrainingCommandLine.SidePath(request.OutPath, ".svg");
        output.WriteLine($"model    {a}, {a.ParameterCount:N0} parameters, {a.MultiplyAdds / 1e6:F0} M multiply-adds forward per image");
        TrainingCommandLine.WriteSettings(output, request.Data, train, test, options);
        output.WriteLine($"files    {string.Join(", ", new[] { request.OutPath, options.CheckpointPath, csvPath, svgPath }.OfType<string>())}{(svgPath is null ? "" : " (and .png)")}"
            + (request.SaveEpochs ? $", {TrainingCommandLine.EpochPath(request.OutPath, 1)} … {TrainingCommandLine.EpochPath(request.OutPath, options.Epochs)}" : ""));

        using var session = new TrainingSession(options, train, test, checkpoint, initial);
        var observer = new ReportingObserver(csvPath, svgPath, TrainingCommandLine.SafeName(request.Data), output);
        if (request.SaveEpochs)
            observer.EpochWeights = TrainingCommandLine.EpochWeightsWriter(session, request.OutPath, "capsnet train", request.CommandLine,
                request.Data, train.Count, TrainingCommandLine.TestImages(options, test));
        bool live = !request.Plain && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        TrainingOutcome outcome;
        System.Runtime.InteropServices.PosixSignal? signal;
        try
        {
            outcome = TrainingCommandLine.RunUntilCancelled(cancel => live ? RunWithProgressBar(session, observer, cancel) : session.Run(observer, cancel), out signal);
        }
        catch (TrainingDivergedException e)
        {
            throw new CliException(e.Message);
        }
        if (outcome == TrainingOutcome.Interrupted) return TrainingCommandLine.Interrupted(output, session.State, options, signal);
        TrainingCommandLine.SaveWeights(session.Trainer.ExportWeights(), request.OutPath, "capsnet train", request.CommandLine, request.Data,
            train.Count, TrainingCommandLine.TestImages(options, test), options, session.State, device: null, output);
        return 0;
    }

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

    /// <summary>The plain report (<see cref="TrainingLogObserver"/>) with the live bar instead of progress lines, and the chart as a PNG too.</summary>
    private sealed class ReportingObserver(string? csvPath, string? svgPath, string title, TextWriter output)
        : TrainingLogObserver(csvPath, svgPath, title, output)
    {
        public ProgressContext? Live { get; set; }
        private ProgressTask? _task;
        private int _taskEpoch = -1;

        public override void OnStep(in StepProgress p)
        {
            if (Live is null)
            {
                base.OnStep(p);
                return;
            }
            // Compact, to fit 80 columns next to the bar: the ETA is for the whole run, not the epoch.
            string brief = FormattableString.Invariant(
                $"{p.Epoch}/{p.Epochs} loss {p.RunningLoss:F4} acc {100 * p.RunningAccuracy:F1}% {p.ImagesPerSecond:F0} img/s ETA {TrainingCommandLine.Eta(p.Remaining)}");
            if (_taskEpoch != p.Epoch)
            {
                _task?.StopTask();
                _task = Live.AddTask($"epoch {p.Epoch}", maxValue: p.EpochImages);
                _taskEpoch = p.Epoch;
            }
            _task!.Description = Markup.Escape(brief);
            _task.Value = p.Position;
        }

        public override void OnEvaluating(int images)
        {
            if (_task is not null) _task.Description = Markup.Escape($"epoch {_taskEpoch}: evaluating {images:N0} test images…");
        }

        public override void OnEpoch(in EpochMetrics m, IReadOnlyList<EpochMetrics> history)
        {
            if (SvgPath is not null)
                PngFile.Write(Path.ChangeExtension(SvgPath, ".png"), FigureRenderer.TrainingCurve(history, $"CAPSNET TRAINING ON {Title}"), overwrite: true);
            base.OnEpoch(m, history);
        }

        protected override void WriteEpochLine(string line)
        {
            if (_task is null)
            {
                base.WriteEpochLine(line);
                return;
            }
            _task.Description = Markup.Escape(line);
            _task.Value = _task.MaxValue;
            _task.StopTask();
        }
    }
}
