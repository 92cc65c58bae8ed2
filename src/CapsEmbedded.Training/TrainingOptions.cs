namespace CapsEmbedded.Training;

/// <summary>Everything that decides a training run. Defaults are the paper's (§4, §5) where it says.</summary>
public sealed record TrainingOptions
{
    /// <summary>The paper's reconstruction-loss weight (§4.1: 0.0005 × Σ (r − x)², so that it does not dominate the margin loss).</summary>
    public const double PaperReconstructionWeight = 0.0005;
    /// <summary>Most routing iterations <c>--routing</c> accepts (the paper tries 1 and 3; more only costs time).</summary>
    public const int MaxRoutingIterations = 10;

    /// <summary>The network trained. A run of another family (<see cref="TrainingDataKind.EfficientImages"/>, capsnet-torch's
    /// Efficient-CapsNet) keeps the paper network here: the loop reads only its input size and classes, which match.</summary>
    public CapsNetArchitecture Architecture { get; init; } = CapsNetArchitecture.Paper;
    /// <summary>What the samples are: single images (augmented by the shift, rotate and scale below) or MultiMNIST pairs,
    /// which carry their own shifts (±4 px, paper §6) and take none of those three.</summary>
    public TrainingDataKind Data { get; init; } = TrainingDataKind.Images;
    /// <summary>True classes per sample: 1, or MultiMNIST's 2.</summary>
    public int Targets => Data == TrainingDataKind.MultiMnist ? 2 : 1;
    public int Epochs { get; init; } = 1;
    public int Batch { get; init; } = 100;
    /// <summary>Adam's initial learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Exponential decay factor per 2000 steps of batch 128, or per epoch with <see cref="DecayPerEpoch"/> (see <see cref="LearningRateSchedule"/>).</summary>
    public double Decay { get; init; } = 0.96;
    /// <summary>Decay once an epoch (the Efficient-CapsNet recipe) instead of continuously per 256,000 images.</summary>
    public bool DecayPerEpoch { get; init; }
    /// <summary>Lowest learning rate of a per-epoch schedule (the Efficient-CapsNet authors' 5e-5; 0: none).</summary>
    public double MinLearningRate { get; init; }
    public int Threads { get; init; } = Math.Max(1, Environment.ProcessorCount);
    public ulong Seed { get; init; } = 1;
    /// <summary>Largest random shift in pixels (the paper: 2); 0 turns augmentation off.</summary>
    public int MaxShift { get; init; } = 2;
    /// <summary>Largest random rotation in degrees, either way (not in the paper; 0: none, see <see cref="RandomAffine"/>).</summary>
    public double MaxRotationDegrees { get; init; }
    /// <summary>Largest random change of size, as a fraction: scales uniform in [1 − s, 1 + s] (not in the paper; 0: none).</summary>
    public double MaxScale { get; init; }
    /// <summary>Whether the images are also rotated or scaled (<see cref="RandomAffine"/>), not only shifted.</summary>
    public bool Affine => MaxRotationDegrees > 0 || MaxScale > 0;
    /// <summary>Most <c>--rotate</c> accepts, in degrees: more turns a 6 into a 9.</summary>
    public const double MaxRotationLimit = 45;
    /// <summary>Most <c>--scale</c> accepts: beyond it a digit shrinks to a few pixels or leaves the image.</summary>
    public const double MaxScaleLimit = 0.5;
    /// <summary>σ of the normal initialisation of W_ij.</summary>
    public double DigitSigma { get; init; } = TrainingInit.DefaultDigitSigma;
    /// <summary>Weight of the reconstruction loss (0: none, the decoder gets no gradient and keeps its initial values).</summary>
    public double ReconstructionWeight { get; init; } = PaperReconstructionWeight;
    /// <summary>Images per GEMM in a worker (rows = group × positions); memory grows with it (8: ~60 MB a thread for the paper net).</summary>
    public int GroupSize { get; init; } = 8;
    /// <summary>
    /// Where the starting weights came from, one line (null: the seeded initialisation, <see cref="TrainingInit.Describe"/>).
    /// Saved in checkpoints so a resumed run still names it in its final weights.
    /// </summary>
    public string? InitSource { get; init; }
    /// <summary>Where checkpoints go (null: none).</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>Write a checkpoint every this many steps, and at the end of every epoch.</summary>
    public int CheckpointEverySteps { get; init; } = 200;
    /// <summary>Test images evaluated after each epoch (0: all).</summary>
    public int TestLimit { get; init; }

    public LearningRateSchedule Schedule => new(LearningRate, Decay, PerEpoch: DecayPerEpoch, Minimum: MinLearningRate);

    /// <summary>How this run's weights started, for the <c>training.init</c> metadata of its output.</summary>
    public string InitDescription => InitSource ?? TrainingInit.Describe(Seed, DigitSigma);

    /// <summary>
    /// Bytes the run's buffers take: the batch's images plus each thread's worker, whose activations and gradients grow
    /// with the group (the per-image arrays of <see cref="CapsNetWorker{T}"/>), plus parameters, gradients and Adam.
    /// </summary>
    public double EstimatedBytes
    {
        get
        {
            var a = Architecture;
            double p1 = a.Conv1OutSize * (double)a.Conv1OutSize, p2 = a.PrimaryGridSize * (double)a.PrimaryGridSize;
            double k1 = a.InputChannels * a.Conv1Kernel * (double)a.Conv1Kernel, k2 = a.PrimaryKernel * a.PrimaryKernel * (double)a.Conv1Channels;
            double n = a.PrimaryCapsules, j = a.Classes, d = a.ClassDims;
            double perImage = p1 * k1 + 2 * p1 * a.Conv1Channels + p2 * k2 + 2 * p2 * a.PrimaryChannels + 3 * n * a.PrimaryDims
                + 2 * n * j * d + a.RoutingIterations * (n * j + 2 * j * d) + j * d + Targets * (2 * j * d + 2.0 * (a.DecoderHidden1 + a.DecoderHidden2 + a.DecoderOutput));
            double parameters = a.ParameterCount;
            return 4 * ((double)Batch * a.InputLength * (1 + (Data == TrainingDataKind.MultiMnist ? Targets : 0))
                + (double)Threads * (GroupSize * perImage + parameters) + 4 * parameters);
        }
    }

    /// <summary>Null when usable, else what is wrong, in one line.</summary>
    public string? Validate()
    {
        if (RoutingProblem(Architecture.RoutingIterations) is { } routing) return routing;
        if (Architecture.Validate() is { } arch) return $"architecture: {arch}";
        if (ReconstructionWeightProblem(ReconstructionWeight) is { } weight) return weight;
        if (Epochs < 1) return $"--epochs must be at least 1, got {Epochs}";
        if (Batch < 1) return $"--batch must be at least 1, got {Batch}";
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) return $"--lr must be positive, got {LearningRate}";
        if (!(Decay > 0) || Decay > 1) return $"--decay must be in (0, 1], got {Decay}";
        if (Threads < 1 || Threads > 256) return $"--threads must be in 1..256, got {Threads}";
        if (MaxShift < 0 || MaxShift >= Architecture.InputSize) return $"shift must be in 0..{Architecture.InputSize - 1}, got {MaxShift}";
        if (RotationProblem(MaxRotationDegrees) is { } rotation) return rotation;
        if (ScaleProblem(MaxScale) is { } scale) return scale;
        if (Data == TrainingDataKind.MultiMnist && (MaxShift != 0 || Affine))
            return "MultiMNIST pairs carry their own shifts (up to 4 px, paper §6): --shift, --rotate and --scale are for single-image data";
        if (Data == TrainingDataKind.EfficientImages && (MaxShift != 0 || Affine))
            return "--arch efficient has its authors' augmentation (rotation, shift into the margins, squish, erase): --shift, --rotate and --scale are not for it";
        if (!(MinLearningRate >= 0) || MinLearningRate > LearningRate) return $"the lowest learning rate must be in 0..--lr, got {MinLearningRate}";
        if (GroupSize < 1) return $"group size must be at least 1, got {GroupSize}";
        if (GroupSize > Batch) return $"--group {GroupSize} is more than --batch {Batch}: a group is part of one batch";
        if (CheckpointEverySteps < 1) return $"checkpoint interval must be at least 1 step, got {CheckpointEverySteps}";
        if (TestLimit < 0) return $"--test-limit must not be negative, got {TestLimit}";
        return null;
    }

    /// <summary>Null when <paramref name="iterations"/> is a usable <c>--routing</c>, else why not.</summary>
    public static string? RoutingProblem(int iterations) => iterations is >= 1 and <= MaxRoutingIterations ? null
        : $"--routing must be in 1..{MaxRoutingIterations}, got {iterations}";

    /// <summary>Null when <paramref name="degrees"/> is a usable <c>--rotate</c>, else why not.</summary>
    public static string? RotationProblem(double degrees) => degrees is >= 0 and <= MaxRotationLimit ? null
        : FormattableString.Invariant($"--rotate must be in 0..{MaxRotationLimit} degrees, got {degrees}");

    /// <summary>Null when <paramref name="scale"/> is a usable <c>--scale</c>, else why not.</summary>
    public static string? ScaleProblem(double scale) => scale is >= 0 and <= MaxScaleLimit ? null
        : FormattableString.Invariant($"--scale must be in 0..{MaxScaleLimit} (a fraction of the size), got {scale}");

    /// <summary>Null when <paramref name="weight"/> is a usable <c>--reconstruction-weight</c>, else why not.</summary>
    public static string? ReconstructionWeightProblem(double weight) => weight >= 0 && double.IsFinite(weight) ? null
        : FormattableString.Invariant($"--reconstruction-weight must be a finite number >= 0, got {weight}");
}
