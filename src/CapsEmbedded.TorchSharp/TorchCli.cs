using System.CommandLine;
using System.Diagnostics;
using CapsEmbedded.CommandLine;
using CapsEmbedded.Data;
using CapsEmbedded.IO;
using CapsEmbedded.Training;
using CapsEmbedded.TorchSharp.ShimFix;
using CapsEmbedded.Weights;

namespace CapsEmbedded.TorchSharp;

/// <summary>A user-facing error: one line, exit code 1.</summary>
public sealed class TorchCliException(string message) : Exception(message);

/// <summary>
/// <c>capsnet-torch</c>: train (as <c>capsnet train</c>, with libtorch's autograd, on the CPU or a CUDA GPU), export (an
/// Efficient-CapsNet checkpoint's weight file), eval, bench
/// (inference and training-step timing for the peer benchmarks) and fix-shim (the build's loader fix).
/// </summary>
public static class TorchCli
{
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("capsnet-torch: train and evaluate CapsNet with TorchSharp (libtorch 2.10); weights in capsnet's safetensors format.")
        {
            TrainCommand(), ExportCommand(), EvalCommand(), BenchCommand(), FixShimCommand(),
        };
        return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output, Error = error });
    }

    /// <summary>capsnet-torch's error guard: the tools' shared one, with this tool's own user errors.</summary>
    private static readonly ToolErrors Errors = new("capsnet-torch", e => e is TorchCliException or ElfPatchException or TrainingDivergedException);

    private static Option<string> DeviceOption() => new("--device")
    {
        Description = "cpu, or cuda (needs the build with -p:TorchDevice=cuda and a GPU)",
        DefaultValueFactory = _ => "cpu",
    };

    private static int Positive(int value, string option) =>
        value >= 1 ? value : throw new TorchCliException($"{option} must be at least 1, got {value}");

    /// <summary>The device, with libtorch's threads set; a clear error where CUDA is asked for and absent.</summary>
    internal static global::TorchSharp.torch.Device OpenDevice(string name, int threads)
    {
        global::TorchSharp.torch.set_num_threads(threads);
        switch (name)
        {
            case "cpu": return global::TorchSharp.torch.CPU;
            case "cuda":
                if (!global::TorchSharp.torch.cuda.is_available())
                    throw new TorchCliException("--device cuda: no CUDA device or no CUDA libtorch (build with -p:TorchDevice=cuda on a machine with an NVIDIA driver)");
                return global::TorchSharp.torch.CUDA;
            default: throw new TorchCliException($"--device must be cpu or cuda, got '{name}'");
        }
    }

    // ---- train ---------------------------------------------------------------------------------------------------

    private static Command TrainCommand()
    {
        var shared = new TrainingCommandLine("capsnet-torch", efficient: true);
        var dataDir = ToolOptions.DataDir();
        var threads = ToolOptions.Threads("libtorch intra-op threads");
        var device = DeviceOption();
        var command = shared.CreateCommand("Train a CapsNet with TorchSharp autograd (same loss, shifts, Adam schedule, init and files as capsnet train)",
            dataDir, threads, device);
        command.SetAction(Errors.Guard(parse =>
        {
            // The group is the C# trainer's (kept for a resume there); like capsnet-train's, at most the batch.
            var options = shared.Options(parse) with
            {
                Threads = Positive(parse.GetValue(threads), "--threads"), GroupSize = Math.Min(8, Math.Max(1, parse.GetValue(shared.Batch))),
            };
            if (options.Data == TrainingDataKind.EfficientImages)
                return TrainEfficient(options with { GroupSize = 1 }, parse.GetValue(shared.Data)!, parse.GetValue(dataDir)!, shared.LimitValue(parse), shared.OutPath(parse),
                    parse.GetValue(shared.Resume), parse.GetValue(shared.InitFrom), parse.GetValue(device)!, parse.GetResult(threads) is { Implicit: false },
                    "capsnet-torch " + string.Join(" ", parse.Tokens.Select(x => x.Value)), parse.InvocationConfiguration.Output);
            return Train(options, parse.GetValue(shared.Data)!, parse.GetValue(dataDir)!, shared.LimitValue(parse), shared.OutPath(parse),
                parse.GetValue(shared.Resume), parse.GetValue(shared.InitFrom), parse.GetValue(device)!, parse.GetResult(threads) is { Implicit: false },
                "capsnet-torch " + string.Join(" ", parse.Tokens.Select(x => x.Value)), parse.InvocationConfiguration.Output);
        }));
        return command;
    }

    private static int Train(TrainingOptions options, string dataName, string dataRoot, int? limit, string outPath, bool resume,
        string? initFrom, string deviceName, bool threadsGiven, string commandLine, TextWriter output)
    {
        (options, var checkpoint, var initial) = TrainingCommandLine.Start(options, resume, initFrom, threadsGiven, output);
        if (options.Validate() is { } problem) throw new TorchCliException(problem);
        var device = OpenDevice(deviceName, options.Threads);

        var train = TrainingCommandLine.Take(TrainingCommandLine.Load(dataName, DatasetSplit.Train, dataRoot), limit);
        var test = TrainingCommandLine.Load(dataName, DatasetSplit.Test, dataRoot);

        var a = options.Architecture;
        string outBase = Path.ChangeExtension(outPath, null);
        string csvPath = outBase + ".csv", svgPath = outBase + ".svg";
        output.WriteLine($"model    {a}, {a.ParameterCount:N0} parameters (TorchSharp, libtorch on {deviceName})");
        TrainingCommandLine.WriteSettings(output, dataName, train, test, options);
        output.WriteLine($"files    {outPath}, {options.CheckpointPath}, {csvPath}, {svgPath}");

        using var session = new TorchTrainingSession(options, train, test, device, checkpoint, initial);
        var observer = new ProgressObserver(csvPath, svgPath, $"CapsNet training (TorchSharp) on {TrainingCommandLine.SafeName(dataName)}", output);
        if (TrainingCommandLine.RunUntilCancelled(cancel => session.Run(observer, cancel), out var signal) == TrainingOutcome.Interrupted)
            return TrainingCommandLine.Interrupted(output, session.State, options, signal);
        TrainingCommandLine.SaveWeights(session.Trainer.Model.ToWeights(), outPath, "capsnet-torch train", commandLine, dataName,
            train.Count, TrainingCommandLine.TestImages(options, test), options, session.State, deviceName, output);
        return 0;
    }

    /// <summary>
    /// <c>train --arch efficient</c>: Efficient-CapsNet with its authors' recipe (<see cref="TorchEfficientSession"/>); the
    /// same progress, CSV, chart, checkpoints, Ctrl+C/SIGTERM, <c>--init-from</c> and provenance as <see cref="Train"/>, its
    /// own checkpoint and weight-file formats (<see cref="EfficientCheckpoint"/>, <see cref="EfficientWeightsWriter"/>).
    /// </summary>
    private static int TrainEfficient(TrainingOptions options, string dataName, string dataRoot, int? limit, string outPath, bool resume,
        string? initFrom, string deviceName, bool threadsGiven, string commandLine, TextWriter output)
    {
        EfficientCheckpoint? checkpoint = null;
        Dictionary<string, float[]>? initial = null;
        if (initFrom is not null)
        {
            TrainingCommandLine.CheckInitFrom(resume);
            initial = EfficientWeightsWriter.LoadWeightFile(initFrom);
            options = options with { InitSource = TrainingCommandLine.InitFromSource(initFrom) };
        }
        if (resume)
        {
            string path = options.CheckpointPath ?? throw new TorchCliException("--resume needs a checkpoint, and --out is not a regular file to keep one beside: pass --checkpoint <file>");
            if (!File.Exists(path)) throw new TorchCliException($"{path}: no checkpoint to resume from (pass --checkpoint <file>)");
            checkpoint = EfficientCheckpoint.Load(path);
            if (checkpoint.Options.ReconstructionWeight != options.ReconstructionWeight)
                throw new TorchCliException(FormattableString.Invariant(
                    $"--reconstruction-weight {options.ReconstructionWeight} differs from the checkpoint's {checkpoint.Options.ReconstructionWeight}: resume with --reconstruction-weight {checkpoint.Options.ReconstructionWeight}"));
            options = TrainingCommandLine.Resumed(options, checkpoint.Options, checkpoint.State, path, threadsGiven, output);
        }
        if (options.Validate() is { } problem) throw new TorchCliException(problem);
        var device = OpenDevice(deviceName, options.Threads);
        var train = TrainingCommandLine.Take(TrainingCommandLine.Load(dataName, DatasetSplit.Train, dataRoot), limit);
        var test = TrainingCommandLine.Load(dataName, DatasetSplit.Test, dataRoot);

        string outBase = Path.ChangeExtension(outPath, null);
        string csvPath = outBase + ".csv", svgPath = outBase + ".svg";
        int parameters = EfficientWeightsWriter.Tensors.Where(t => t.Trained).Sum(t => (int)t.Shape.Aggregate(1L, (a, b) => a * b));
        output.WriteLine($"model    Efficient-CapsNet (Mazzia et al. 2021), {parameters:N0} parameters with the decoder (TorchSharp, libtorch on {deviceName})");
        TrainingCommandLine.WriteSettings(output, dataName, train, test, options);
        output.WriteLine($"files    {outPath}, {options.CheckpointPath}, {csvPath}, {svgPath}");
        if (initial is not null) output.WriteLine(UntrustedText.Line($"init     {options.InitDescription}; Adam and the schedule start afresh"));

        using var session = new TorchEfficientSession(options, train, test, device, checkpoint, initial);
        var observer = new ProgressObserver(csvPath, svgPath, $"Efficient-CapsNet training (TorchSharp) on {TrainingCommandLine.SafeName(dataName)}", output);
        if (TrainingCommandLine.RunUntilCancelled(cancel => session.Run(observer, cancel), out var signal) == TrainingOutcome.Interrupted)
            return TrainingCommandLine.Interrupted(output, session.State, options, signal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        double testError = TrainingCommandLine.Provenance(metadata, "capsnet-torch train", commandLine, dataName, train.Count,
            TrainingCommandLine.TestImages(options, test), options, session.State, deviceName);
        if (dataName == "fashion") metadata[CapsNetClassNames.MetadataKey] = CapsNetClassNames.Encode(CapsNetClassNames.FashionMnist);
        EfficientWeightsWriter.Save(session.Trainer.Model.ToTensors(), metadata, outPath);
        output.WriteLine(TrainingCommandLine.DoneLine(session.State, testError, outPath));
        return 0;
    }

    /// <summary>Progress lines (every 10 s, and at each epoch's end), the per-epoch CSV and the SVG chart.</summary>
    private sealed class ProgressObserver(string csvPath, string svgPath, string title, TextWriter output) : TrainingObserver
    {
        private DateTime _lastLine = DateTime.MinValue;

        public override void OnStep(in StepProgress p)
        {
            if (DateTime.UtcNow - _lastLine < TimeSpan.FromSeconds(10) && p.Position != p.EpochImages && p.Step != 1) return;
            int width = 20, filled = (int)((long)width * p.Position / p.EpochImages);
            output.WriteLine(FormattableString.Invariant(
                $"epoch {p.Epoch}/{p.Epochs} [{new string('#', filled)}{new string('.', width - filled)}] {p.Position}/{p.EpochImages}  step {p.Step}  loss {p.RunningLoss:F4}  acc {100 * p.RunningAccuracy:F1}%  {p.ImagesPerSecond:F1} img/s  lr {p.LearningRate:G3}  ETA {TrainingCommandLine.Eta(p.Remaining)}"));
            _lastLine = DateTime.UtcNow;
        }

        public override void OnEpoch(in EpochMetrics m, IReadOnlyList<EpochMetrics> history)
        {
            TrainingLog.Write(csvPath, history);
            SvgChart.Write(svgPath, history, title);
            output.WriteLine(TrainingCommandLine.EpochLine(m));
        }
    }

    // ---- export --------------------------------------------------------------------------------------------------

    private static Command ExportCommand()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "An Efficient-CapsNet training checkpoint (capsnet-torch train --arch efficient's .ckpt)", Required = true };
        var outPath = new Option<string>("--out", "-o") { Description = "The weight file to write (.safetensors)", Required = true };
        var precision = new Option<string>("--precision") { Description = "Storage precision: f32, f16 (what the project ships) or bf16", DefaultValueFactory = _ => "f32" };
        precision.AcceptOnlyFromAmong("f32", "f16", "bf16");
        var data = new Option<string>("--data") { Description = "The data set the run trained on, for the provenance (the checkpoint holds only its size)", DefaultValueFactory = _ => "mnist" };
        var testImages = new Option<int>("--test-images") { Description = "Test images of the run's per-epoch figure, for the provenance (the checkpoint does not hold it)", DefaultValueFactory = _ => 10_000 };
        var force = new Option<bool>("--force") { Description = "Replace an existing output file (atomically)" };
        var command = new Command("export", "Write the weight file of an Efficient-CapsNet checkpoint: weights and batch-norm statistics, no Adam state, the trainer's metadata and which epoch of which budget")
        {
            checkpoint, outPath, precision, data, testImages, force,
        };
        command.SetAction(Errors.Guard(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            string input = parse.GetValue(checkpoint)!, path = parse.GetValue(outPath)!;
            if (File.Exists(path) && !parse.GetValue(force)) throw new TorchCliException($"{path} exists; pass --force to replace it");
            string dtype = parse.GetValue(precision) switch { "f16" => SafeTensorsDType.F16, "bf16" => SafeTensorsDType.BF16, _ => SafeTensorsDType.F32 };
            var run = EfficientCheckpoint.Load(input);
            var weights = run.ToWeights(Path.GetFileName(input), FileHash.Sha256(input), parse.GetValue(data)!,
                "capsnet-torch " + string.Join(" ", parse.Tokens.Select(x => x.Value)), Positive(parse.GetValue(testImages), "--test-images"));
            byte[] bytes = EfficientCapsNetWeightsFile.Write(weights, dtype, input);
            EfficientCapsNetWeightsFile.Read(bytes, path); // what is written loads
            AtomicFile.Write(path, bytes);
            output.WriteLine(UntrustedText.Line($"wrote {path}: {dtype}, {bytes.Length:N0} bytes, sha256 {FileHash.Sha256(bytes)}"));
            output.WriteLine($"from     {weights.Metadata[EfficientCheckpoint.ExportedFromKey]}");
            return 0;
        }));
        return command;
    }

    // ---- eval ----------------------------------------------------------------------------------------------------

    private static Command EvalCommand()
    {
        var weights = new Option<string>("--weights", "-w") { Description = "Weight file (.safetensors)", Required = true };
        var data = new Option<string>("--data", "-d") { Description = "mnist, fashion, or a folder with the four IDX files", DefaultValueFactory = _ => "mnist" };
        var split = new Option<string>("--split") { Description = "test or train", DefaultValueFactory = _ => "test" };
        split.AcceptOnlyFromAmong("test", "train");
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N images" };
        var threads = ToolOptions.Threads("libtorch intra-op threads");
        var device = DeviceOption();
        var dataDir = ToolOptions.DataDir();
        var command = new Command("eval", "Error rate of a weight file on a labelled data set, with TorchSharp") { weights, data, split, limit, threads, device, dataDir };
        command.SetAction(Errors.Guard(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            string path = parse.GetValue(weights)!;
            // A missing or unreadable file gets CapsNetWeightsFile's messages; an Efficient-CapsNet one its own reader.
            bool efficient = File.Exists(path) && SafeTensorsFile.ReadHeader(path).Header.Metadata.TryGetValue(EfficientWeightsWriter.FamilyKey, out var family)
                && family == EfficientWeightsWriter.Family;
            var w = efficient ? null : CapsNetWeightsFile.Load(path);
            var set = DatasetStore.Load(parse.GetValue(data)!, parse.GetValue(split) == "train" ? DatasetSplit.Train : DatasetSplit.Test, parse.GetValue(dataDir)!);
            if (w is null) return EvalEfficient(path, set, parse.GetValue(limit), parse.GetValue(device)!, Positive(parse.GetValue(threads), "--threads"), output);
            var a = w.Architecture;
            if (set.Rows != a.InputSize || set.Cols != a.InputSize || a.InputChannels != 1)
                throw new TorchCliException($"the data holds {set.Rows}x{set.Cols} images; the model needs {a.InputSize}x{a.InputSize}x{a.InputChannels}");
            int count = Math.Min(parse.GetValue(limit) is { } l ? Positive(l, "--limit") : set.Count, set.Count);
            for (int k = 0; k < count; k++)
                if (set.Labels[k] >= a.Classes) throw new TorchCliException($"label {set.Labels[k]} of image {k} is not below the model's {a.Classes} classes");
            using var trainer = new TorchTrainer(w, OpenDevice(parse.GetValue(device)!, Positive(parse.GetValue(threads), "--threads")));
            var clock = Stopwatch.StartNew();
            double error = TrainingLoop.ErrorRate(trainer, set, count, a);
            double seconds = clock.Elapsed.TotalSeconds;
            output.WriteLine($"engine   TorchSharp (libtorch 2.10) on {parse.GetValue(device)}, {a}");
            output.WriteLine(FormattableString.Invariant($"error    {100 * error:F2}% of {count:N0} images"));
            output.WriteLine(FormattableString.Invariant($"speed    {count / seconds:F1} images/s ({seconds:F2} s)"));
            return 0;
        }));
        return command;
    }

    /// <summary><c>eval</c> of an Efficient-CapsNet file of any float dtype, in eval mode (running BN statistics).</summary>
    private static int EvalEfficient(string path, LabeledImages set, int? limit, string deviceName, int threads, TextWriter output)
    {
        if (set.Rows != EfficientWeightsWriter.InputSize || set.Cols != EfficientWeightsWriter.InputSize)
            throw new TorchCliException($"the data holds {set.Rows}x{set.Cols} images; the model needs {EfficientWeightsWriter.InputSize}x{EfficientWeightsWriter.InputSize}");
        int count = Math.Min(limit is { } l ? Positive(l, "--limit") : set.Count, set.Count);
        for (int k = 0; k < count; k++)
            if (set.Labels[k] >= EfficientWeightsWriter.Classes) throw new TorchCliException($"label {set.Labels[k]} of image {k} is not below the model's {EfficientWeightsWriter.Classes} classes");
        // F32, F16 (the shipped weights/mnist-efficient.safetensors) or BF16, widened to float32 and validated.
        var tensors = EfficientWeightsWriter.LoadWeightFile(path);
        using var trainer = new TorchEfficientTrainer(1, OpenDevice(deviceName, threads));
        trainer.Model.Load(tensors);
        var clock = Stopwatch.StartNew();
        double error = TrainingLoop.ErrorRate(trainer, set, count, CapsNetArchitecture.Paper); // reads only the 28×28 input size
        double seconds = clock.Elapsed.TotalSeconds;
        output.WriteLine($"engine   TorchSharp (libtorch 2.10) on {deviceName}, Efficient-CapsNet");
        output.WriteLine(FormattableString.Invariant($"error    {100 * error:F2}% of {count:N0} images"));
        output.WriteLine(FormattableString.Invariant($"speed    {count / seconds:F1} images/s ({seconds:F2} s)"));
        return 0;
    }

    // ---- bench ---------------------------------------------------------------------------------------------------

    private static Command BenchCommand()
    {
        var weights = new Option<string?>("--weights", "-w") { Description = "Weight file (default: a seeded paper network)" };
        var batch = new Option<int>("--batch") { Description = "Images per forward pass (or per training step with --train)", DefaultValueFactory = _ => 1 };
        var threads = ToolOptions.Threads("libtorch intra-op threads", fallback: 1);
        var warmup = new Option<int>("--warmup") { Description = "Untimed runs first", DefaultValueFactory = _ => 5 };
        var runs = new Option<int>("--runs") { Description = "Timed runs", DefaultValueFactory = _ => 50 };
        var train = new Option<bool>("--train") { Description = "Time training steps (forward, backward, Adam) instead of inference" };
        var device = DeviceOption();
        var engine = new Option<string>("--engine") { Description = "torch, or csharp: capsnet train's C# trainer (with --train), for side-by-side runs", DefaultValueFactory = _ => "torch" };
        engine.AcceptOnlyFromAmong("torch", "csharp");
        var arch = new Option<string>("--arch") { Description = "paper (the weight file's network), or efficient: Efficient-CapsNet, seeded", DefaultValueFactory = _ => "paper" };
        arch.AcceptOnlyFromAmong("paper", TrainingCommandLine.EfficientArch);
        var json = new Option<bool>("--json")
        {
            Description = "One JSON line in the format of the peer benchmark (bench/peers/run.sh) instead of text (inference only)",
        };
        var command = new Command("bench", "Time the TorchSharp module: inference (lengths, no decoder) or training steps, on random images")
        {
            weights, batch, threads, warmup, runs, train, device, engine, json, arch,
        };
        command.SetAction(Errors.Guard(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            string? path = parse.GetValue(weights);
            var w = path is null ? TrainingInit.Create(CapsNetArchitecture.Paper, 1) : CapsNetWeightsFile.Load(path);
            int b = Positive(parse.GetValue(batch), "--batch"), t = Positive(parse.GetValue(threads), "--threads");
            int warm = Math.Max(0, parse.GetValue(warmup)), timed = Positive(parse.GetValue(runs), "--runs");
            bool csharp = parse.GetValue(engine) == "csharp";
            if (csharp && !parse.GetValue(train)) throw new TorchCliException("--engine csharp times training steps (--train); for C# inference use capsnet bench");
            if (parse.GetValue(json) && parse.GetValue(train)) throw new TorchCliException("--json reports inference only (the peer benchmark's format); drop --train");
            bool efficient = parse.GetValue(arch) == TrainingCommandLine.EfficientArch;
            if (efficient && (csharp || path is not null)) throw new TorchCliException("--arch efficient times a seeded Efficient-CapsNet with TorchSharp: drop --weights and --engine csharp");
            var result = csharp ? TorchBench.RunCSharpTrainer(w, t, b, warm, timed)
                : efficient ? TorchBench.RunEfficient(OpenDevice(parse.GetValue(device)!, t), b, warm, timed, parse.GetValue(train))
                : TorchBench.Run(w, OpenDevice(parse.GetValue(device)!, t), b, warm, timed, parse.GetValue(train));
            string name = csharp ? "C# trainer" : $"TorchSharp {parse.GetValue(device)}{(efficient ? ", Efficient-CapsNet" : "")}";
            if (parse.GetValue(json))
            {
                // The peer benchmark's line (bench/CapsEmbedded.Bench PeerResult); managed allocations are not measured here.
                string version = $"TorchSharp {typeof(global::TorchSharp.torch).Assembly.GetName().Version?.ToString(3)}, libtorch (TorchSharp-cpu), {parse.GetValue(device)}, no_grad, random images";
                output.WriteLine(FormattableString.Invariant(
                    $"{{\"peer\":\"TorchSharp\",\"version\":\"{version}\",\"batch\":{b},\"threads\":{t},\"p50_ms\":{result.MedianMs:R},\"p90_ms\":{result.P90Ms:R},\"images_per_second\":{result.ImagesPerWallSecond:R},\"allocated_bytes_per_image\":-1}}"));
                return 0;
            }

            output.WriteLine(FormattableString.Invariant(
                $"capsnet-torch bench: {name}, {(parse.GetValue(train) ? "training step" : "inference")}, batch {b}, {t} threads: median {result.MedianMs:F3} ms, mean {result.MeanMs:F3} ms per batch, {result.ImagesPerSecond:F1} images/s, {result.ImagesPerCpuSecond:F1} images per CPU-second ({timed} runs after {warm} warm-up)"));
            return 0;
        }));
        return command;
    }

    // ---- fix-shim ------------------------------------------------------------------------------------------------

    private static Command FixShimCommand()
    {
        var shim = new Argument<string>("shim") { Description = "libLibTorchSharp.so to patch in place (a copy in a build output, not the NuGet cache)" };
        var libstdcxx = new Option<string?>("--libstdcxx") { Description = "The libstdc++.so.6 to check against (default: the one this process loads)" };
        var command = new Command("fix-shim", "The build's loader fix: rename the shim's unused GLIBCXX_3.4.32 need to GLIBCXX_3.4.30 where libstdc++ lacks 3.4.32")
        {
            shim, libstdcxx,
        };
        command.SetAction(Errors.Guard(parse =>
        {
            string target = parse.GetValue(shim)!;
            if (!File.Exists(target)) throw new TorchCliException($"{target}: no such file");
            string system = parse.GetValue(libstdcxx) ?? ShimFixer.SystemLibstdcxx()
                ?? throw new TorchCliException("no libstdc++.so.6 is loaded or loadable; nothing to check the shim against");
            parse.InvocationConfiguration.Output.WriteLine($"capsnet-torch fix-shim: {ShimFixer.Apply(target, system)}");
            return 0;
        }));
        return command;
    }
}
