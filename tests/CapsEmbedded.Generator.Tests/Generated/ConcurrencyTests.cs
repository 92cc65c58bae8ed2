using CapsEmbedded.Models;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// One shared <c>Weights</c> is read-only: N threads predicting at once, each with its own Workspace, and concurrent
/// PredictBatch callers, each with its own BatchContext, give results bit-identical to a sequential run.
/// </summary>
public class ConcurrencyTests
{
    private const int Threads = 8, Images = 48, Rounds = 3;

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>Starts every body at once (a barrier) and rethrows the first failure.</summary>
    private static void RunTogether(int count, Action<int> body)
    {
        using var barrier = new Barrier(count);
        var errors = new Exception?[count];
        var threads = Enumerable.Range(0, count).Select(t => new Thread(() =>
        {
            try
            {
                barrier.SignalAndWait();
                body(t);
            }
            catch (Exception e)
            {
                errors[t] = e;
            }
        })).ToArray();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) Assert.True(thread.Join(TimeSpan.FromMinutes(5)), "a thread did not finish");
        if (errors.FirstOrDefault(e => e is not null) is { } first) throw new AggregateException(first);
    }

    [Fact]
    public void Shared_tiny_weights_with_a_workspace_per_thread_match_a_sequential_run_bit_for_bit()
    {
        var weights = TinyCapsNet.Weights.Embedded;
        var images = Enumerable.Range(0, Images).Select(i => TestData.RandomImage(TinyCapsNet.InputLength, (ulong)i + 900)).ToArray();
        int outputs = TinyCapsNet.Classes + TinyCapsNet.DecoderOutput;
        int[] Run(TinyCapsNet.Workspace workspace, float[] image)
        {
            var all = new float[outputs];
            int digit = TinyCapsNet.Predict(weights, workspace, image, all.AsSpan(0, TinyCapsNet.Classes), default, all.AsSpan(TinyCapsNet.Classes));
            return [digit, .. Bits(all)];
        }
        int[][] expected;
        using (var workspace = new TinyCapsNet.Workspace()) expected = images.Select(image => Run(workspace, image)).ToArray();

        var actual = new int[Threads][][];
        RunTogether(Threads, t =>
        {
            using var workspace = new TinyCapsNet.Workspace();
            actual[t] = new int[Images][];
            for (int round = 0; round < Rounds; round++)
                for (int k = 0; k < Images; k++)
                {
                    int i = (k * 7 + t * 5 + round) % Images; // every thread in its own order, so different images overlap
                    var result = Run(workspace, images[i]);
                    if (actual[t][i] is { } earlier) Assert.Equal(earlier, result);
                    actual[t][i] = result;
                }
        });
        for (int t = 0; t < Threads; t++)
            for (int i = 0; i < Images; i++)
                Assert.True(expected[i].SequenceEqual(actual[t][i]), $"thread {t}, image {i} differs from the sequential run");
    }

    [Fact]
    public void Concurrent_PredictBatch_callers_on_shared_weights_match_a_sequential_call_bit_for_bit()
    {
        var weights = TinyCapsNet.Weights.Embedded;
        var images = Enumerable.Range(0, Images).SelectMany(i => TestData.RandomImage(TinyCapsNet.InputLength, (ulong)i + 300)).ToArray();
        (int[] Classes, int[] Lengths) Batch(TinyCapsNet.Weights w, CapsEmbedded.Runtime.BatchContext context)
        {
            var lengths = new float[Images * TinyCapsNet.Classes];
            var classes = new int[Images];
            TinyCapsNet.PredictBatch(w, images, lengths, classes, context);
            return (classes, Bits(lengths));
        }
        (int[] Classes, int[] Lengths) expected;
        using (var context = TinyCapsNet.CreateBatchContext(workerCount: 2)) expected = Batch(weights, context);

        const int callers = 4;
        var results = new (int[] Classes, int[] Lengths)[callers * Rounds];
        RunTogether(callers, c =>
        {
            using var context = TinyCapsNet.CreateBatchContext(workerCount: 2);
            for (int round = 0; round < Rounds; round++) results[c * Rounds + round] = Batch(weights, context);
        });
        Assert.All(results, r =>
        {
            Assert.Equal(expected.Classes, r.Classes);
            Assert.True(expected.Lengths.SequenceEqual(r.Lengths), "a concurrent PredictBatch differs from the sequential one");
        });
    }

    [Fact]
    public void Shared_paper_weights_with_a_workspace_per_thread_match_a_sequential_run_bit_for_bit()
    {
        var weights = MnistCapsNet.Weights.Embedded;
        var digits = TestData.Digits.Take(4).ToArray();
        int[] Run(MnistCapsNet.Workspace workspace, float[] image)
        {
            var lengths = new float[MnistCapsNet.Classes];
            int digit = MnistCapsNet.Predict(weights, workspace, image, lengths);
            return [digit, .. Bits(lengths)];
        }
        int[][] expected;
        using (var workspace = new MnistCapsNet.Workspace()) expected = digits.Select(d => Run(workspace, d)).ToArray();
        var actual = new int[4][][];
        RunTogether(4, t =>
        {
            using var workspace = new MnistCapsNet.Workspace();
            actual[t] = digits.Select((_, k) => Run(workspace, digits[(k + t) % digits.Length])).ToArray();
        });
        for (int t = 0; t < 4; t++)
            for (int k = 0; k < digits.Length; k++)
                Assert.True(expected[(k + t) % digits.Length].SequenceEqual(actual[t][k]), $"thread {t}, digit {(k + t) % digits.Length} differs");
    }

    [Fact]
    public void Concurrent_Predict_calls_with_their_own_workspaces_agree_with_a_single_thread()
    {
        var weights = TinyCapsNet.Weights.Embedded;
        const int images = 200;
        var expected = new float[images][];
        using (var workspace = new TinyCapsNet.Workspace())
        {
            for (int i = 0; i < images; i++)
            {
                expected[i] = new float[TinyCapsNet.Classes + TinyCapsNet.DecoderOutput];
                TinyCapsNet.Predict(weights, workspace, TestData.RandomImage(TinyCapsNet.InputLength, (ulong)i + 5000),
                    expected[i].AsSpan(0, TinyCapsNet.Classes), default, expected[i].AsSpan(TinyCapsNet.Classes));
            }
        }
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            using var workspace = new TinyCapsNet.Workspace();
            var actual = new float[TinyCapsNet.Classes + TinyCapsNet.DecoderOutput];
            for (int round = 0; round < 5; round++)
                for (int i = t; i < images; i += 2)
                {
                    TinyCapsNet.Predict(weights, workspace, TestData.RandomImage(TinyCapsNet.InputLength, (ulong)i + 5000),
                        actual.AsSpan(0, TinyCapsNet.Classes), default, actual.AsSpan(TinyCapsNet.Classes));
                    if (!actual.AsSpan().SequenceEqual(expected[i])) failures.Add($"thread {t}, image {i}");
                }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(failures);
    }
}
