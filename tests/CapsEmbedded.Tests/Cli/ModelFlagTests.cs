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
        string output = CapsnetSucceeds("eval", "--model", "fashion", "--data-dir", Dir, "--threads", "2");
        Assert.Contains("compiled FashionCapsNet", output);
        Assert.Contains("weights embedded (fashion-mnist.safetensors)", output);
        Assert.Contains("data     fashion (test), 200 images", output);
        Assert.Contains("classes  0 = T-shirt/top, 1 = Trouser, 2 = Pullover, 3 = Dress, 4 = Coat, 5 = Sandal, 6 = Shirt, 7 = Sneaker, 8 = Bag, 9 = Ankle boot", output);
        Assert.InRange(Right(output), 175, 200); // the shipped model is ≈ 92 % right on all 10,000 test images

        // Without --model, eval runs the MNIST model on MNIST data, as before.
        CopyMnistFixture();
        string mnist = CapsnetSucceeds("eval", "--data-dir", Dir, "--threads", "2");
        Assert.Contains("compiled MnistCapsNet", mnist);
        Assert.Contains("data     mnist (test), 200 images", mnist);
        Assert.DoesNotContain("classes ", mnist); // digits need no names
        Assert.InRange(Right(mnist), 198, 200);

        // An explicit --data wins over the model's own data set.
        string crossed = CapsnetSucceeds("eval", "--model", "fashion", "--data", "mnist", "--data-dir", Dir, "--threads", "2");
        Assert.Contains("data     mnist (test)", crossed);
        Assert.InRange(Right(crossed), 0, 120);
    }

    [Fact]
    public void Data_fashion_without_model_or_weights_runs_the_Fashion_model()
    {
        CopyFashionFixture();
        string output = CapsnetSucceeds("eval", "--data", "fashion", "--data-dir", Dir, "--threads", "2");
        Assert.Contains("compiled FashionCapsNet", output);
        Assert.InRange(Right(output), 175, 200);

        // An explicit --model wins; so does a --weights file (run by the default class, as before).
        string mnistModel = CapsnetSucceeds("eval", "--data", "fashion", "--model", "mnist", "--data-dir", Dir, "--threads", "2");
        Assert.Contains("compiled MnistCapsNet", mnistModel);
        Assert.InRange(Right(mnistModel), 0, 120);
        string mnistFile = Onnx.OnnxExportTests.FindRepositoryFile("weights", "mnist.safetensors");
        string loaded = CapsnetSucceeds("eval", "--data", "fashion", "--weights", mnistFile, "--data-dir", Dir, "--threads", "2");
        Assert.Contains("compiled MnistCapsNet", loaded);
        Assert.Equal(Right(mnistModel), Right(loaded));

        // The figures and bench follow --data the same way.
        string errors = P("errors.png");
        string figure = CapsnetSucceeds("errors", "--data", "fashion", "--data-dir", Dir, "--limit", "50", "--threads", "2", "--out", errors);
        int wrong = int.Parse(Regex.Match(figure, @": (\d+) of 50 misclassified").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(wrong, 0, 10); // the Fashion model misses a few of 50; the MNIST model would miss most
        string bench = CapsnetSucceeds("bench", "--data", "fashion", "--data-dir", Dir, "--warmup", "0", "--runs", "1", "--json");
        Assert.Contains("\"model\":\"FashionCapsNet\"", bench);
        Assert.Contains("\"images\":\"fashion test\"", bench);
    }

    [Fact]
    public void Predict_model_fashion_prints_the_class_name_and_matches_the_reference_engine()
    {
        string generated = CapsnetSucceeds("predict", "--model", "fashion", FashionPng);
        Assert.Contains("class    1 (Trouser)", generated);

        // The reference engine reads the same embedded file (F16, widened): same class, lengths within a printed digit
        // or two (the kernels sum in another order; 0.0162515 may print as ...252 or ...251).
        string reference = CapsnetSucceeds("predict", "-m", "fashion", "--engine", "reference", FashionPng);
        Assert.Contains("class    1 (Trouser)", reference);
        var a = Lengths(generated);
        var b = Lengths(reference);
        Assert.Equal(10, a.Length);
        Assert.Equal(10, b.Length);
        for (int k = 0; k < 10; k++) Assert.InRange(Math.Abs(a[k] - b[k]), 0, 2e-6);

        string digit = CapsnetSucceeds("predict", "--model", "mnist", Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist", "digit0-gray.png"));
        Assert.Contains("class    7\n", digit.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Figures_and_export_take_the_model_flag()
    {
        CopyFashionFixture();
        string errors = P("errors.png");
        string output = CapsnetSucceeds("errors", "--model", "fashion", "--data-dir", Dir, "--limit", "100", "--threads", "2", "--out", errors);
        int wrong = int.Parse(Regex.Match(output, @": (\d+) of 100 misclassified").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(wrong, 1, 15); // ≈ 8 % of Fashion-MNIST test images are misclassified
        Assert.True(new FileInfo(errors).Length > 0);

        string reconstruct = CapsnetSucceeds("reconstruct", "-m", "fashion", "--data-dir", Dir, "--count", "3", "--columns", "3", "--out", P("r.png"));
        Assert.Contains("3 digits from 0", reconstruct);

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
        string output = CapsnetSucceeds("bench", "--model", "fashion", "--warmup", "1", "--runs", "2", "--tier", "Vector128", "--json");
        Assert.Contains("\"model\":\"FashionCapsNet\"", output);
        Assert.Contains("\"weights\":\"embedded (fashion-mnist.safetensors)\"", output);
        Assert.Contains("\"tier\":\"Vector128\"", output);
        // Zero bytes per image through the session is CliTests' check (its own process, warmed up); in-process after one
        // warm-up call the JIT may still allocate.

        // One image split over two threads, through the session, as a text report.
        string split = CapsnetSucceeds("bench", "--model", "fashion", "--warmup", "1", "--runs", "2", "--threads", "2");
        Assert.Contains("model      FashionCapsNet (203,202,560 multiply-adds per image), weights embedded (fashion-mnist.safetensors)", split);
        Assert.Contains("batch 1, threads 2", split);

        // Without --model: the MNIST model, as before.
        Assert.Contains("\"model\":\"MnistCapsNet\"", Capsnet("bench", "--warmup", "0", "--runs", "1", "--json").Output);
    }
}
