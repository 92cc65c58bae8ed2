using CapsEmbedded.Models;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// The second generated model, FashionCapsNet (weights/fashion-mnist.safetensors, stored F16), beside MnistCapsNet in
/// the same assembly: its own constants, class names, weights and results (its agreement with the reference model is in
/// <see cref="ModelVsReferenceTests"/>).
/// </summary>
public class FashionModelTests
{
    private static readonly string[] s_classNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    [Fact]
    public void It_is_the_paper_network_with_the_fashion_file_and_class_names()
    {
        Assert.Equal(CapsNetArchitecture.Paper, FashionCapsNet.Architecture);
        Assert.Equal("fashion-mnist.safetensors", FashionCapsNet.WeightsFileName);
        Assert.Equal(s_classNames, FashionCapsNet.ClassNames);
        Assert.Equal(s_classNames, TestData.Fashion.ClassNames);
        Assert.NotEqual(MnistCapsNet.WeightsSha256, FashionCapsNet.WeightsSha256);

        byte[] file = File.ReadAllBytes(TestData.PathOf("Weights", "fashion-mnist.safetensors"));
        Assert.Equal(FashionCapsNet.WeightsFileLength, file.Length);
        Assert.Equal(FashionCapsNet.WeightsSha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(file)));
    }

    [Fact]
    public void Embedded_and_loaded_copies_give_identical_outputs()
    {
        using var loaded = FashionCapsNet.Weights.Load(TestData.PathOf("Weights", "fashion-mnist.safetensors"));
        using var workspace = new FashionCapsNet.Workspace();
        WeightsTests.AssertSameOutputs(TestData.FashionImages.Take(3), FashionCapsNet.Classes, FashionCapsNet.DecoderOutput,
            (image, lengths, reconstruction) => FashionCapsNet.Predict(FashionCapsNet.Weights.Embedded, workspace, image, lengths, default,
                reconstruction),
            (image, lengths, reconstruction) => FashionCapsNet.Predict(loaded, workspace, image, lengths, default, reconstruction));
    }

    [Fact]
    public void It_classifies_the_fixture_images_as_trained()
    {
        // The shipped model is ≈ 92 % right on the 10,000 test images (weights/README.md); the MNIST model, or a
        // garbled embedding, gets far fewer of these 200 right.
        var images = TestData.FashionImages;
        var labels = TestData.FashionLabels;
        var flat = images.SelectMany(i => i).ToArray();
        var lengths = new float[images.Length * FashionCapsNet.Classes];
        var classes = new int[images.Length];
        using var context = FashionCapsNet.CreateBatchContext(2);
        FashionCapsNet.PredictBatch(FashionCapsNet.Weights.Embedded, flat, lengths, classes, context);
        int right = classes.Where((c, i) => c == labels[i]).Count();
        Assert.InRange(right, 175, 200); // ≥ 87.5 %

        MnistCapsNet.PredictBatch(MnistCapsNet.Weights.Embedded, flat, lengths, classes, context);
        Assert.InRange(classes.Where((c, i) => c == labels[i]).Count(), 0, 120);
    }
}
