using CapsEmbedded.Cli;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;
using CapsEmbedded.Serve;

namespace CapsEmbedded.Tests.Models;

/// <summary>
/// The one registry of compiled models (<see cref="CompiledModel"/>): what each entry says it is, that its session is the
/// generated model it names, and that capsnet's <c>--model</c> and capsnet-serve read the same list.
/// </summary>
public sealed class CompiledModelTests
{
    [Fact]
    public void The_registry_lists_the_four_generated_models_default_first()
    {
        Assert.Equal(["mnist", "fashion", "multimnist", "mnist-efficient"], CompiledModel.Names);
        Assert.Equal(CompiledModel.Names, CompiledModel.All.Select(m => m.Name));
        Assert.Same(CompiledModel.Mnist, CompiledModel.Default);
        Assert.Same(CompiledModel.Default, CompiledModel.All[0]);
    }

    [Theory]
    [InlineData("mnist", "MnistCapsNet", 28, 10, 1, "mnist.safetensors", "9")]
    [InlineData("fashion", "FashionCapsNet", 28, 10, 1, "fashion-mnist.safetensors", "Ankle boot")]
    [InlineData("multimnist", "MultiMnistCapsNet", 36, 10, 2, "multimnist.safetensors", "9")]
    [InlineData("mnist-efficient", "MnistEfficientCapsNet", 28, 10, 1, "mnist-efficient.safetensors", "9")]
    public void Each_entry_opens_the_generated_model_it_names(string name, string modelName, int inputSize, int classes, int top,
        string fileName, string lastClass)
    {
        var model = CompiledModel.Named(name);
        Assert.Same(model, CompiledModel.Find(name));
        Assert.Equal(name, model.Name);
        Assert.Equal(inputSize, model.Shape.InputSize);
        Assert.Equal(classes, model.Shape.Classes);
        Assert.Equal(top, model.DefaultTop);
        Assert.Equal(fileName, model.WeightsFileName);
        Assert.Equal($"embedded ({fileName})", model.SourceOf(null));
        Assert.Equal("x.safetensors", model.SourceOf("x.safetensors"));

        using var session = model.Open(weightsPath: null);
        Assert.Equal(modelName, session.ModelName);
        Assert.Equal(model.Shape, session.Shape);
        Assert.Equal(lastClass, session.ClassNames[^1]);
        if (model.Family == CapsNetFamily.Paper) Assert.Equal(model.Architecture, model.ReadEmbedded().Architecture);
        else Assert.Equal(model.Shape, ModelShape.Of(model.ReadEmbeddedEfficient().Architecture));
    }

    [Fact]
    public void Sessions_over_shared_weights_give_the_bits_of_an_own_session()
    {
        var model = CompiledModel.Mnist;
        var a = model.Shape;
        var image = new float[a.InputLength];
        for (int i = 0; i < image.Length; i++) image[i] = i % 7 == 0 ? 0.8f : 0f;
        var (expected, lengths) = (new float[a.Classes], new float[a.Classes]);
        using (var own = model.Open(weightsPath: null)) own.Predict(image, expected);
        using var shared = model.Share(weightsPath: null);
        using (var first = shared.NewSession()) first.Predict(image, lengths);
        Assert.Equal(expected, lengths);
        using var second = shared.NewSession(); // the first one's Dispose left the shared weights alone
        second.Predict(image, lengths);
        Assert.Equal(expected, lengths);
    }

    [Fact]
    public void An_unknown_name_is_refused_with_the_list()
    {
        Assert.Null(CompiledModel.Find("cifar"));
        Assert.Null(CompiledModel.Find(null));
        var error = Assert.Throws<ArgumentException>(() => CompiledModel.Named("cifar"));
        Assert.Contains("mnist, fashion, multimnist", error.Message);
    }

    [Fact]
    public void Capsnet_takes_every_registered_model_and_no_other()
    {
        foreach (string command in new[] { "eval", "bench", "export --onnx m.onnx", "reconstruct" })
        {
            foreach (string name in CompiledModel.Names)
                Assert.Empty(CapsNetCli.Build().Parse([.. command.Split(' '), "--model", name]).Errors);
            Assert.NotEmpty(CapsNetCli.Build().Parse([.. command.Split(' '), "--model", "cifar"]).Errors);
        }
        Assert.Empty(CapsNetCli.Build().Parse(["predict", "--model", "multimnist", "x.png"]).Errors);
    }

    [Fact]
    public void Serve_reads_the_same_list_and_serves_every_model()
    {
        foreach (var model in CompiledModel.All) // the page draws at each model's size (/api/model's side)
            Assert.Equal(model.Name, ServeOptions.Parse(["--model", model.Name]).Model);
        Assert.Equal($"--model must be one of {string.Join(", ", CompiledModel.Names)}, got 'cifar'",
            Assert.Throws<ArgumentException>(() => ServeOptions.Parse(["--model", "cifar"])).Message);
        // --data picks its model in serve as in capsnet.
        Assert.Equal("fashion", ServeOptions.Parse(["--data", "fashion"]).Model);
        Assert.Equal("multimnist", ServeOptions.Parse(["--data", "multimnist"]).Model);
    }
}
