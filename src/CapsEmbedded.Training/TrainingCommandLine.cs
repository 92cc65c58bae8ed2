using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.IO;
using CapsEmbedded.Threading;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Training;

/// <summary>
/// What <c>capsnet train</c> and <c>capsnet-torch train</c> share, defined once so that the two tools read the same flags
/// the same way, resume each other's checkpoints and stamp the same provenance: the options, their parsing into
/// <see cref="TrainingOptions"/>, <c>--init-from</c>/<c>--resume</c>, Ctrl+C, and the final weights' metadata. A bad value is
/// an <see cref="ArgumentException"/> with a one-line message (both tools print it as "error: …", exit code 1).
/// </summary>
public sealed class TrainingCommandLine
{
    private readonly string _tool;
    private readonly bool _efficient;

    /// <summary><c>--arch</c>'s name for Efficient-CapsNet (capsnet-torch only): its authors' recipe and augmentation,
    /// <see cref="TrainingDataKind.EfficientImages"/>.</summary>
    public const string EfficientArch = "efficient";

    /// <param name="tool">The tool's name: the default output is <c>&lt;tool&gt;-&lt;data&gt;.safetensors</c>.</param>
    /// <param name="efficient">Whether <c>--arch</c> also takes <see cref="EfficientArch"/> (a tool that can train it).</param>
    public TrainingCommandLine(string tool, bool efficient = false)
    {
        _tool = tool;
        _efficient = efficient;
        Arch.AcceptOnlyFromAmong(efficient ? [.. CapsNetArchitecture.Names, EfficientArch] : CapsNetArchitecture.Names);
        if (efficient)
        {
            Arch.Description += "; efficient: Efficient-CapsNet (Mazzia et al. 2021) with its authors' recipe (batch 16, lr 5e-4 x 0.97 an epoch, their augmentation)";
            InitFrom.Description += "; with --arch efficient: an exported Efficient-CapsNet file (F32, F16 or BF16), batch-norm statistics included";
        }
        Out = new("--out", "-o") { Description = $"Final weight file (default: {tool}-<data>.safetensors); the CSV and SVG go next to it" };
    }

    public Option<string> Data { get; } = new("--data", "-d")
    {
        Description = "mnist, fashion, a folder with the four IDX files, or multimnist: pairs of overlapping MNIST digits drawn afresh each epoch from the mnist folder (paper §6; the 36x36 network, two targets)",
        DefaultValueFactory = _ => "mnist",
    };
    public Option<string> Arch { get; } = new("--arch") { Description = "paper (28x28 MNIST network), multimnist (36x36 MultiMNIST network, the default with --data multimnist) or tiny (10x10 test network)", DefaultValueFactory = _ => "paper" };
    public Option<int> Epochs { get; } = new("--epochs") { Description = "Epochs to train (with --resume: the total, counting those done)", DefaultValueFactory = _ => 10 };
    public Option<int> Batch { get; } = new("--batch") { Description = "Images per step", DefaultValueFactory = _ => 100 };
    public Option<double> LearningRate { get; } = new("--lr") { Description = "Adam's initial learning rate", DefaultValueFactory = _ => 1e-3 };
    public Option<double> Decay { get; } = new("--decay")
    {
        Description = "Learning-rate decay per 2000 steps of batch 128 (256,000 images), continuous; 1 = none",
        DefaultValueFactory = _ => 0.96,
    };
    public Option<ulong> Seed { get; } = new("--seed") { Description = "Seed of the initialisation, shuffling and shifts", DefaultValueFactory = _ => 1 };
    public Option<int?> Limit { get; } = new("--limit") { Description = "Train on the first N training images only" };
    public Option<int?> TestLimit { get; } = new("--test-limit") { Description = "Evaluate on the first N test images only after each epoch" };
    public Option<string?> Out { get; }
    public Option<string?> Checkpoint { get; } = new("--checkpoint") { Description = "Checkpoint file (default: <out>.ckpt, none when --out is a device or FIFO; capsnet train and capsnet-torch train read each other's)" };
    public Option<int> CheckpointEvery { get; } = new("--checkpoint-every") { Description = "Steps between checkpoints (one is also written after each epoch)", DefaultValueFactory = _ => 200 };
    public Option<bool> Resume { get; } = new("--resume") { Description = "Continue exactly from the checkpoint (weights, Adam, step, epoch, order, RNG)" };
    public Option<int> Shift { get; } = new("--shift") { Description = "Largest random shift in pixels (the paper: 2; 0 = none)", DefaultValueFactory = _ => 2 };
    public Option<double> Rotate { get; } = new("--rotate")
    {
        Description = $"Largest random rotation in degrees, either way, before the shift (not in the paper; 0 = none; 0..{TrainingOptions.MaxRotationLimit})",
        DefaultValueFactory = _ => 0,
    };
    public Option<double> Scale { get; } = new("--scale")
    {
        Description = $"Largest random change of size as a fraction, sizes in [1 - s, 1 + s] (not in the paper; 0 = none; 0..{TrainingOptions.MaxScaleLimit})",
        DefaultValueFactory = _ => 0,
    };
    public Option<int> Routing { get; } = new("--routing")
    {
        Description = $"Routing iterations r of the trained network (the paper: 3; 1 = no routing, its Table 1 ablation; 1..{TrainingOptions.MaxRoutingIterations}), stored in the weight file",
        DefaultValueFactory = _ => 3,
    };
    public Option<double> ReconstructionWeight { get; } = new("--reconstruction-weight")
    {
        Description = "Weight of the reconstruction loss, w × Σ (r − x)² (the paper: 0.0005); 0 = none: the decoder gets no gradient and is saved untrained",
        DefaultValueFactory = _ => TrainingOptions.PaperReconstructionWeight,
    };
    public Option<string?> InitFrom { get; } = new("--init-from")
    {
        Description = "Start from this weight file (same architecture) instead of the seeded initialisation; Adam and the schedule start afresh",
    };

    /// <summary>Only in a tool that trains Efficient-CapsNet (<see cref="CreateCommand"/> adds it there): the floor of its per-epoch decay.</summary>
    public Option<double?> LearningRateFloor { get; } = new("--lr-floor")
    {
        Description = $"--arch efficient: the lowest learning rate, where the per-epoch decay stops (default: the authors' {EfficientMinLearningRate.ToString(CultureInfo.InvariantCulture)}, or --lr when lower; 0..--lr; equal to --lr, like --decay 1, keeps the rate constant)",
    };

    /// <summary>Not among <see cref="CreateCommand"/>'s: the tools that write per-epoch weights add it (see <see cref="EpochPath"/>).</summary>
    public Option<bool> SaveEpochs { get; } = new("--save-epochs")
    {
        Description = "Also write each epoch's weights as <out>.epoch-N.safetensors (to average them with capsnet average)",
    };

    /// <summary>Where <c>--save-epochs</c> writes epoch <paramref name="epoch"/>'s weights: next to <c>--out</c>.</summary>
    public static string EpochPath(string outPath, int epoch) =>
        Path.ChangeExtension(outPath, null) + FormattableString.Invariant($".epoch-{epoch}.safetensors");

    /// <summary>
    /// Whether the side files (the .csv, .svg and .png, the default .ckpt, <c>--save-epochs</c>' files) go next to
    /// <paramref name="outPath"/>: only when it is, or will be, a regular file; /dev/null, a FIFO or /dev/stdout as
    /// <c>--out</c> gets none (no /dev/null.ckpt).
    /// </summary>
    public static bool SideFilesBeside(string outPath)
    {
        try
        {
            return AtomicFile.Check(outPath).Mode == AtomicFile.Mode.Replace;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            return true; // --out's own check reports the problem first
        }
    }

    /// <summary>The file next to <paramref name="outPath"/> with <paramref name="extension"/> (".csv"), or null when --out gets no side files.</summary>
    public static string? SidePath(string outPath, string extension) =>
        SideFilesBeside(outPath) ? Path.ChangeExtension(outPath, null) + extension : null;

    /// <summary>
    /// Every file a run writes, with how messages name it: the weights, the checkpoint, the CSV and SVG (with
    /// <paramref name="png"/> the PNG too) next to the weights, and with <paramref name="saveEpochs"/> each epoch's weights.
    /// </summary>
    public static IReadOnlyList<(string Path, string Flag)> OutputFiles(string outPath, TrainingOptions options, bool saveEpochs, bool png = false)
    {
        var files = new List<(string, string)> { (outPath, "--out") };
        if (options.CheckpointPath is { } checkpoint) files.Add((checkpoint, "--checkpoint"));
        if (!SideFilesBeside(outPath))
            return saveEpochs ? throw new ArgumentException($"--save-epochs writes next to --out, and --out {UntrustedText.Quote(outPath)} is not a regular file") : files;
        string stem = Path.ChangeExtension(outPath, null);
        files.Add((stem + ".csv", "--out's log"));
        files.Add((stem + ".svg", "--out's chart"));
        if (png) files.Add((stem + ".png", "--out's PNG chart"));
        if (saveEpochs) files.AddRange(Enumerable.Range(1, options.Epochs).Select(e => (EpochPath(outPath, e), "--save-epochs' file")));
        return files;
    }

    /// <summary>
    /// Checks every output of a run before data or weights are loaded (see <see cref="AtomicFile.OutputProblem"/>): each can
    /// be written, none exists unless <paramref name="overwrite"/> (<paramref name="existsHint"/> says what to do then),
    /// and no two are one file (<c>--checkpoint</c> equal to <c>--out</c>, <c>--out t.ckpt</c> or <c>t.csv</c>).
    /// </summary>
    public static void CheckOutputs(IReadOnlyList<(string Path, string Flag)> files, bool overwrite, string existsHint)
    {
        foreach (var (path, flag) in files)
            if (AtomicFile.OutputProblem(path, flag, overwrite, existsHint) is { } problem) throw new ArgumentException(problem);
        if (AtomicFile.CollisionProblem(files) is { } collision) throw new ArgumentException(collision);
    }

    /// <summary><paramref name="threads"/> when within <see cref="ResourceLimits.MaxThreads"/>, the bound every tool shares.</summary>
    public static int Threads(int threads) => Checked(threads, t => ResourceLimits.ThreadsProblem(t));

    /// <summary>Refuses, before anything is allocated, a run whose buffers would not fit (<see cref="ResourceLimits.MemoryProblem"/>).</summary>
    public static void CheckMemory(TrainingOptions options)
    {
        if (ResourceLimits.MemoryProblem(options.EstimatedBytes, $"--batch {options.Batch} with --group {options.GroupSize} on {options.Threads} threads") is { } problem)
            throw new ArgumentException(problem);
    }

    /// <summary><c>--save-epochs</c>' writer for <see cref="TrainingLogObserver.EpochWeights"/>: epoch N's weights, with the
    /// provenance of the run so far, at <see cref="EpochPath"/>; quiet, since the "done" line is for the final file.</summary>
    public static Action<int> EpochWeightsWriter(TrainingSession session, string outPath, string createdBy, string commandLine,
        string dataName, int trainImages, int testImages) =>
        epoch => SaveWeights(session.Trainer.ExportWeights(), EpochPath(outPath, epoch), createdBy, commandLine, dataName,
            trainImages, testImages, session.Options, session.State, device: null, TextWriter.Null);

    /// <summary>A <c>train</c> command with the shared options, then <paramref name="toolOptions"/>.</summary>
    public Command CreateCommand(string description, params Option[] toolOptions)
    {
        var command = new Command("train", description)
        {
            Data, Arch, Epochs, Batch, LearningRate, Decay, Seed, Limit, TestLimit, Out, Checkpoint, CheckpointEvery, Resume, Shift, Rotate, Scale,
            InitFrom, Routing, ReconstructionWeight,
        };
        if (_efficient) command.Options.Add(LearningRateFloor);
        foreach (var option in toolOptions) command.Options.Add(option);
        return command;
    }

    /// <summary>The weight file to write: <c>--out</c>, or <c>&lt;tool&gt;-&lt;data&gt;.safetensors</c>.</summary>
    public string OutPath(ParseResult parse) => parse.GetValue(Out) ?? $"{_tool}-{SafeName(parse.GetValue(Data)!)}.safetensors";

    /// <summary><c>--limit</c>, checked, or null.</summary>
    public int? LimitValue(ParseResult parse) => parse.GetValue(Limit) is { } l ? Positive(l, "--limit") : null;

    /// <summary>
    /// The run's options from the shared flags (threads, group size and <see cref="TrainingOptions.InitSource"/> are the
    /// tool's to set); the checkpoint defaults to <c>&lt;out&gt;.ckpt</c>.
    /// </summary>
    public TrainingOptions Options(ParseResult parse)
    {
        bool multiMnist = parse.GetValue(Data) == MultiMnistData;
        string arch = parse.GetValue(Arch)!;
        if (arch == EfficientArch) return EfficientOptions(parse, multiMnist);
        if (parse.GetResult(LearningRateFloor) is { Implicit: false })
            throw new ArgumentException($"--lr-floor is for --arch efficient (its decay per epoch stops at a floor); --arch {arch}'s decays continuously, with none");
        if (multiMnist && parse.GetResult(Arch) is { Implicit: false } && arch != "multimnist")
            throw new ArgumentException($"--data multimnist trains the multimnist network (36x36 pairs); --arch {arch} cannot take them");
        return new()
        {
            Architecture = CapsNetArchitecture.Named(multiMnist ? "multimnist" : arch) with
            {
                RoutingIterations = Checked(parse.GetValue(Routing), TrainingOptions.RoutingProblem),
            },
            Data = multiMnist ? TrainingDataKind.MultiMnist : TrainingDataKind.Images,
            // The pairs carry their own shifts: none by default, a given --shift is refused by Validate.
            MaxShift = multiMnist && parse.GetResult(Shift) is not { Implicit: false } ? 0 : parse.GetValue(Shift),
            ReconstructionWeight = Checked(parse.GetValue(ReconstructionWeight), TrainingOptions.ReconstructionWeightProblem),
            Epochs = Positive(parse.GetValue(Epochs), "--epochs"),
            Batch = Positive(parse.GetValue(Batch), "--batch"),
            LearningRate = parse.GetValue(LearningRate), Decay = parse.GetValue(Decay),
            Seed = parse.GetValue(Seed),
            MaxRotationDegrees = Checked(parse.GetValue(Rotate), TrainingOptions.RotationProblem),
            MaxScale = Checked(parse.GetValue(Scale), TrainingOptions.ScaleProblem),
            CheckpointPath = parse.GetValue(Checkpoint) ?? SidePath(OutPath(parse), ".ckpt"),
            CheckpointEverySteps = Positive(parse.GetValue(CheckpointEvery), "--checkpoint-every"),
            TestLimit = parse.GetValue(TestLimit) is { } t ? Positive(t, "--test-limit") : 0,
        };
    }

    /// <summary>Efficient-CapsNet's recipe (Mazzia et al. 2021, the authors' config.json and utils/tools.py): batch 16, Adam
    /// 5e-4 decayed x0.97 once an epoch down to 5e-5, their augmentation; a flag given on the command line wins.</summary>
    public const int EfficientBatch = 16;
    public const double EfficientLearningRate = 5e-4, EfficientDecay = 0.97, EfficientMinLearningRate = 5e-5;

    /// <summary>How an Efficient-CapsNet run's weights start (capsnet-torch's TorchEfficientCapsNet.Initialize), for <c>training.init</c>.</summary>
    public static string EfficientInit(ulong seed) => FormattableString.Invariant(
        $"seed {seed}: Keras he_normal (truncated normal, sd sqrt(2/fan_in)) for the convolutions, W and fc1-fc2, glorot_normal for fc3, Keras glorot_uniform for the depthwise primary conv, zero biases and b, batch norm 1/0/0/1");

    private TrainingOptions EfficientOptions(ParseResult parse, bool multiMnist)
    {
        if (multiMnist) throw new ArgumentException("--arch efficient trains on single images (mnist, fashion or a folder), not MultiMNIST pairs");
        foreach (var flag in new Option[] { Routing, Shift, Rotate, Scale })
            if (parse.GetResult(flag) is { Implicit: false })
                throw new ArgumentException($"{flag.Name} is not for --arch efficient (its routing is one pass, its augmentation the authors')");
        T Given<T>(Option<T> option, T recipe) => parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option)! : recipe;
        double learningRate = Given(LearningRate, EfficientLearningRate);
        // The authors' floor applies to their schedule; a fine-tune from a trained file sets its own (or a constant rate).
        double floor = parse.GetValue(LearningRateFloor) is { } given
            ? (given >= 0 && given <= learningRate ? given : throw new ArgumentException(FormattableString.Invariant($"--lr-floor must be in 0..--lr ({learningRate}), got {given}")))
            : Math.Min(EfficientMinLearningRate, learningRate);
        return new()
        {
            // The loop reads only the input size and classes from the architecture: the paper network's match MNIST's.
            Architecture = CapsNetArchitecture.Paper,
            Data = TrainingDataKind.EfficientImages, MaxShift = 0,
            ReconstructionWeight = Checked(parse.GetValue(ReconstructionWeight), TrainingOptions.ReconstructionWeightProblem),
            Epochs = Positive(parse.GetValue(Epochs), "--epochs"),
            Batch = Positive(Given(Batch, EfficientBatch), "--batch"),
            LearningRate = learningRate, Decay = Given(Decay, EfficientDecay),
            DecayPerEpoch = true, MinLearningRate = floor,
            Seed = parse.GetValue(Seed),
            InitSource = EfficientInit(parse.GetValue(Seed)), // the tool replaces it with InitFromSource when --init-from is given
            GroupSize = 1,
            CheckpointPath = parse.GetValue(Checkpoint) ?? SidePath(OutPath(parse), ".ckpt"),
            CheckpointEverySteps = Positive(parse.GetValue(CheckpointEvery), "--checkpoint-every"),
            TestLimit = parse.GetValue(TestLimit) is { } t ? Positive(t, "--test-limit") : 0,
        };
    }

    /// <summary><paramref name="value"/>, or an <see cref="ArgumentException"/> with <paramref name="problem"/>'s one line.</summary>
    private static T Checked<T>(T value, Func<T, string?> problem) =>
        problem(value) is { } message ? throw new ArgumentException(message) : value;

    public static int Positive(int value, string option) =>
        value >= 1 ? value : throw new ArgumentException($"{option} must be at least 1, got {value}");

    /// <summary>A data set's name as a file-name part: letters and digits, the rest '-'.</summary>
    public static string SafeName(string data) =>
        new string(Path.GetFileName(Path.TrimEndingDirectorySeparator(data)).Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray());

    /// <summary>
    /// Where the run starts: <c>--init-from</c>'s weights (named with their hash in <see cref="TrainingOptions.InitSource"/>),
    /// or <c>--resume</c>'s checkpoint, whose options decide the run's maths (only the length, threads and reporting come
    /// from the command line; it says so on <paramref name="output"/>), or neither.
    /// </summary>
    public static (TrainingOptions Options, TrainingCheckpoint? Checkpoint, CapsNetWeights? Initial) Start(
        TrainingOptions options, bool resume, string? initFrom, bool threadsGiven, TextWriter output)
    {
        TrainingCheckpoint? checkpoint = null;
        CapsNetWeights? initial = null;
        if (initFrom is not null)
        {
            CheckInitFrom(resume);
            initial = CapsNetWeightsFile.Load(initFrom);
            if (initial.Architecture != options.Architecture)
                throw new ArgumentException($"{initFrom} holds {initial.Architecture}; --arch and --routing give {options.Architecture}");
            options = options with { InitSource = InitFromSource(initFrom) };
        }
        if (resume)
        {
            string path = options.CheckpointPath ?? throw new ArgumentException("--resume needs a checkpoint, and --out is not a regular file to keep one beside: pass --checkpoint <file>");
            if (!File.Exists(path)) throw new ArgumentException($"{path}: no checkpoint to resume from (pass --checkpoint <file>)");
            checkpoint = TrainingCheckpoint.Load(path);
            var saved = checkpoint.Options;
            if (saved.Data != options.Data)
                throw new ArgumentException(saved.Data == TrainingDataKind.MultiMnist
                    ? $"{path} was trained on MultiMNIST pairs: resume it with --data {MultiMnistData}"
                    : $"{path} was trained on single images, not MultiMNIST pairs: resume it with its --data");
            // The loss and the network are the run's maths: a different one given now would silently not be the run resumed.
            if (saved.Architecture.RoutingIterations != options.Architecture.RoutingIterations)
                throw new ArgumentException($"--routing {options.Architecture.RoutingIterations} differs from the checkpoint's {saved.Architecture.RoutingIterations}: resume with --routing {saved.Architecture.RoutingIterations}");
            if (saved.ReconstructionWeight != options.ReconstructionWeight)
                throw new ArgumentException(FormattableString.Invariant(
                    $"--reconstruction-weight {options.ReconstructionWeight} differs from the checkpoint's {saved.ReconstructionWeight}: resume with --reconstruction-weight {saved.ReconstructionWeight}"));
            options = Resumed(options, saved, checkpoint.State, path, threadsGiven, output);
        }
        return (options, checkpoint, initial);
    }

    /// <summary><c>--init-from</c> with <c>--resume</c> is an error in every tool and network.</summary>
    public static void CheckInitFrom(bool resume)
    {
        if (resume) throw new ArgumentException("--init-from and --resume exclude each other: a checkpoint already holds the weights");
    }

    /// <summary><see cref="TrainingOptions.InitSource"/> of a run started from the weight file at <paramref name="path"/>: its name and SHA-256.</summary>
    public static string InitFromSource(string path) => $"from {Path.GetFileName(path)} (sha256 {FileHash.Sha256(path)})";

    /// <summary>
    /// A resumed run's options: the checkpoint's (<paramref name="saved"/>, the run's maths), with only the length,
    /// threads (when given) and reporting from the command line; says so on <paramref name="output"/>.
    /// </summary>
    public static TrainingOptions Resumed(TrainingOptions options, TrainingOptions saved, TrainingState state, string path, bool threadsGiven, TextWriter output)
    {
        if (options.Epochs < state.Epoch)
            throw new ArgumentException($"--epochs {options.Epochs} is less than the {state.Epoch} epochs the checkpoint has done");
        output.WriteLine(FormattableString.Invariant(
            $"resuming {path}: epoch {state.Epoch + 1}, image {state.Position}, step {state.Step} (batch {saved.Batch}, lr {saved.LearningRate}, decay {saved.Decay}, seed {saved.Seed}{(saved.Affine ? $", rotate {saved.MaxRotationDegrees}, scale {saved.MaxScale}" : "")} from the checkpoint)"));
        return saved with
        {
            Epochs = options.Epochs, Threads = threadsGiven ? options.Threads : saved.Threads,
            CheckpointPath = options.CheckpointPath, CheckpointEverySteps = options.CheckpointEverySteps, TestLimit = options.TestLimit,
        };
    }

    /// <summary><c>--data</c>'s name for MultiMNIST training (<see cref="TrainingDataKind.MultiMnist"/>).</summary>
    public const string MultiMnistData = "multimnist";

    /// <summary>
    /// The images of a <c>--data</c> split as the run loads them: MultiMNIST's pairs are drawn from MNIST's digits (the
    /// training split's for training, the test split's for the fixed test pairs), everything else is the named set.
    /// </summary>
    public static LabeledImages Load(string data, DatasetSplit split, string dataRoot) =>
        DatasetStore.Load(data == MultiMnistData ? "mnist" : data, split, dataRoot);

    /// <summary>The first <paramref name="limit"/> training images (all when null or larger than the set).</summary>
    public static LabeledImages Take(LabeledImages set, int? limit) =>
        limit is { } count && count < set.Count
            ? new(count, set.Rows, set.Cols, set.Pixels.AsSpan(0, count * set.ImageLength).ToArray(), set.Labels.AsSpan(0, count).ToArray())
            : set;

    /// <summary>Test images evaluated after each epoch: the test limit, or the whole set.</summary>
    public static int TestImages(TrainingOptions options, LabeledImages test) =>
        options.TestLimit > 0 ? Math.Min(options.TestLimit, test.Count) : test.Count;

    /// <summary>How the training images are varied, e.g. "shifted up to 2 px", "rotated up to 12°, scaled ±0.1, shifted up to 2 px"
    /// or, for MultiMNIST, how the pairs are made.</summary>
    public static string Augmentation(TrainingOptions options) => options.Data switch
    {
        TrainingDataKind.MultiMnist => FormattableString.Invariant($"MultiMNIST pairs drawn afresh each epoch, each digit shifted up to {MultiMnistPairs.MaxShift} px"),
        TrainingDataKind.EfficientImages => "Efficient-CapsNet's: rotated 30°·N(0,0.33) with p 0.5, shifted into the margins, squished (Lanczos-3), 4x4 erased",
        _ => FormattableString.Invariant(
            $"{(options.MaxRotationDegrees > 0 ? $"rotated up to {options.MaxRotationDegrees}°, " : "")}{(options.MaxScale > 0 ? $"scaled ±{options.MaxScale}, " : "")}shifted up to {options.MaxShift} px"),
    };

    /// <summary>The "data" and "train" lines of the run's header.</summary>
    public static void WriteSettings(TextWriter output, string dataName, LabeledImages train, LabeledImages test, TrainingOptions options)
    {
        output.WriteLine(options.Data == TrainingDataKind.MultiMnist
            ? $"data     {dataName}: {train.Count:N0} pairs an epoch from {train.Count:N0} training digits ({Augmentation(options)}), {TestImages(options, test):N0} fixed test pairs (seed {TrainingSamples.MultiMnistTestSeed:x})"
            : $"data     {dataName}: {train.Count:N0} training images ({Augmentation(options)}), {TestImages(options, test):N0} test images");
        output.WriteLine(FormattableString.Invariant(
            $"train    {options.Epochs} epochs, batch {options.Batch}, Adam lr {options.LearningRate} x {options.Decay} per {(options.DecayPerEpoch ? $"epoch (down to {options.MinLearningRate})" : $"{options.Schedule.PeriodSteps(options.Batch):F0} steps")}, {options.Threads} threads, seed {options.Seed}, reconstruction weight {options.ReconstructionWeight}"));
    }

    /// <summary>
    /// Runs <paramref name="run"/> with Ctrl+C (SIGINT) and SIGTERM turned into its cancellation: the session checkpoints
    /// and returns, so `kill`, systemd or `docker stop` stop a run without losing its steps since the last checkpoint (a
    /// job started with `&amp;` from a script has SIGINT ignored; SIGTERM still reaches it). A second signal ends the process.
    /// </summary>
    /// <param name="run">The session's run.</param>
    /// <param name="signal">Which signal cancelled the run (null: none), for <see cref="Interrupted"/>'s exit code.</param>
    public static TrainingOutcome RunUntilCancelled(Func<CancellationToken, TrainingOutcome> run, out PosixSignal? signal)
    {
        using var cancel = new CancellationTokenSource();
        PosixSignal? received = null;
        void OnSignal(PosixSignalContext context)
        {
            lock (cancel)
            {
                if (cancel.IsCancellationRequested) return; // the second signal: let it end the process
                context.Cancel = true;
                received = context.Signal;
                cancel.Cancel();
            }
        }
        // AtomicFile's cleanup first, so that its handler runs after ours (see EnsureSignalCleanup).
        AtomicFile.EnsureSignalCleanup();
        var registrations = new List<PosixSignalRegistration>();
        try
        {
            foreach (var which in (ReadOnlySpan<PosixSignal>)[PosixSignal.SIGINT, PosixSignal.SIGTERM])
                registrations.Add(PosixSignalRegistration.Create(which, OnSignal));
        }
        catch (PlatformNotSupportedException)
        {
        }
        try
        {
            return run(cancel.Token);
        }
        finally
        {
            foreach (var registration in registrations) registration.Dispose();
            lock (cancel) signal = received;
        }
    }

    /// <summary>The "interrupted" line; returns the exit code 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).</summary>
    public static int Interrupted(TextWriter output, TrainingState state, TrainingOptions options, PosixSignal? signal)
    {
        output.WriteLine(options.CheckpointPath is null ? $"interrupted at step {state.Step}; no checkpoint (none was asked for: --checkpoint <file> keeps one)."
            : $"interrupted at step {state.Step}; checkpoint {options.CheckpointPath} written. Continue with the same command and --resume.");
        return signal == PosixSignal.SIGTERM ? 143 : 130;
    }

    /// <summary>
    /// Stamps the final weights with the run's provenance (<c>capsnet.created_by</c>, <c>training.*</c>), writes them and
    /// the "done" line. <paramref name="device"/>: the libtorch device, for the TorchSharp tool; null leaves the key out.
    /// </summary>
    public static void SaveWeights(CapsNetWeights weights, string outPath, string createdBy, string commandLine, string dataName,
        int trainImages, int testImages, TrainingOptions options, TrainingState state, string? device, TextWriter output)
    {
        double testError = Provenance(weights.Metadata, createdBy, commandLine, dataName, trainImages, testImages, options, state, device);
        // Fashion-MNIST's labels are garments: name them (Xiao et al. 2017's order); other data sets stay numbered.
        if (dataName == "fashion" && weights.Architecture.Classes == CapsNetClassNames.FashionMnist.Count)
            weights.Metadata[CapsNetClassNames.MetadataKey] = CapsNetClassNames.Encode(CapsNetClassNames.FashionMnist);
        CapsNetWeightsFile.Save(weights, outPath);
        output.WriteLine(DoneLine(state, testError, outPath));
    }

    /// <summary>The "done" line of a finished run.</summary>
    public static string DoneLine(TrainingState state, double testError, string outPath) => UntrustedText.Line(FormattableString.Invariant(
        $"done: {state.Epoch} epochs, {state.Step} steps, {state.WallSeconds:F0} s, test error {100 * testError:F2}%; wrote {outPath}"));

    /// <summary>
    /// A run's provenance as weight-file metadata (<c>capsnet.created_by</c>, <c>training.*</c>), for every family's file;
    /// returns the last epoch's test error.
    /// </summary>
    public static double Provenance(IDictionary<string, string> metadata, string createdBy, string commandLine, string dataName,
        int trainImages, int testImages, TrainingOptions options, TrainingState state, string? device)
    {
        var history = state.History;
        double testError = history.Count > 0 ? history[^1].TestError : double.NaN;
        var inv = CultureInfo.InvariantCulture;
        metadata["capsnet.created_by"] = createdBy;
        metadata["training.command"] = commandLine;
        metadata["training.data"] = dataName;
        metadata["training.train_images"] = trainImages.ToString(inv);
        metadata["training.seed"] = options.Seed.ToString(inv);
        metadata["training.epochs"] = state.Epoch.ToString(inv);
        metadata["training.steps"] = state.Step.ToString(inv);
        metadata["training.batch"] = options.Batch.ToString(inv);
        metadata["training.lr"] = options.LearningRate.ToString("R", inv);
        metadata["training.decay"] = options.Decay.ToString("R", inv);
        if (options.DecayPerEpoch) metadata["training.decay_per"] = FormattableString.Invariant($"epoch, down to {options.MinLearningRate:R}");
        metadata["training.reconstruction_weight"] = options.ReconstructionWeight.ToString("R", inv);
        metadata["training.threads"] = options.Threads.ToString(inv);
        if (options.Affine || options.Data != TrainingDataKind.Images) metadata["training.augmentation"] = Augmentation(options);
        if (device is not null) metadata["training.device"] = device;
        metadata["training.wall_seconds"] = state.WallSeconds.ToString("F1", inv);
        metadata["training.test_error"] = testError.ToString("R", inv);
        metadata["training.test_images"] = testImages.ToString(inv);
        metadata["training.date"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", inv);
        metadata["training.init"] = options.InitDescription;
        return testError;
    }

    /// <summary>The ETA as "1h05m" or "4m09s".</summary>
    public static string Eta(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : $"{t.Minutes}m{t.Seconds:00}s";

    /// <summary>An epoch's summary line, as both tools print it.</summary>
    public static string EpochLine(in EpochMetrics m) => FormattableString.Invariant(
        $"epoch {m.Epoch}: train loss {m.TrainLoss:F4}, train accuracy {100 * m.TrainAccuracy:F2}%, test error {100 * m.TestError:F2}%, lr {m.LearningRate:G3}, {m.Seconds:F0} s");
}
