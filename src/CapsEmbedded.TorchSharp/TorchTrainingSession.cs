using System.Diagnostics;
using CapsEmbedded.Data;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// <c>capsnet train</c>'s run loop (<see cref="TrainingSession"/>) with the TorchSharp trainer: the same epoch order
/// (Fisher–Yates from (seed, epoch)), the same shift generator and <see cref="RandomShift"/>, the same learning-rate
/// schedule, per-epoch test error, and checkpoints in the same format (<see cref="TrainingCheckpoint"/>), so a run can
/// be resumed exactly by this tool — or by <c>capsnet train --resume</c>, and the other way round.
/// </summary>
public sealed class TorchTrainingSession : IDisposable
{
    private readonly LabeledImages _train;
    private readonly LabeledImages? _test;
    private readonly DeterministicRandom _random;
    private readonly float[] _batchImages;
    private readonly int[] _batchLabels;
    private readonly int[] _order;
    private const int EvalChunk = 256;
    private TrainingState _state;

    public TorchTrainingSession(TrainingOptions options, LabeledImages train, LabeledImages? test, Device device,
        TrainingCheckpoint? resume = null, CapsNetWeights? initialWeights = null)
    {
        if (options.Validate() is { } problem) throw new ArgumentException(problem);
        var a = options.Architecture;
        if (resume is not null && initialWeights is not null) throw new ArgumentException("start from a checkpoint or from initial weights, not both");
        if (initialWeights is not null && initialWeights.Architecture != a)
            throw new ArgumentException($"the initial weights are for {initialWeights.Architecture}, not {a}");
        if (resume is not null)
        {
            if (resume.Architecture != a) throw new ArgumentException($"the checkpoint is for {resume.Architecture}, not {a}");
            if (resume.TrainImages != train.Count)
                throw new ArgumentException($"the checkpoint was trained on {resume.TrainImages} images, this data has {train.Count} (use the same --data and --limit)");
        }
        CheckData(train, a, "training");
        if (test is not null) CheckData(test, a, "test");
        Options = options;
        _train = train;
        _test = test;
        var layout = new ParameterLayout(a);
        CapsNetWeights initial;
        if (resume is not null)
        {
            initial = FromTrainingLayout(layout, resume.Parameters);
        }
        else initial = initialWeights ?? TrainingInit.Create(a, options.Seed, options.DigitSigma);
        Trainer = new TorchTrainer(initial, device);
        _random = new DeterministicRandom(options.Seed ^ 0x5DEECE66DUL);
        if (resume is null) _state = new TrainingState { Random = _random.GetState() };
        else
        {
            Trainer.LoadMoments(FromTrainingLayout(layout, resume.FirstMoment), FromTrainingLayout(layout, resume.SecondMoment));
            _state = resume.State;
            _random.SetState(_state.Random);
            Trainer.Step = _state.Step;
        }
        _batchImages = new float[options.Batch * a.InputLength];
        _batchLabels = new int[options.Batch];
        _order = new int[train.Count];
    }

    private static void CheckData(LabeledImages data, CapsNetArchitecture a, string what)
    {
        if (a.InputChannels != 1) throw new ArgumentException($"the data sets are gray; the architecture wants {a.InputChannels} channels");
        if (data.Rows != a.InputSize || data.Cols != a.InputSize)
            throw new ArgumentException($"{what} images are {data.Rows}x{data.Cols}, the architecture takes {a.InputSize}x{a.InputSize}");
        if (data.Count < 1) throw new ArgumentException($"the {what} set is empty");
        for (int k = 0; k < data.Count; k++)
            if (data.Labels[k] >= a.Classes)
                throw new ArgumentException($"{what} image {k} has label {data.Labels[k]}, the architecture has {a.Classes} classes");
    }

    /// <summary>A flat vector in the C# trainer's layout (checkpoints) as tensors in PyTorch layout.</summary>
    public static CapsNetWeights FromTrainingLayout(ParameterLayout layout, float[] flat)
    {
        var weights = new CapsNetWeights(layout.Architecture);
        foreach (var s in layout.Segments) layout.ToPyTorch<float>(s.Name, flat.AsSpan(s.Offset, s.Length), weights[s.Name]);
        return weights;
    }

    private static float[] ToTrainingLayout(ParameterLayout layout, CapsNetWeights weights)
    {
        var flat = new float[layout.Count];
        layout.Import(weights, flat.AsSpan());
        return flat;
    }

    public TrainingOptions Options { get; }
    public TorchTrainer Trainer { get; }
    public TrainingState State => _state;

    /// <summary>Trains until the epochs are done or <paramref name="cancel"/> fires (then checkpoints and returns Interrupted).</summary>
    public TrainingOutcome Run(TrainingObserver? observer = null, CancellationToken cancel = default)
    {
        observer ??= new TrainingObserver();
        var o = Options;
        int n = _train.Count, input = o.Architecture.InputLength, size = o.Architecture.InputSize;
        var schedule = o.Schedule;
        var clock = Stopwatch.StartNew();
        double sessionStart = _state.WallSeconds, epochStartSeconds = _state.EpochSeconds, epochTimerBase = 0;
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
                {
                    int index = _order[position + k];
                    int dx = o.MaxShift == 0 ? 0 : _random.NextInt(2 * o.MaxShift + 1) - o.MaxShift;
                    int dy = o.MaxShift == 0 ? 0 : _random.NextInt(2 * o.MaxShift + 1) - o.MaxShift;
                    RandomShift.Apply(_train.GetImage(index), 1, size, dx, dy, _batchImages.AsSpan(k * input, input));
                    _batchLabels[k] = _train.Labels[index];
                }
                double lr = schedule.At(Trainer.Step, o.Batch);
                double before = clock.Elapsed.TotalSeconds;
                TorchStepTotals totals;
                try
                {
                    totals = Trainer.TrainStep(_batchImages, _batchLabels, batch, lr);
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
                // The first step pays for libtorch's warm-up: leave it out of the speed.
                if (stepsThisSession > 1) { speedImages += batch; speedSeconds += stepSeconds; }
                position += batch;
                double loss = (totals.MarginLoss + totals.ReconstructionLoss) / batch;
                double accuracy = (double)totals.Correct / batch;
                runningLoss = double.IsNaN(runningLoss) ? loss : runningLoss + smoothing * (loss - runningLoss);
                runningAccuracy = double.IsNaN(runningAccuracy) ? accuracy : runningAccuracy + smoothing * (accuracy - runningAccuracy);
                _state = _state with
                {
                    Position = position, Step = Trainer.Step, Random = _random.GetState(),
                    EpochLossSum = _state.EpochLossSum + totals.MarginLoss + totals.ReconstructionLoss,
                    EpochCorrect = _state.EpochCorrect + totals.Correct,
                    EpochSeconds = epochStartSeconds + clock.Elapsed.TotalSeconds - epochTimerBase,
                    WallSeconds = sessionStart + clock.Elapsed.TotalSeconds,
                };
                double speed = speedSeconds > 0 ? speedImages / speedSeconds : batch / Math.Max(stepSeconds, 1e-9);
                long remainingImages = (long)(o.Epochs - _state.Epoch - 1) * n + (n - position);
                observer.OnStep(new StepProgress(_state.Epoch + 1, o.Epochs, position, n, Trainer.Step, loss, runningLoss, runningAccuracy,
                    speed, lr, TimeSpan.FromSeconds(remainingImages / Math.Max(speed, 1e-9))));
                if (Trainer.Step % o.CheckpointEverySteps == 0 && position < n) SaveCheckpoint(observer);
            }
            double testError = double.NaN;
            if (_test is not null) { observer.OnEvaluating(TestCount); testError = TestError(); }
            var metrics = new EpochMetrics(_state.Epoch + 1, _state.EpochLossSum / n, (double)_state.EpochCorrect / n, testError,
                schedule.At(Trainer.Step, o.Batch), _state.EpochSeconds);
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

    /// <summary>Fraction of the test images (up to the test limit, unshifted) whose longest capsule is not the label.</summary>
    public double TestError() => _test is null ? double.NaN : Evaluate(Trainer, _test, TestCount, Options.Architecture);

    /// <summary>Error rate of <paramref name="trainer"/>'s model on the first <paramref name="count"/> images of a set.</summary>
    public static double Evaluate(TorchTrainer trainer, LabeledImages set, int count, CapsNetArchitecture a)
    {
        int input = a.InputLength, wrong = 0;
        var images = new float[EvalChunk * input];
        var predictions = new int[EvalChunk];
        for (int start = 0; start < count; start += EvalChunk)
        {
            int chunk = Math.Min(EvalChunk, count - start);
            for (int k = 0; k < chunk; k++) RandomShift.Apply(set.GetImage(start + k), 1, a.InputSize, 0, 0, images.AsSpan(k * input, input));
            trainer.Predict(images, chunk, predictions);
            for (int k = 0; k < chunk; k++) if (predictions[k] != set.Labels[start + k]) wrong++;
        }
        return (double)wrong / count;
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

    /// <summary>The current state as a checkpoint in the C# trainer's format.</summary>
    public TrainingCheckpoint Checkpoint()
    {
        var layout = new ParameterLayout(Options.Architecture);
        var (m, v) = Trainer.Moments();
        return new TrainingCheckpoint
        {
            Options = Options, TrainImages = _train.Count, State = _state,
            Parameters = ToTrainingLayout(layout, Trainer.Model.ToWeights()),
            FirstMoment = ToTrainingLayout(layout, m),
            SecondMoment = ToTrainingLayout(layout, v),
        };
    }

    private void SaveCheckpoint(TrainingObserver observer)
    {
        if (Options.CheckpointPath is null) return;
        Checkpoint().Save(Options.CheckpointPath);
        observer.OnCheckpoint(Options.CheckpointPath, Trainer.Step);
    }

    public void Dispose() => Trainer.Dispose();
}
