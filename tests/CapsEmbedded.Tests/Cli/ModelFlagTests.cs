using System.Text.RegularExpressions;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// <c>--model mnist|fashion</c> of eval, predict, bench, the figures and export: the two generated models compiled into capsnet, each with its
/// embedded weights, class names and default data set. Uses the committed 200-image test fixtures.
/// </summary>
public sealed class ModelFlagTests() : TempDirectoryTest("capsnet-model-")
{
    private static string FashionPng => Path.Combine(AppContext.BaseDirectory, "Fixtures", "fashion", "item2-trouser.png");

    /// <summary>The "accuracy" line's count of right answers.</summary>
    private static int Right(string output) =>
        int.Parse(Regex.Match(output, @"accuracy\s+\d+\.\d\d% \((\d+)/200\)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

    private static double[] Lengths(string output) =>
        Regex.Match(output, @"lengths\s+(.*)").Groups[1].Value.Trim().Split(' ')
            .Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void Eval_model_fashion_reads_fashion_data_by_default_and_names_the_classes()
    {
        CopyFashionFixture(); // Dir/fashion, what --data-dir Dir resolves "fashion" to
        var (code, output, error) = Capsnet("eval", "--model", "fashion", "--data-dir", Dir, "--threads", "2");
        Assert.True(code == 0, error);
        Assert.Contains("compiled FashionCapsNet", output);
        Assert.Contains("weights embedded (fashion-mnist.safetensors)", output);
        Assert.Contains("data     fashion (test), 200 images", output);
        Assert.Contains("classes  0 = T-shirt/top, 1 = Trouser, 2 = Pullover, 3 = Dress, 4 = Coat, 5 = Sandal, 6 = Shirt, 7 = Sneaker, 8 = Bag, 9 = Ankle boot", output);
        Assert.InRange(Right(output), 175, 200); // the shipped model is ≈ 92 % right on all 10,000 test images

        // Without --model, eval runs the MNIST model on MNIST data, as before.
        CopyMnistFixture();
        var mnist = Capsnet("eval", "--data-dir", Dir, "--threads", "2");
        Assert.True(mnist.Code == 0, mnist.Error);
        Assert.Contains("compiled MnistCapsNet", mnist.Output);
        Assert.Contains("data     mnist (test), 200 images", mnist.Output);
        Assert.DoesNotContain("classes ", mnist.Output); // digits need no names
        Assert.InRange(Right(mnist.Output), 198, 200);

        // An explicit --data wins over the model's own data set.
        var crossed = Capsnet("eval", "--model", "fashion", "--data", "mnist", "--data-dir", Dir, "--threads", "2");
        Assert.True(crossed.Code == 0, crossed.Error);
        Assert.Contains("data     mnist (test)", crossed.Output);
        Assert.InRange(Right(crossed.Output), 0, 120);
    }

    [Fact]
    public void Data_fashion_without_model_or_weights_runs_the_Fashion_model()
    {
        CopyFashionFixture();
        var (code, output, error) = Capsnet("eval", "--data", "fashion", "--data-dir", Dir, "--threads", "2");
        Assert.True(code == 0, error);
        Assert.Contains("compiled FashionCapsNet", output);
        Assert.InRange(Right(output), 175, 200);

        // An explicit --model wins; so does a --weights file (run by the default class, as before).
        var mnistModel = Capsnet("eval", "--data", "fashion", "--model", "mnist", "--data-dir", Dir, "--threads", "2");
        Assert.True(mnistModel.Code == 0, mnistModel.Error);
        Assert.Contains("compiled MnistCapsNet", mnistModel.Output);
        Assert.InRange(Right(mnistModel.Output), 0, 120);
        string mnistFile = Onnx.OnnxExportTests.FindRepositoryFile("weights", "mnist.safetensors");
        var loaded = Capsnet("eval", "--data", "fashion", "--weights", mnistFile, "--data-dir", Dir, "--threads", "2");
        Assert.True(loaded.Code == 0, loaded.Error);
        Assert.Contains("compiled MnistCapsNet", loaded.Output);
        Assert.Equal(Right(mnistModel.Output), Right(loaded.Output));

        // The figures and bench follow --data the same way.
        string errors = P("errors.png");
        var figure = Capsnet("errors", "--data", "fashion", "--data-dir", Dir, "--limit", "50", "--threads", "2", "--out", errors);
        Assert.True(figure.Code == 0, figure.Error);
        int wrong = int.Parse(Regex.Match(figure.Output, @": (\d+) of 50 misclassified").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(wrong, 0, 10); // the Fashion model misses a few of 50; the MNIST model would miss most
        var bench = Capsnet("bench", "--data", "fashion", "--data-dir", Dir, "--warmup", "0", "--runs", "1", "--json");
        Assert.True(bench.Code == 0, bench.Error);
        Assert.Contains("\"model\":\"FashionCapsNet\"", bench.Output);
        Assert.Contains("\"images\":\"fashion test\"", bench.Output);
    }

    [Fact]
    public void Predict_model_fashion_prints_the_class_name_and_matches_the_reference_engine()
    {
        var generated = Capsnet("predict", "--model", "fashion", FashionPng);
        Assert.True(generated.Code == 0, generated.Error);
        Assert.Contains("class    1 (Trouser)", generated.Output);

        // The reference engine reads the same embedded file (F16, widened): same class, lengths within a printed digit
        // or two (the kernels sum in another order; 0.0162515 may print as ...252 or ...251).
        var reference = Capsnet("predict", "-m", "fashion", "--engine", "reference", FashionPng);
        Assert.True(reference.Code == 0, reference.Error);
        Assert.Contains("class    1 (Trouser)", reference.Output);
        var a = Lengths(generated.Output);
        var b = Lengths(reference.Output);
        Assert.Equal(10, a.Length);
        Assert.Equal(10, b.Length);
        for (int k = 0; k < 10; k++) Assert.InRange(Math.Abs(a[k] - b[k]), 0, 2e-6);

        var digit = Capsnet("predict", "--model", "mnist", Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist", "digit0-gray.png"));
        Assert.True(digit.Code == 0, digit.Error);
        Assert.Contains("class    7\n", digit.Output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Figures_and_export_take_the_model_flag()
    {
        CopyFashionFixture();
        string errors = P("errors.png");
        var (code, output, error) = Capsnet("errors", "--model", "fashion", "--data-dir", Dir, "--limit", "100", "--threads", "2", "--out", errors);
        Assert.True(code == 0, error);
        int wrong = int.Parse(Regex.Match(output, @": (\d+) of 100 misclassified").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(wrong, 1, 15); // ≈ 8 % of Fashion-MNIST test images are misclassified
        Assert.True(new FileInfo(errors).Length > 0);

        var reconstruct = Capsnet("reconstruct", "-m", "fashion", "--data-dir", Dir, "--count", "3", "--columns", "3", "--out", P("r.png"));
        Assert.True(reconstruct.Code == 0, reconstruct.Error);
        Assert.Contains("3 digits from 0", reconstruct.Output);

        string fashion = P("fashion.onnx"), mnist = P("mnist.onnx");
        Assert.Equal(0, Capsnet("export", "--model", "fashion", "--onnx", fashion).Code);
        Assert.Equal(0, Capsnet("export", "--onnx", mnist).Code);
        Assert.InRange(new FileInfo(fashion).Length, 27_000_000, 28_000_000); // the whole float32 network
        Assert.NotEqual(File.ReadAllBytes(mnist), File.ReadAllBytes(fashion)); // other weights
        AssertOneLineError(Capsnet("export", "--model", "fashion", "--weights", P("x.safetensors"), "--onnx", P("y.onnx")), "give one of them");
    }

    [Fact]
    public void A_model_that_is_not_compiled_in_or_int8_with_a_model_is_refused()
    {
        var unknown = Capsnet("predict", "--model", "shoes", FashionPng);
        Assert.NotEqual(0, unknown.Code);
        Assert.Contains("'shoes'", unknown.Error);
        Assert.Contains("'fashion'", unknown.Error);

        AssertOneLineError(Capsnet("predict", "--model", "fashion", "--precision", "int8", FashionPng), "--precision int8 runs the quantised --weights file");
        AssertOneLineError(Capsnet("eval", "--model", "fashion", "--data-dir", P("nothing-here")), "capsnet data fetch fashion");
        AssertOneLineError(Capsnet("bench", "--model", "fashion", "--precision", "int8", "--weights", P("q.int8.safetensors")),
            "--precision int8 times the quantised --weights file");
    }

    [Fact]
    public void Bench_model_fashion_times_the_generated_FashionCapsNet_with_its_embedded_weights()
    {
        var (code, output, error) = Capsnet("bench", "--model", "fashion", "--warmup", "1", "--runs", "2", "--tier", "Vector128", "--json");
        Assert.True(code == 0, error);
        Assert.Contains("\"model\":\"FashionCapsNet\"", output);
        Assert.Contains("\"weights\":\"embedded (fashion-mnist.safetensors)\"", output);
        Assert.Contains("\"tier\":\"Vector128\"", output);
        // Zero bytes per image through the session is CliTests' check (its own process, warmed up); in-process after one
        // warm-up call the JIT may still allocate.

        // One image split over two threads, through the session, as a text report.
        var split = Capsnet("bench", "--model", "fashion", "--warmup", "1", "--runs", "2", "--threads", "2");
        Assert.True(split.Code == 0, split.Error);
        Assert.Contains("model      FashionCapsNet (203,202,560 multiply-adds per image), weights embedded (fashion-mnist.safetensors)", split.Output);
        Assert.Contains("batch 1, threads 2", split.Output);

        // Without --model: the MNIST model, as before.
        Assert.Contains("\"model\":\"MnistCapsNet\"", Capsnet("bench", "--warmup", "0", "--runs", "1", "--json").Output);
    }
}
