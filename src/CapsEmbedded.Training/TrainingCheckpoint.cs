using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using CapsEmbedded.IO;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Training;

/// <summary>Where a run stands: enough, with the parameters and Adam's moments, to continue it bit for bit.</summary>
public sealed record TrainingState
{
    public int Epoch { get; init; }
    /// <summary>Images of the current epoch's shuffled order already trained on.</summary>
    public int Position { get; init; }
    public long Step { get; init; }
    /// <summary>State of the augmentation generator (<see cref="DeterministicRandom.GetState"/>).</summary>
    public (ulong, ulong, ulong, ulong) Random { get; init; }
    public double EpochLossSum { get; init; }
    public int EpochCorrect { get; init; }
    public double EpochSeconds { get; init; }
    /// <summary>Seconds spent training over all sessions of this run.</summary>
    public double WallSeconds { get; init; }
    public IReadOnlyList<EpochMetrics> History { get; init; } = Array.Empty<EpochMetrics>();
}

/// <summary>
/// A training checkpoint: a safetensors file with the 11 model tensors (PyTorch layout, so it is also a weight file for
/// any safetensors reader), Adam's moments as <c>adam.m.NAME</c> and <c>adam.v.NAME</c>, the architecture as
/// <c>capsnet.*</c> metadata and the run's options and state as <c>trainer.*</c> metadata. Written atomically
/// (temporary file, flush to disk, rename), so an interrupt leaves the previous checkpoint or the new one.
/// </summary>
public sealed class TrainingCheckpoint
{
    public const string FormatVersion = "1";
    private const string Prefix = "trainer.";

    public required TrainingOptions Options { get; init; }
    public required int TrainImages { get; init; }
    public required TrainingState State { get; init; }
    /// <summary>Flat vectors in training layout (<see cref="ParameterLayout"/>).</summary>
    public required float[] Parameters { get; init; }
    public required float[] FirstMoment { get; init; }
    public required float[] SecondMoment { get; init; }

    public CapsNetArchitecture Architecture => Options.Architecture;

    private static string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);
    private static string F(long x) => x.ToString(CultureInfo.InvariantCulture);

    public void Save(string path)
    {
        var layout = new ParameterLayout(Architecture);
        var tensors = new List<(string Name, string DType, IReadOnlyList<long> Shape, byte[] Data)>();
        var pyTorch = new float[Architecture.Tensors.Max(t => (int)t.ElementCount)];
        foreach (var (prefix, source) in new[] { ("", Parameters), ("adam.m.", FirstMoment), ("adam.v.", SecondMoment) })
            foreach (var spec in Architecture.Tensors)
            {
                var segment = layout[spec.Name];
                var buffer = pyTorch.AsSpan(0, segment.Length);
                layout.ToPyTorch<float>(spec.Name, source.AsSpan(segment.Offset, segment.Length), buffer);
                var bytes = new byte[segment.Length * 4];
                for (int k = 0; k < buffer.Length; k++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * k), buffer[k]);
                tensors.Add((prefix + spec.Name, SafeTensorsDType.F32, spec.Shape.Select(d => (long)d).ToArray(), bytes));
            }
        var metadata = Architecture.ToMetadata();
        WriteRun(metadata, Options, TrainImages, State);
        AtomicFile.Write(path, SafeTensorsWriter.Serialize(tensors, metadata));
    }

    /// <summary>
    /// The run's options and state as <c>trainer.*</c> metadata: everything but the tensors and the architecture, shared by
    /// every checkpoint format (<see cref="ReadRun"/> reads it back).
    /// </summary>
    public static void WriteRun(IDictionary<string, string> metadata, TrainingOptions o, int trainImages, TrainingState s)
    {
        metadata[Prefix + "format"] = FormatVersion;
        metadata[Prefix + "batch"] = F(o.Batch);
        metadata[Prefix + "lr"] = F(o.LearningRate);
        metadata[Prefix + "decay"] = F(o.Decay);
        metadata[Prefix + "seed"] = o.Seed.ToString(CultureInfo.InvariantCulture);
        metadata[Prefix + "data"] = TrainingSamples.Name(o.Data);
        metadata[Prefix + "max_shift"] = F(o.MaxShift);
        metadata[Prefix + "max_rotation"] = F(o.MaxRotationDegrees);
        metadata[Prefix + "max_scale"] = F(o.MaxScale);
        metadata[Prefix + "digit_sigma"] = F(o.DigitSigma);
        metadata[Prefix + "reconstruction_weight"] = F(o.ReconstructionWeight);
        metadata[Prefix + "threads"] = F(o.Threads);
        metadata[Prefix + "group"] = F(o.GroupSize);
        metadata[Prefix + "epochs"] = F(o.Epochs);
        if (o.DecayPerEpoch) metadata[Prefix + "decay_per_epoch"] = "true";
        if (o.MinLearningRate > 0) metadata[Prefix + "min_lr"] = F(o.MinLearningRate);
        if (o.InitSource is { } init) metadata[Prefix + "init"] = init;
        metadata[Prefix + "train_images"] = F(trainImages);
        metadata[Prefix + "epoch"] = F(s.Epoch);
        metadata[Prefix + "position"] = F(s.Position);
        metadata[Prefix + "step"] = F(s.Step);
        var (r0, r1, r2, r3) = s.Random;
        metadata[Prefix + "rng"] = string.Join(",", new[] { r0, r1, r2, r3 }.Select(x => x.ToString("x16", CultureInfo.InvariantCulture)));
        metadata[Prefix + "epoch_loss_sum"] = F(s.EpochLossSum);
        metadata[Prefix + "epoch_correct"] = F(s.EpochCorrect);
        metadata[Prefix + "epoch_seconds"] = F(s.EpochSeconds);
        metadata[Prefix + "wall_seconds"] = F(s.WallSeconds);
        metadata[Prefix + "history"] = string.Join(";", s.History.Select(h =>
            string.Join(",", F(h.Epoch), F(h.TrainLoss), F(h.TrainAccuracy), F(h.TestError), F(h.LearningRate), F(h.Seconds))));
    }

    /// <summary>Whether a safetensors header's metadata marks a training checkpoint (not a weight file).</summary>
    public static bool IsCheckpoint(IReadOnlyDictionary<string, string> metadata) => metadata.ContainsKey(Prefix + "format");

    /// <summary>
    /// The checkpoint's parameters as a weight file's weights (Adam's moments dropped), for a run stopped mid-epoch:
    /// <c>training.checkpoint</c> says where in the run they were taken.
    /// </summary>
    public CapsNetWeights ToWeights()
    {
        var weights = new ParameterLayout(Architecture).ToWeights<float>(Parameters);
        var s = State;
        var inv = CultureInfo.InvariantCulture;
        weights.Metadata["training.data"] = TrainingSamples.Name(Options.Data);
        weights.Metadata["training.init"] = Options.InitDescription;
        weights.Metadata["training.steps"] = s.Step.ToString(inv);
        weights.Metadata["training.wall_seconds"] = s.WallSeconds.ToString("F1", inv);
        weights.Metadata["training.checkpoint"] = string.Create(CultureInfo.InvariantCulture,
            $"step {s.Step} ({s.Epoch} of {Options.Epochs} epochs done, {s.Position:N0} of {TrainImages:N0} samples into the next), batch {Options.Batch}, "
            + $"lr {Options.LearningRate:R} x {Options.Decay:R}, seed {Options.Seed}");
        return weights;
    }

    /// <summary>Reads and validates a checkpoint; every problem is a <see cref="WeightFormatException"/> naming the file.</summary>
    public static TrainingCheckpoint Load(string path)
    {
        byte[] file;
        using (var stream = InputFile.OpenRead(path, Array.MaxLength, "checkpoint"))
        {
            // The header alone says whether this is a checkpoint at all, before ~100 MB are read.
            if (!SafeTensorsFile.ReadHeader(stream, path).Header.Metadata.ContainsKey(Prefix + "format"))
                throw new WeightFormatException(path, null, $"metadata {Prefix}format is missing: not a capsnet training checkpoint");
            file = new byte[stream.Length];
            stream.Position = 0;
            stream.ReadExactly(file);
        }
        return Read(file, path);
    }

    /// <summary>Validates a checkpoint held in memory; for any bytes, returns one or throws <see cref="WeightFormatException"/>.</summary>
    public static TrainingCheckpoint Read(byte[] file, string path)
    {
        var parsed = SafeTensorsFile.Parse(file, path);
        var header = parsed.Header;
        var meta = header.Metadata;
        string Get(string key) => meta.TryGetValue(Prefix + key, out var v) ? v
            : throw new WeightFormatException(path, null, $"metadata {Prefix}{key} is missing: not a capsnet training checkpoint");
        if (Get("format") != FormatVersion)
            throw new WeightFormatException(path, null, $"checkpoint format \"{UntrustedText.Quote(Get("format"))}\" is not the supported {FormatVersion}");
        // Another family's checkpoint (capsnet-torch --arch efficient) would otherwise read as the paper network's defaults.
        if (meta.TryGetValue("capsnet.family", out var family))
            throw new WeightFormatException(path, null, $"metadata capsnet.family = \"{UntrustedText.Quote(family)}\": not a paper-CapsNet checkpoint (an Efficient-CapsNet one resumes with capsnet-torch train --arch efficient --resume)");
        var architecture = CapsNetArchitecture.FromMetadata(meta, out string? archError)
            ?? throw new WeightFormatException(path, null, $"architecture metadata: {archError}");
        var layout = new ParameterLayout(architecture);
        float[] Read(string prefix)
        {
            var flat = new float[layout.Count];
            foreach (var spec in architecture.Tensors)
            {
                string name = prefix + spec.Name;
                var entry = header.Find(name) ?? throw new WeightFormatException(path, name, "missing");
                if (entry.DType != SafeTensorsDType.F32) throw new WeightFormatException(path, name, $"dtype {entry.DType}, expected F32");
                if (!entry.Shape.SequenceEqual(spec.Shape.Select(d => (long)d)))
                    throw new WeightFormatException(path, name, $"shape [{string.Join(",", entry.Shape)}], expected {spec.ShapeText}");
                var bytes = parsed.GetBytes(file, entry);
                var values = new float[spec.ElementCount];
                for (int k = 0; k < values.Length; k++) values[k] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(4 * k));
                if (CapsNetWeights.IndexOfNonFinite(values) is var bad and >= 0)
                    throw new WeightFormatException(path, name, $"value {bad} is {values[bad].ToString(CultureInfo.InvariantCulture)}; a checkpoint holds finite numbers only");
                var segment = layout[spec.Name];
                layout.FromPyTorch<float>(spec.Name, values, flat.AsSpan(segment.Offset, segment.Length));
            }
            return flat;
        }
        int expectedTensors = 3 * architecture.Tensors.Count;
        if (header.Entries.Count != expectedTensors)
            throw new WeightFormatException(path, null, $"{header.Entries.Count} tensors, a checkpoint has {expectedTensors}");
        var (options, state, trainImages) = ReadRun(meta, path, architecture);
        return new TrainingCheckpoint
        {
            Options = options, TrainImages = trainImages, State = state,
            Parameters = Read(""), FirstMoment = Read("adam.m."), SecondMoment = Read("adam.v."),
        };
    }

    /// <summary>
    /// The run's options and state from <see cref="WriteRun"/>'s metadata, validated (a problem is a
    /// <see cref="WeightFormatException"/> naming <paramref name="path"/>); the options' architecture is <paramref name="architecture"/>.
    /// </summary>
    public static (TrainingOptions Options, TrainingState State, int TrainImages) ReadRun(IReadOnlyDictionary<string, string> meta, string path,
        CapsNetArchitecture architecture)
    {
        string Get(string key) => meta.TryGetValue(Prefix + key, out var v) ? v
            : throw new WeightFormatException(path, null, $"metadata {Prefix}{key} is missing: not a capsnet training checkpoint");
        T Parse<T>(string key) where T : ISpanParsable<T> => T.TryParse(Get(key), CultureInfo.InvariantCulture, out var value) ? value
            : throw new WeightFormatException(path, null, $"metadata {Prefix}{key} = \"{UntrustedText.Quote(Get(key))}\" is not a valid {typeof(T).Name}");
        if (Get("format") != FormatVersion)
            throw new WeightFormatException(path, null, $"checkpoint format \"{UntrustedText.Quote(Get("format"))}\" is not the supported {FormatVersion}");
        var rngParts = Get("rng").Split(',');
        var rng = new ulong[4];
        if (rngParts.Length != 4 || !rngParts.Select((p, k) => ulong.TryParse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out rng[k])).All(ok => ok)
            || rng.All(x => x == 0))
            throw new WeightFormatException(path, null, $"metadata {Prefix}rng = \"{UntrustedText.Quote(Get("rng"))}\" is not four non-zero hex words");
        var history = new List<EpochMetrics>();
        foreach (var line in Get("history").Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(',');
            var d = new double[6];
            if (f.Length != 6 || !f.Select((x, k) => double.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out d[k])).All(ok => ok))
                throw new WeightFormatException(path, null, $"metadata {Prefix}history entry \"{UntrustedText.Quote(line)}\" is not six numbers");
            // Range-checked, not only parsed: an accuracy of 10^9 made the resumed run's chart draw for ever.
            if (!(d[0] == Math.Floor(d[0]) && d[0] > (history.Count > 0 ? history[^1].Epoch : 0) && d[0] <= int.MaxValue) || !(d[1] >= 0 && double.IsFinite(d[1]))
                || !(d[2] is >= 0 and <= 1) || !(d[3] is >= 0 and <= 1 || double.IsNaN(d[3])) || !(d[4] >= 0 && double.IsFinite(d[4]))
                || !(d[5] >= 0 && double.IsFinite(d[5])))
                throw new WeightFormatException(path, null,
                    $"metadata {Prefix}history entry \"{UntrustedText.Quote(line)}\" is out of range (epoch after the previous one, loss >= 0, accuracy and error in 0..1, rate and seconds >= 0)");
            history.Add(new EpochMetrics((int)d[0], d[1], d[2], d[3], d[4], d[5]));
        }
        var options = new TrainingOptions
        {
            Architecture = architecture,
            Batch = Parse<int>("batch"), LearningRate = Parse<double>("lr"), Decay = Parse<double>("decay"),
            Seed = Parse<ulong>("seed"), MaxShift = Parse<int>("max_shift"), DigitSigma = Parse<double>("digit_sigma"),
            Threads = Parse<int>("threads"), GroupSize = Parse<int>("group"), Epochs = Parse<int>("epochs"),
            InitSource = meta.TryGetValue(Prefix + "init", out var init) ? init : null, // absent: the seeded initialisation
            // Absent in checkpoints written before --reconstruction-weight existed: those runs used the paper's weight.
            ReconstructionWeight = meta.ContainsKey(Prefix + "reconstruction_weight") ? Parse<double>("reconstruction_weight") : TrainingOptions.PaperReconstructionWeight,
            // Absent in checkpoints written before --rotate and --scale existed: those runs only shifted.
            MaxRotationDegrees = meta.ContainsKey(Prefix + "max_rotation") ? Parse<double>("max_rotation") : 0,
            MaxScale = meta.ContainsKey(Prefix + "max_scale") ? Parse<double>("max_scale") : 0,
            // Absent in checkpoints of a continuous schedule (all before --arch efficient).
            DecayPerEpoch = meta.TryGetValue(Prefix + "decay_per_epoch", out var perEpoch) && (perEpoch == "true" ? true
                : throw new WeightFormatException(path, null, $"metadata {Prefix}decay_per_epoch = \"{UntrustedText.Quote(perEpoch)}\" is not true")),
            MinLearningRate = meta.ContainsKey(Prefix + "min_lr") ? Parse<double>("min_lr") : 0,
            // Absent in checkpoints written before MultiMNIST: those trained on single images.
            Data = !meta.TryGetValue(Prefix + "data", out var data) ? TrainingDataKind.Images
                : TrainingSamples.Kind(data) ?? throw new WeightFormatException(path, null, $"metadata {Prefix}data = \"{UntrustedText.Quote(data)}\" is not one of images, multimnist, images-efficient"),
        };
        if (options.Validate() is { } problem) throw new WeightFormatException(path, null, $"training options: {problem}");
        var state = new TrainingState
        {
            Epoch = Parse<int>("epoch"), Position = Parse<int>("position"), Step = Parse<long>("step"),
            Random = (rng[0], rng[1], rng[2], rng[3]),
            EpochLossSum = Parse<double>("epoch_loss_sum"), EpochCorrect = Parse<int>("epoch_correct"),
            EpochSeconds = Parse<double>("epoch_seconds"), WallSeconds = Parse<double>("wall_seconds"), History = history,
        };
        int trainImages = Parse<int>("train_images");
        if (trainImages < 1 || state.Epoch < 0 || state.Position < 0 || state.Position > trainImages || state.Step < 0)
            throw new WeightFormatException(path, null, $"state epoch {state.Epoch}, position {state.Position}, step {state.Step} is impossible for {trainImages} images");
        if (history.Count > 0 && history[^1].Epoch > state.Epoch)
            throw new WeightFormatException(path, null, $"metadata {Prefix}history reaches epoch {history[^1].Epoch}, but the checkpoint has done {state.Epoch}");
        if (state.EpochCorrect < 0 || state.EpochCorrect > state.Position)
            throw new WeightFormatException(path, null, $"metadata {Prefix}epoch_correct = {state.EpochCorrect} is impossible after {state.Position} images of the epoch");
        foreach (var (key, value) in new[] { ("epoch_loss_sum", state.EpochLossSum), ("epoch_seconds", state.EpochSeconds), ("wall_seconds", state.WallSeconds) })
            if (!(value >= 0 && double.IsFinite(value)))
                throw new WeightFormatException(path, null, $"metadata {Prefix}{key} = {value.ToString(CultureInfo.InvariantCulture)} is not a finite number >= 0");
        // A run takes ceil(images / batch) steps per epoch: a larger step is forged, and would resume at a decayed-to-zero rate.
        long stepsPerEpoch = (trainImages + (long)options.Batch - 1) / options.Batch;
        if (state.Step > (state.Epoch + 1L) * stepsPerEpoch)
            throw new WeightFormatException(path, null,
                $"step {state.Step} is impossible after {state.Epoch} epochs of {trainImages} images in batches of {options.Batch} (at most {(state.Epoch + 1L) * stepsPerEpoch})");
        double rate = options.Schedule.At(state.Step, options.Batch, state.Epoch);
        if (!(rate >= 1e-12) || double.IsInfinity(rate)) // below 1e-12 Adam's steps vanish in float rounding
            throw new WeightFormatException(path, null, $"learning rate at step {state.Step} is {rate.ToString(CultureInfo.InvariantCulture)}; nothing would be learned");
        return (options, state, trainImages);
    }
}
