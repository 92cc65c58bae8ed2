using CapsEmbedded.TestSupport;
using CapsEmbedded.Training;

namespace CapsEmbedded.TorchSharp.Tests;

/// <summary>
/// The libtorch sessions' resume test, one shape for every session type: a whole run, a second run stopped (as Ctrl+C
/// stops it) once a step is done, and its checkpoint resumed, which must end bit for bit where the whole run did.
/// </summary>
internal static class ResumeCheck
{
    /// <param name="dir">Where the two runs' checkpoints go.</param>
    /// <param name="stopAt">The step the second run is stopped after.</param>
    /// <param name="stopEpoch">The epoch that step falls in (0-based).</param>
    /// <param name="open">A session checkpointing to the path, resuming the checkpoint when it is not null.</param>
    /// <param name="load">Reads a checkpoint file.</param>
    /// <param name="stateOf">A checkpoint's run state.</param>
    /// <param name="tensorsOf">The trained model's tensors by name.</param>
    /// <returns>
    /// For the caller's own checks: the whole run's history, the checkpoint the interrupted run left, and that checkpoint's
    /// file, which the resumed run has since written its own checkpoints over.
    /// </returns>
    public static (IReadOnlyList<EpochMetrics> History, TCheckpoint Checkpoint, string CheckpointPath) ResumedRunEqualsWholeRun<TTrainer, TCheckpoint>(
        string dir, long stopAt, int stopEpoch, Func<string, TCheckpoint?, TrainingLoopSession<TTrainer>> open,
        Func<string, TCheckpoint> load, Func<TCheckpoint, TrainingState> stateOf, Func<TTrainer, IReadOnlyDictionary<string, float[]>> tensorsOf)
        where TTrainer : IDisposable
        where TCheckpoint : class
    {
        IReadOnlyDictionary<string, float[]> whole;
        IReadOnlyList<EpochMetrics> history;
        using (var session = open(Path.Combine(dir, "whole.ckpt"), null))
        {
            Assert.Equal(TrainingOutcome.Completed, session.Run());
            whole = tensorsOf(session.Trainer);
            history = session.State.History;
        }

        string path = Path.Combine(dir, "resumed.ckpt");
        using (var cancel = new CancellationTokenSource())
        using (var session = open(path, null))
            Assert.Equal(TrainingOutcome.Interrupted, session.Run(new StopAtStep(stopAt, cancel), cancel.Token));
        var checkpoint = load(path);
        Assert.Equal(stopAt, stateOf(checkpoint).Step);
        Assert.Equal(stopEpoch, stateOf(checkpoint).Epoch);
        using (var session = open(path, checkpoint))
        {
            Assert.Equal(TrainingOutcome.Completed, session.Run());
            var resumed = tensorsOf(session.Trainer);
            Assert.Equal(whole.Keys.Order(StringComparer.Ordinal), resumed.Keys.Order(StringComparer.Ordinal));
            foreach (var (name, values) in whole)
                Assert.True(values.AsSpan().SequenceEqual(resumed[name]), $"{name} differs after resume");
            Assert.Equal(history.Select(m => m with { Seconds = 0 }), session.State.History.Select(m => m with { Seconds = 0 }));
        }
        return (history, checkpoint, path);
    }
}
