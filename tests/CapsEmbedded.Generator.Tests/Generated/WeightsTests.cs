using CapsEmbedded.Models;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>Weights.Load, Weights.Embedded and PredictBatch agree; a file of another architecture is refused by name.</summary>
public class WeightsTests
{
    [Fact]
    public void Loading_a_file_of_another_architecture_names_the_mismatch()
    {
        string path = TestData.PathOf("Weights", "tiny-4-classes.safetensors");
        var e = Assert.Throws<WeightFormatException>(() => TinyCapsNet.Weights.Load(path));
        Assert.Contains("tiny-4-classes.safetensors", e.Message);
        Assert.Contains("classes is 4, the model's is 3", e.Message);
        Assert.Throws<WeightFormatException>(() => MnistCapsNet.Weights.Load(TestData.PathOf("Weights", "tiny.safetensors")));
    }

    [Fact]
    public void Embedded_and_loaded_copies_of_the_same_file_give_identical_outputs()
    {
        using var loaded = TinyCapsNet.Weights.Load(TestData.PathOf("Weights", "tiny.safetensors"));
        using var workspace = new TinyCapsNet.Workspace();
        for (int k = 0; k < 10; k++)
        {
            var image = TestData.RandomImage(TinyCapsNet.InputLength, (ulong)k + 50);
            float[] Run(TinyCapsNet.Weights weights)
            {
                var all = new float[TinyCapsNet.Classes + TinyCapsNet.DecoderInput + TinyCapsNet.DecoderOutput];
                var span = all.AsSpan();
                TinyCapsNet.Predict(weights, workspace, image, span[..TinyCapsNet.Classes],
                    span.Slice(TinyCapsNet.Classes, TinyCapsNet.DecoderInput), span[(TinyCapsNet.Classes + TinyCapsNet.DecoderInput)..]);
                return all;
            }
            Assert.Equal(Run(TinyCapsNet.Weights.Embedded), Run(loaded));
        }
    }

    /// <summary>
    /// Each image's lengths and reconstruction (image, lengths, reconstruction → Predict) from the embedded weights equal,
    /// to the bit, those from the same file loaded.
    /// </summary>
    internal static void AssertSameOutputs(IEnumerable<float[]> images, int classes, int reconstructionLength,
        Action<float[], float[], float[]> embedded, Action<float[], float[], float[]> loaded)
    {
        var a = new float[classes];
        var b = new float[classes];
        var ra = new float[reconstructionLength];
        var rb = new float[reconstructionLength];
        foreach (var image in images)
        {
            embedded(image, a, ra);
            loaded(image, b, rb);
            Assert.Equal(a, b);
            Assert.Equal(ra, rb);
        }
    }

    [Fact]
    public void Paper_embedded_and_loaded_agree()
    {
        using var loaded = MnistCapsNet.Weights.Load(TestData.PathOf("Weights", "mnist.safetensors"));
        using var workspace = new MnistCapsNet.Workspace();
        AssertSameOutputs([TestData.Digits[2]], MnistCapsNet.Classes, MnistCapsNet.DecoderOutput,
            (image, lengths, reconstruction) => MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, workspace, image, lengths, default,
                reconstruction),
            (image, lengths, reconstruction) => MnistCapsNet.Predict(loaded, workspace, image, lengths, default, reconstruction));
    }

    [Fact]
    public void Disposing_Embedded_keeps_it_usable()
    {
        TinyCapsNet.Weights.Embedded.Dispose();
        using var workspace = new TinyCapsNet.Workspace();
        TinyCapsNet.Predict(TinyCapsNet.Weights.Embedded, workspace, new float[TinyCapsNet.InputLength], new float[TinyCapsNet.Classes]);
    }

    [Fact]
    public void PredictBatch_gives_the_classes_and_lengths_of_Predict()
    {
        var weights = TinyCapsNet.Weights.Embedded;
        int count = 37;
        var images = new float[count * TinyCapsNet.InputLength];
        for (int i = 0; i < count; i++)
            TestData.RandomImage(TinyCapsNet.InputLength, (ulong)i + 900).CopyTo(images, i * TinyCapsNet.InputLength);
        var lengths = new float[count * TinyCapsNet.Classes];
        var classes = new int[count];
        using (var context = TinyCapsNet.CreateBatchContext(workerCount: 3))
            TinyCapsNet.PredictBatch(weights, images, lengths, classes, context);
        using var workspace = new TinyCapsNet.Workspace();
        var one = new float[TinyCapsNet.Classes];
        for (int i = 0; i < count; i++)
        {
            int expected = TinyCapsNet.Predict(weights, workspace, images.AsSpan(i * TinyCapsNet.InputLength, TinyCapsNet.InputLength), one);
            Assert.Equal(expected, classes[i]);
            Assert.Equal(one, lengths.AsSpan(i * TinyCapsNet.Classes, TinyCapsNet.Classes).ToArray());
        }
    }

    [Fact]
    public void A_single_worker_context_runs_on_the_caller_and_disposes()
    {
        var images = TestData.RandomImage(TinyCapsNet.InputLength, 77);
        var lengths = new float[TinyCapsNet.Classes];
        var classes = new int[1];
        var context = TinyCapsNet.CreateBatchContext(workerCount: 1);
        TinyCapsNet.PredictBatch(TinyCapsNet.Weights.Embedded, images, lengths, classes, context);
        context.Dispose(); // once threw: SemaphoreSlim.Release(0) with no worker threads
        using var workspace = new TinyCapsNet.Workspace();
        Assert.Equal(TinyCapsNet.Predict(TinyCapsNet.Weights.Embedded, workspace, images, new float[TinyCapsNet.Classes]), classes[0]);
    }

    [Fact]
    public void Paper_PredictBatch_over_mnist_digits_matches_Predict()
    {
        var weights = MnistCapsNet.Weights.Embedded;
        int count = 8;
        var images = TestData.Digits.Take(count).SelectMany(d => d).ToArray();
        var lengths = new float[count * MnistCapsNet.Classes];
        var classes = new int[count];
        using (var context = MnistCapsNet.CreateBatchContext())
            MnistCapsNet.PredictBatch(weights, images, lengths, classes, context);
        using var workspace = new MnistCapsNet.Workspace();
        var one = new float[MnistCapsNet.Classes];
        for (int i = 0; i < count; i++)
            Assert.Equal(MnistCapsNet.Predict(weights, workspace, TestData.Digits[i], one), classes[i]);
    }
}
