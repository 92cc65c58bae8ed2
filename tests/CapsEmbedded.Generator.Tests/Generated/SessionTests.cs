using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// The generated Session classes: each model as an <see cref="ICapsNetSession"/>, so code can hold several models and
/// pick one at run time. A session only forwards to the static methods, so its results must be the same bits.
/// </summary>
public class SessionTests
{
    private static float[] Flat(float[][] images) => images.SelectMany(i => i).ToArray();

    private static void AssertSameAsStatic(ICapsNetSession session, Func<float[], float[], float[], float[], int> staticPredict, float[][] images)
    {
        var a = session.Shape;
        foreach (var image in images)
        {
            var (l1, c1, r1) = (new float[a.Classes], new float[a.DecoderInput], new float[a.DecoderOutput]);
            var (l2, c2, r2) = (new float[a.Classes], new float[a.DecoderInput], new float[a.DecoderOutput]);
            Assert.Equal(staticPredict(image, l1, c1, r1), session.Predict(image, l2, c2, r2));
            Assert.Equal(l1, l2);
            Assert.Equal(c1, c2);
            Assert.Equal(r1, r2);

            // The decoder alone from the same capsules, for another class.
            var again = new float[a.DecoderOutput];
            int other = (Array.IndexOf(l1, l1.Max()) + 1) % a.Classes;
            session.Reconstruct(c2, other, again);
            Assert.NotEqual(r2, again);
        }
        var lengths = new float[images.Length * a.Classes];
        var classes = new int[images.Length];
        using var context = session.CreateBatchContext(2);
        session.PredictBatch(Flat(images), lengths, classes, context);
        for (int i = 0; i < images.Length; i++)
        {
            var one = new float[a.Classes];
            Assert.Equal(session.Predict(images[i], one), classes[i]);
            Assert.Equal(one, lengths.AsSpan(i * a.Classes, a.Classes).ToArray());
        }
    }

    [Fact]
    public void Both_compiled_models_as_sessions_give_the_bits_of_their_static_methods()
    {
        using var mnistWorkspace = new MnistCapsNet.Workspace();
        using var fashionWorkspace = new FashionCapsNet.Workspace();
        using ICapsNetSession mnist = new MnistCapsNet.Session(MnistCapsNet.Weights.Embedded);
        using ICapsNetSession fashion = new FashionCapsNet.Session(FashionCapsNet.Weights.Embedded);

        Assert.Equal("MnistCapsNet", mnist.ModelName);
        Assert.Equal("FashionCapsNet", fashion.ModelName);
        Assert.Equal(MnistCapsNet.ClassNames, mnist.ClassNames);
        Assert.Equal("Ankle boot", fashion.ClassNames[9]);

        AssertSameAsStatic(mnist, (image, l, c, r) => MnistCapsNet.Predict(MnistCapsNet.Weights.Embedded, mnistWorkspace, image, l, c, r),
            TestData.Digits.Take(3).ToArray());
        AssertSameAsStatic(fashion, (image, l, c, r) => FashionCapsNet.Predict(FashionCapsNet.Weights.Embedded, fashionWorkspace, image, l, c, r),
            TestData.FashionImages.Take(3).ToArray());
    }

    [Theory]
    [MemberData(nameof(TestData.SupportedTiers), MemberType = typeof(TestData))]
    public void A_session_set_to_a_tier_gives_that_tiers_bits_on_every_path(SimdTier tier)
    {
        using var workspace = new FashionCapsNet.Workspace();
        using ICapsNetSession session = new FashionCapsNet.Session(FashionCapsNet.Weights.Embedded);
        Assert.Equal(SimdTiers.Best, session.Tier);
        session.Tier = tier;
        Assert.Equal(tier, session.Tier);
        var images = TestData.FashionImages.Take(2).ToArray();
        var a = session.Shape;
        using var context = session.CreateBatchContext(2);
        foreach (var image in images)
        {
            var (expected, capsules, reconstruction) = (new float[a.Classes], new float[a.DecoderInput], new float[a.DecoderOutput]);
            int predicted = FashionCapsNet.Predict(FashionCapsNet.Weights.Embedded, workspace, image, expected, capsules, reconstruction, tier);

            var (one, split) = (new float[a.Classes], new float[a.Classes]);
            var (splitCapsules, splitReconstruction) = (new float[a.DecoderInput], new float[a.DecoderOutput]);
            Assert.Equal(predicted, session.Predict(image, one));
            Assert.Equal(expected, one);
            // One image split over the context's two workers: the same bits as on one thread.
            Assert.Equal(predicted, session.Predict(context, image, split, splitCapsules, splitReconstruction));
            Assert.Equal(expected, split);
            Assert.Equal(capsules, splitCapsules);
            Assert.Equal(reconstruction, splitReconstruction);

            var (decoded, expectedDecoded) = (new float[a.DecoderOutput], new float[a.DecoderOutput]);
            int other = (predicted + 1) % a.Classes;
            FashionCapsNet.Reconstruct(FashionCapsNet.Weights.Embedded, workspace, capsules, other, expectedDecoded, tier);
            session.Reconstruct(capsules, other, decoded);
            Assert.Equal(expectedDecoded, decoded);
        }
        var (lengths, classes) = (new float[images.Length * a.Classes], new int[images.Length]);
        var (expectedLengths, expectedClasses) = (new float[images.Length * a.Classes], new int[images.Length]);
        FashionCapsNet.PredictBatch(FashionCapsNet.Weights.Embedded, Flat(images), expectedLengths, expectedClasses, context, tier);
        session.PredictBatch(Flat(images), lengths, classes, context);
        Assert.Equal(expectedLengths, lengths);
        Assert.Equal(expectedClasses, classes);
    }

    [Fact]
    public void A_tier_this_machine_lacks_is_refused_when_set_and_the_session_keeps_its_tier()
    {
        using ICapsNetSession session = new MnistCapsNet.Session(MnistCapsNet.Weights.Embedded);
        var lacking = Enum.GetValues<SimdTier>().Where(t => !SimdTiers.IsSupported(t)).ToArray();
        foreach (var tier in lacking)
        {
            var e = Assert.Throws<PlatformNotSupportedException>(() => session.Tier = tier);
            Assert.Contains(tier.ToString(), e.Message);
            Assert.Equal(SimdTiers.Best, session.Tier);
        }
        // An undefined enum value is refused on any machine, so the check runs everywhere.
        Assert.Throws<PlatformNotSupportedException>(() => session.Tier = (SimdTier)99);
        Assert.Equal(SimdTiers.Best, session.Tier);
    }

    [Fact]
    public void Weights_carry_their_files_class_names_and_a_session_takes_them_unless_given_others()
    {
        Assert.Equal(MnistCapsNet.ClassNames, MnistCapsNet.Weights.Embedded.ClassNames);
        Assert.Equal(FashionCapsNet.ClassNames, FashionCapsNet.Weights.Embedded.ClassNames);

        // The Fashion file packed as MnistCapsNet weights (same architecture) keeps the file's names, not the digits.
        using var fashionInMnist = MnistCapsNet.Weights.Load(TestData.PathOf("Weights", "fashion-mnist.safetensors"));
        Assert.Equal(CapsNetClassNames.FashionMnist, fashionInMnist.ClassNames);
        using (var session = new MnistCapsNet.Session(MnistCapsNet.Weights.Embedded))
            Assert.Equal(CapsNetClassNames.Default(10), session.ClassNames);
        var renamed = Enumerable.Range(0, 10).Select(j => "c" + j).ToArray();
        using (var session = new MnistCapsNet.Session(MnistCapsNet.Weights.Embedded, renamed))
            Assert.Equal(renamed, session.ClassNames);

        var fileWithoutNames = CapsNetWeightsFile.Load(TestData.PathOf("Weights", "fashion-mnist.safetensors"));
        fileWithoutNames.Metadata.Remove(CapsNetClassNames.MetadataKey);
        using var unnamed = FashionCapsNet.Weights.FromWeights(fileWithoutNames);
        Assert.Equal(CapsNetClassNames.Default(10), unnamed.ClassNames);
    }

    [Fact]
    public void Sessions_that_share_weights_without_owning_them_leave_them_to_the_caller()
    {
        var shared = FashionCapsNet.Weights.Load(TestData.PathOf("Weights", "fashion-mnist.safetensors"));
        var first = new FashionCapsNet.Session(shared, ownsWeights: false);
        using var second = new FashionCapsNet.Session(shared, ownsWeights: false);
        var expected = new float[FashionCapsNet.Classes];
        var actual = new float[FashionCapsNet.Classes];
        int expectedClass = first.Predict(TestData.FashionImages[1], expected);
        first.Dispose();
        Assert.Equal(expectedClass, second.Predict(TestData.FashionImages[1], actual)); // the weights outlive the first session
        Assert.Equal(expected, actual);
        shared.Dispose();
        Assert.Throws<ObjectDisposedException>(() => second.Predict(TestData.FashionImages[1], actual));
    }

    [Fact]
    public void A_session_owns_loaded_weights_but_leaves_the_embedded_ones_usable()
    {
        var loaded = FashionCapsNet.Weights.Load(TestData.PathOf("Weights", "fashion-mnist.safetensors"));
        var session = new FashionCapsNet.Session(loaded, TestData.Fashion.ClassNames);
        Assert.Equal(TestData.Fashion.ClassNames, session.ClassNames);
        session.Dispose();
        using var workspace = new FashionCapsNet.Workspace();
        var lengths = new float[FashionCapsNet.Classes];
        Assert.Throws<ObjectDisposedException>(() => FashionCapsNet.Predict(loaded, workspace, TestData.FashionImages[0], lengths));

        new FashionCapsNet.Session(FashionCapsNet.Weights.Embedded).Dispose();
        FashionCapsNet.Predict(FashionCapsNet.Weights.Embedded, workspace, TestData.FashionImages[0], lengths);
        Assert.True(lengths.Max() > 0.5f);
    }

    [Fact]
    public void PredictTop_ranks_the_36x36_models_capsules_as_the_reference_model_does()
    {
        using ICapsNetSession session = new MultiMnistCapsNet.Session(MultiMnistCapsNet.Weights.Embedded);
        var a = session.Shape;
        for (int k = 0; k < 3; k++)
        {
            var image = TestData.Pairs[k];
            var expected = ModelCheck.Reference("multimnist", k, TestData.MultiMnist, image);
            var (lengths, classes, longest) = (new float[a.Classes], new int[2], new float[2]);
            int first = session.PredictTop(image, lengths, classes, longest);

            Assert.Equal(expected.PredictedClass, first);
            Assert.Equal(first, classes[0]);
            var plain = new float[a.Classes];
            Assert.Equal(first, session.Predict(image, plain));
            Assert.Equal(plain, lengths); // the same forward pass, the same bits
            var reference = new int[2];
            TopK.Longest(expected.Lengths, reference);
            for (int r = 0; r < 2; r++)
            {
                Assert.Equal(lengths[classes[r]], longest[r]);
                // A rank's length is the reference's rank length within the model's tolerance (so a near-tie may swap classes).
                double bound = ModelCheck.LengthTolerance * (expected.Lengths[reference[r]] + ModelCheck.LengthFloor);
                Assert.InRange(Math.Abs(longest[r] - expected.Lengths[reference[r]]), 0, bound);
                if (Math.Abs(expected.Lengths[reference[0]] - expected.Lengths[reference[1]]) > 2 * bound)
                    Assert.Equal(reference[r], classes[r]);
            }
        }

        // k is checked before the forward pass; k = 10 lists every capsule.
        var all = new int[a.Classes];
        session.PredictTop(TestData.Pairs[0], new float[a.Classes], all);
        Assert.Equal(Enumerable.Range(0, a.Classes), all.Order());
        Assert.Equal("classes", Assert.Throws<ArgumentException>(() => session.PredictTop(TestData.Pairs[0], new float[a.Classes], [])).ParamName);
        Assert.Equal("classes", Assert.Throws<ArgumentException>(() => session.PredictTop(TestData.Pairs[0], new float[a.Classes], new int[11])).ParamName);
        Assert.Equal("longest", Assert.Throws<ArgumentException>(() => session.PredictTop(TestData.Pairs[0], new float[a.Classes], new int[2], new float[1])).ParamName);
    }

    [Fact]
    public void Bad_arguments_are_refused_with_their_names()
    {
        Assert.Equal("weights", Assert.Throws<ArgumentNullException>(() => new MnistCapsNet.Session(null!)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => new MnistCapsNet.Session(MnistCapsNet.Weights.Embedded, ["a", "b"]));
        Assert.Equal("classNames", e.ParamName);
        Assert.Contains("2 class names for 10 classes", e.Message);
        using var session = new TinyCapsNet.Session(TinyCapsNet.Weights.Embedded);
        Assert.Throws<ArgumentException>(() => session.Predict(new float[TinyCapsNet.InputLength + 1], new float[TinyCapsNet.Classes]));
    }
}
