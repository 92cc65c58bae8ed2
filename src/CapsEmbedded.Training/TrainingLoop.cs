using System.Diagnostics;
using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Training;

/// <summary>The run diverged: the message names the step and the last good checkpoint, which is left untouched.</summary>
public sealed class TrainingDivergedException : Exception
{
    public TrainingDivergedException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Writes the checkpoint of a run at <paramref name="state"/> to <paramref name="path"/> (a trainer whose network is not
/// <see cref="TrainingOptions.Architecture"/>'s has its own format; the loop's default is <see cref="TrainingCheckpoint"/>).</summary>
public delegate void CheckpointWriter(string path, TrainingState state);

/// <summary>How a <see cref="TrainingLoop.Run"/> ended.</summary>
public enum TrainingOutcome { Completed, Interrupted }

/// <summary>What <see cref="TrainingLoop"/> asks of a trainer (the C# one or the TorchSharp one): steps, predictions and
/// its state in the checkpoint's flat layout (<see cref="ParameterLayout"/>), so that checkpoints are interchangeable.</summary>
public interface ITrainer
{
    /// <summary>Adam steps taken so far.</summary>
    long Step { get; set; }

    /// <summary>One step over [batch][input] images in [0,1] with <paramref name="targets"/> true classes each (labels
    /// [batch][targets]; reconstruction targets [batch][targets][input], null: each image is its own, one target only):
    /// sums over the batch. Throws <see cref="NonFiniteLossException"/> before touching the parameters if the loss is not
    /// finite; a trainer that cannot train two targets throws <see cref="NotSupportedException"/>.</summary>
    StepTotals TrainStep(float[] images, int[] labels, int targets, float[]? reconstructionTargets, int batch, double learningRate);

    /// <summary>The <paramref name="top"/> longest capsules' classes of images [count][input], longest first
    /// ([count][top]), no decoder.</summary>
    void Predict(float[] images, int count, int top, int[] predictions);

    /// <summary>Copies of the parameters and Adam's two moments in training layout.</summary>
    (float[] Parameters, float[] FirstMoment, float[] SecondMoment) ExportState();
}

/// <summary>
/// A training run over a data set, whatever computes the steps: epochs of shuffled batches drawn by an
/// <see cref="ITrainingSamples"/> (randomly shifted images, or MultiMNIST pairs), the
/// learning-rate schedule, a test evaluation per epoch, checkpoints every N steps and at each epoch's end, exact resume,
/// progress to a <see cref="TrainingObserver"/>.
/// </summary>
/// <remarks>
/// Determinism: epoch e's order is a Fisher–Yates shuffle from a generator seeded by (seed, e); the shifts (and
/// MultiMNIST's partners) come from one generator whose state is checkpointed. With a deterministic trainer the same seed and data give the same bits,
/// whether or not the run was interrupted and resumed.
/// </remarks>
public sealed class TrainingLoop
{
    private const int EvalChunk = 256;
    private readonly ITrainer _trainer;
    private readonly ITrainingSamples _train;
    private readonly ITestSamples? _test;
    private readonly DeterministicRandom _random;
    private readonly float[] _batchImages;
    private readonly float[]? _batchTargets;
    private readonly int[] _batchLabels;
    private readonly int[] _order;
    private readonly float[] _evalImages;
    private readonly int[] _evalPredictions, _evalLabels;
    private readonly CheckpointWriter _writeCheckpoint;
    private TrainingState _state;

    /// <summary>Checks a run's inputs before any trainer is built: the options, both data sets against the
    /// architecture (for MultiMNIST: 28×28 digits and a 36×36 network), and that a checkpoint or initial weights (not both)
    /// fit them.</summary>
    public static void CheckStart(TrainingOptions options, LabeledImages train, LabeledImages? test, TrainingCheckpoint? resume,
        CapsNetWeights? initialWeights)
    {
        if (options.Validate() is { } problem) throw new ArgumentException(problem, nameof(options));
        var a = options.Architecture;
        if (resume is not null && initialWeights is not null)
            throw new ArgumentException("start from a checkpoint or from initial weights, not both");
        if (initialWeights is not null && initialWeights.Architecture != a)
            throw new ArgumentException($"the initial weights are for {initialWeights.Architecture}, not {a}");
        if (resume is not null)
        {
            if (resume.Options.Data != options.Data)
                throw new ArgumentException($"the checkpoint was trained on {TrainingSamples.Name(resume.Options.Data)}, this run's data is {TrainingSamples.Name(options.Data)}");
            if (resume.Architecture != a) throw new ArgumentException($"the checkpoint is for {resume.Architecture}, not {a}");
            if (resume.Options.ReconstructionWeight != options.ReconstructionWeight)
                throw new ArgumentException(FormattableString.Invariant(
                    $"the checkpoint was trained with reconstruction weight {resume.Options.ReconstructionWeight}, not {options.ReconstructionWeight}"));
            if (resume.TrainImages != train.Count)
                throw new ArgumentException($"the checkpoint was trained on {resume.TrainImages} images, this data has {train.Count} (use the same --data and --limit)");
        }
        CheckData(train, a, options.Data, "training");
        if (test is not null) CheckData(test, a, options.Data, "test");
    }

    private static void CheckData(LabeledImages data, CapsNetArchitecture a, TrainingDataKind kind, string what)
    {
        if (a.InputChannels != 1) throw new ArgumentException($"the data sets are gray; the architecture wants {a.InputChannels} channels");
        if (kind == TrainingDataKind.MultiMnist)
        {
            const int digit = MultiMnistPairs.DigitSize, canvas = MultiMnistPairs.CanvasSize;
            if (data.Rows != digit || data.Cols != digit)
                throw new ArgumentException($"MultiMNIST {what} pairs are built from {digit}x{digit} digits, got {data.Rows}x{data.Cols}");
            if (a.InputSize != canvas)
                throw new ArgumentException($"MultiMNIST pairs are {canvas}x{canvas}, the architecture takes {a.InputSize}x{a.InputSize} (use --arch multimnist)");
            if (data.Labels.AsSpan().IndexOfAnyExcept(data.Labels[0]) < 0)
                throw new ArgumentException($"the {what} digits are all of one class: MultiMNIST pairs need two");
        }
        else if (data.Rows != a.InputSize || data.Cols != a.InputSize)
            throw new ArgumentException($"{what} images are {data.Rows}x{data.Cols}, the architecture takes {a.InputSize}x{a.InputSize}");
        if (data.Count < 1) throw new ArgumentException($"the {what} set is empty");
        for (int k = 0; k < data.Count; k++)
            if (data.Labels[k] >= a.Classes)
                throw new ArgumentException($"{what} image {k} has label {data.Labels[k]}, the architecture has {a.Classes} classes");
    }

    /// <param name="options">The run's settings, already checked by <see cref="CheckStart"/>.</param>
    /// <param name="trainer">The trainer, holding the starting (or resumed) parameters and moments.</param>
    /// <param name="train">Training images and labels (for MultiMNIST: the digits the pairs are drawn from).</param>
    /// <param name="test">Test set evaluated after each epoch (for MultiMNIST: the digits of the fixed test pairs), or null.</param>
    /// <param name="resumed">The state of the checkpoint being continued, or null for a fresh run.</param>
    public TrainingLoop(TrainingOptions options, ITrainer trainer, LabeledImages train, LabeledImages? test, TrainingState? resumed)
        : this(options, trainer, TrainingSamples.Train(options, train), test is null ? null : TrainingSamples.Test(options, test), resumed)
    {
    }

    /// <param name="options">The run's settings.</param>
    /// <param name="trainer">The trainer, holding the starting (or resumed) parameters and moments.</param>
    /// <param name="train">The samples of each epoch.</param>
    /// <param name="test">Test set evaluated after each epoch, or null.</param>
    /// <param name="resumed">The state of the checkpoint being continued, or null for a fresh run.</param>
    /// <param name="writeCheckpoint">How checkpoints are written (null: <see cref="Checkpoint"/>'s <see cref="TrainingCheckpoint"/>).</param>
    public TrainingLoop(TrainingOptions options, ITrainer trainer, ITrainingSamples train, ITestSamples? test, TrainingState? resumed,
        CheckpointWriter? writeCheckpoint = null)
    {
        _writeCheckpoint = writeCheckpoint ?? ((path, _) => Checkpoint().Save(path));
        var a = options.Architecture;
        Options = options;
        _trainer = trainer;
        _train = train;
        _test = test;
        _random = new DeterministicRandom(options.Seed ^ 0x5DEECE66DUL);
        if (resumed is null)
            _state = new TrainingState { Random = _random.GetState() };
        else
        {
            _state = resumed;
            _random.SetState(_state.Random);
            trainer.Step = _state.Step;
        }
        _batchImages = new float[options.Batch * a.InputLength];
        _batchLabels = new int[options.Batch * train.Targets];
        _batchTargets = train.HasReconstructionTargets ? new float[options.Batch * train.Targets * a.InputLength] : null;
        _order = new int[train.Count];
        int evalTargets = test?.Targets ?? 1;
        _evalImages = new float[EvalChunk * a.InputLength];
        _evalPredictions = new int[EvalChunk * evalTargets];
        _evalLabels = new int[EvalChunk * evalTargets];
    }

    public TrainingOptions Options { get; }
    public TrainingState State => _state;

    /// <summary>
    /// Trains until <see cref="TrainingOptions.Epochs"/> epochs are done or <paramref name="cancel"/> fires (then it finishes
    /// the step, writes a checkpoint and returns <see cref="TrainingOutcome.Interrupted"/>).
    /// </summary>
    public TrainingOutcome Run(TrainingObserver? observer = null, CancellationToken cancel = default)
    {
        observer ??= new TrainingObserver();
        var o = Options;
        int n = _train.Count, input = o.Architecture.InputLength, targets = _train.Targets;
        var schedule = o.Schedule;
        var clock = Stopwatch.StartNew();
        double sessionStart = _state.WallSeconds, epochStartSeconds = _state.EpochSeconds;
        double epochTimerBase = 0;
        double runningLoss = double.NaN, runningAccuracy = double.NaN;
        const double smoothing = 0.05;
        long stepsThisSession = 0;
        double speedImages = 0, speedSeconds = 0;
        while (_state.Epoch < o.Epochs)
        {
            Shuffle(_state.Epoch);
            int position = _state.Position;
            while (position < n)
            {
                if (cancel.IsCancellationRequested)
                {
                    _state = _state with { WallSeconds = sessionStart + clock.Elapsed.TotalSeconds, EpochSeconds = epochStartSeconds + clock.Elapsed.TotalSeconds - epochTimerBase };
                    SaveCheckpoint(observer);
                    return TrainingOutcome.Interrupted;
                }
                int batch = Math.Min(o.Batch, n - position);
                for (int k = 0; k < batch; k++)
                    _train.Draw(_order[position + k], _random, _batchImages.AsSpan(k * input, input), _batchLabels.AsSpan(k * targets, targets),
                        _batchTargets is null ? Span<float>.Empty : _batchTargets.AsSpan(k * targets * input, targets * input));
                double lr = schedule.At(_trainer.Step, o.Batch, _state.Epoch);
                double before = clock.Elapsed.TotalSeconds;
                StepTotals totals;
                try
                {
                    totals = _trainer.TrainStep(_batchImages, _batchLabels, targets, _batchTargets, batch, lr);
                }
                catch (NonFiniteLossException e)
                {
                    string kept = o.CheckpointPath is not null && File.Exists(o.CheckpointPath)
                        ? $"the last good checkpoint {o.CheckpointPath} is kept" : "no checkpoint was written";
                    throw new TrainingDivergedException(
                        $"training stopped: the loss became NaN/Inf at epoch {_state.Epoch + 1}, step {e.Step} (lr {lr:G3}); {kept}", e);
                }
                double stepSeconds = clock.Elapsed.TotalSeconds - before;
                stepsThisSession++;
                // The first step pays for warm-up (JIT, page faults, libtorch's allocator): leave it out of the speed.
                if (stepsThisSession > 1) { speedImages += batch; speedSeconds += stepSeconds; }
                position += batch;
                double loss = (totals.MarginLoss + totals.ReconstructionLoss) / batch;
                double accuracy = (double)totals.Correct / batch;
                runningLoss = double.IsNaN(runningLoss) ? loss : runningLoss + smoothing * (loss - runningLoss);
                runningAccuracy = double.IsNaN(runningAccuracy) ? accuracy : runningAccuracy + smoothing * (accuracy - runningAccuracy);
                _state = _state with
                {
                    Position = position, Step = _trainer.Step, Random = _random.GetState(),
                    EpochLossSum = _state.EpochLossSum + totals.MarginLoss + totals.ReconstructionLoss,
                    EpochCorrect = _state.EpochCorrect + totals.Correct,
                    EpochSeconds = epochStartSeconds + clock.Elapsed.TotalSeconds - epochTimerBase,
                    WallSeconds = sessionStart + clock.Elapsed.TotalSeconds,
                };
                double speed = speedSeconds > 0 ? speedImages / speedSeconds : batch / Math.Max(stepSeconds, 1e-9);
                long remainingImages = (long)(o.Epochs - _state.Epoch - 1) * n + (n - position);
                observer.OnStep(new StepProgress(_state.Epoch + 1, o.Epochs, position, n, _trainer.Step, loss, runningLoss, runningAccuracy,
                    speed, lr, TimeSpan.FromSeconds(remainingImages / Math.Max(speed, 1e-9))));
                if (_trainer.Step % o.CheckpointEverySteps == 0 && position < n) SaveCheckpoint(observer);
            }
            double testError = double.NaN;
            if (_test is not null) { observer.OnEvaluating(TestCount); testError = TestError(); }
            var metrics = new EpochMetrics(_state.Epoch + 1, _state.EpochLossSum / n, (double)_state.EpochCorrect / n, testError,
                schedule.At(_trainer.Step, o.Batch, _state.Epoch), _state.EpochSeconds);
            var history = new List<EpochMetrics>(_state.History) { metrics };
            epochTimerBase = clock.Elapsed.TotalSeconds;
            epochStartSeconds = 0;
            _state = _state with
            {
                Epoch = _state.Epoch + 1, Position = 0, EpochLossSum = 0, EpochCorrect = 0, EpochSeconds = 0,
                History = history, WallSeconds = sessionStart + clock.Elapsed.TotalSeconds,
            };
            observer.OnEpoch(metrics, history);
            SaveCheckpoint(observer);
        }
        return TrainingOutcome.Completed;
    }

    private int TestCount => _test is null ? 0 : Options.TestLimit > 0 ? Math.Min(Options.TestLimit, _test.Count) : _test.Count;

    /// <summary>Fraction of the test samples (up to the test limit; images unshifted) not recognised: the longest capsule
    /// is not the label, or (MultiMNIST, the paper's metric) the two longest are not exactly the two labels.</summary>
    public double TestError() =>
        _test is null ? double.NaN : ErrorRate(_trainer, _test, TestCount, Options.Architecture, _evalImages, _evalLabels, _evalPredictions);

    /// <summary>Error rate of <paramref name="trainer"/>'s model on the first <paramref name="count"/> images of a set
    /// (unshifted), in chunks of <see cref="EvalChunk"/> images.</summary>
    public static double ErrorRate(ITrainer trainer, LabeledImages set, int count, CapsNetArchitecture a) =>
        ErrorRate(trainer, new PlainImages(set), count, a);

    /// <summary>Error rate of <paramref name="trainer"/>'s model on the first <paramref name="count"/> samples of a test set.</summary>
    public static double ErrorRate(ITrainer trainer, ITestSamples set, int count, CapsNetArchitecture a) =>
        ErrorRate(trainer, set, count, a, new float[EvalChunk * a.InputLength], new int[EvalChunk * set.Targets], new int[EvalChunk * set.Targets]);

    private static double ErrorRate(ITrainer trainer, ITestSamples set, int count, CapsNetArchitecture a, float[] images, int[] labels, int[] predictions)
    {
        int input = a.InputLength, targets = set.Targets, wrong = 0;
        for (int start = 0; start < count; start += EvalChunk)
        {
            int chunk = Math.Min(EvalChunk, count - start);
            for (int k = 0; k < chunk; k++)
                set.Get(start + k, images.AsSpan(k * input, input), labels.AsSpan(k * targets, targets));
            trainer.Predict(images, chunk, targets, predictions);
            for (int k = 0; k < chunk; k++)
                if (!SameClasses(predictions.AsSpan(k * targets, targets), labels.AsSpan(k * targets, targets))) wrong++;
        }
        return (double)wrong / count;
    }

    /// <summary>Whether the predicted classes are the labels, in any order (labels are distinct within a sample).</summary>
    private static bool SameClasses(ReadOnlySpan<int> predicted, ReadOnlySpan<int> labels)
    {
        foreach (int label in labels) if (predicted.IndexOf(label) < 0) return false;
        return true;
    }

    private void Shuffle(int epoch)
    {
        var random = new DeterministicRandom(Options.Seed * 0x9E3779B97F4A7C15UL + (ulong)epoch + 1);
        for (int k = 0; k < _order.Length; k++) _order[k] = k;
        for (int k = _order.Length - 1; k > 0; k--)
        {
            int j = random.NextInt(k + 1);
            (_order[k], _order[j]) = (_order[j], _order[k]);
        }
    }

    /// <summary>The current state as a checkpoint (copies of the parameters and moments).</summary>
    public TrainingCheckpoint Checkpoint()
    {
        var (parameters, first, second) = _trainer.ExportState();
        return new TrainingCheckpoint
        {
            Options = Options, TrainImages = _train.Count, State = _state,
            Parameters = parameters, FirstMoment = first, SecondMoment = second,
        };
    }

    private void SaveCheckpoint(TrainingObserver observer)
    {
        if (Options.CheckpointPath is null) return;
        _writeCheckpoint(Options.CheckpointPath, _state);
        observer.OnCheckpoint(Options.CheckpointPath, _trainer.Step);
    }
}
