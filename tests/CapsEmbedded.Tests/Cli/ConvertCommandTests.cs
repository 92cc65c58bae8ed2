using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Cli;

/// <summary><c>capsnet convert</c>: precision and class names changed, provenance kept, every bad request one line and no file touched.</summary>
public sealed class ConvertCommandTests() : TempDirectoryTest("capsnet-convert-")
{
    private string Tiny() => InitOnce(P("tiny.safetensors"), seed: 4);

    [Theory]
    [InlineData("f16", "F16")]
    [InlineData("bf16", "BF16")]
    [InlineData("F32", "F32")]
    public void Converts_keeping_metadata_and_noting_the_source(string flag, string dtype)
    {
        string input = Tiny(), output = P($"tiny-{flag}.safetensors");
        string text = CapsnetSucceeds("convert", "--weights", input, "--dtype", flag, "--out", output, "--class-names", "cat, dog ,bird");
        Assert.Contains($"wrote {output}: {dtype}", text);
        Assert.Contains("classes  cat, dog, bird", text);

        var header = SafeTensorsFile.ReadHeader(output).Header;
        Assert.All(header.Entries, e => Assert.Equal(dtype, e.DType));
        Assert.Equal("random seed=4", header.Metadata["capsnet.init"]); // provenance kept
        Assert.StartsWith($"tiny.safetensors (F32, sha256 {CapsEmbedded.IO.FileHash.Sha256(input)}) to {dtype}", header.Metadata["capsnet.converted_from"]);

        var original = CapsNetWeightsFile.Load(input);
        var converted = CapsNetWeightsFile.Load(output);
        Assert.Equal(new[] { "cat", "dog", "bird" }, converted.ClassNames);
        Assert.Contains($"dtype         {dtype} (widened", Capsnet("info", output).Output);
        float tolerance = dtype switch { "F16" => 1f / 2048, "BF16" => 1f / 256, _ => 0 };
        for (int k = 0; k < original.DigitWeight.Length; k++)
            Assert.True(Math.Abs(original.DigitWeight[k] - converted.DigitWeight[k]) <= Math.Abs(original.DigitWeight[k]) * tolerance + 1e-7f);
        if (dtype == "F32") Assert.Equal(original.PrimaryWeight, converted.PrimaryWeight);
        Assert.True(new FileInfo(output).Length < new FileInfo(input).Length * (dtype == "F32" ? 1.1 : 0.6));
    }

    [Fact]
    public void Without_dtype_the_input_precision_is_kept_and_only_names_change()
    {
        string f16 = P("a.safetensors"), named = P("b.safetensors");
        Assert.Equal(0, Capsnet("convert", "--weights", Tiny(), "--dtype", "f16", "--out", f16).Code);
        CapsnetSucceeds("convert", "--weights", f16, "--out", named, "--class-names", "x,y,z");
        Assert.All(SafeTensorsFile.ReadHeader(named).Header.Entries, e => Assert.Equal("F16", e.DType));
        Assert.Equal(CapsNetWeightsFile.Load(f16).DigitWeight, CapsNetWeightsFile.Load(named).DigitWeight); // F16 → F16 is exact
    }

    [Fact]
    public void Bad_requests_are_one_line_errors_and_write_nothing()
    {
        string input = Tiny(), output = P("out.safetensors");
        byte[] before = File.ReadAllBytes(input);
        AssertOneLineError(Capsnet("convert", "--weights", P("missing.safetensors"), "--dtype", "f16", "--out", output),
            "missing.safetensors: no such file");
        AssertOneLineError(Capsnet("convert", "--weights", input, "--dtype", "f8", "--out", output), "--dtype 'f8' is not a weight precision; use f32, f16 or bf16");
        AssertOneLineError(Capsnet("convert", "--weights", input, "--dtype", "f16", "--out", input), "is the input file");
        AssertOneLineError(Capsnet("convert", "--weights", input, "--dtype", "f16", "--out", output, "--class-names", "a,b"),
            "--class-names has 2 names; the architecture has 3 classes");
        AssertOneLineError(Capsnet("convert", "--weights", input, "--dtype", "f16", "--out", output, "--class-names", "a,,c"), "name 1 is empty");
        AssertOneLineError(Capsnet("convert", "--weights", input, "--out", P(Path.Combine("no-dir", "x.safetensors"))), "does not exist");
        Assert.Equal(before, File.ReadAllBytes(input));
        Assert.False(File.Exists(output));

        File.WriteAllText(output, "keep");
        AssertOneLineError(Capsnet("convert", "--weights", input, "--dtype", "f16", "--out", output), "exists; pass --force");
        Assert.Equal("keep", File.ReadAllText(output));
    }

    [Fact]
    public void A_weight_beyond_the_F16_range_is_refused_naming_the_tensor()
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1);
        weights.Fc2Weight[5] = 70000f;
        string input = P("big.safetensors"), output = P("big-f16.safetensors");
        CapsNetWeightsFile.Save(weights, input);
        AssertOneLineError(Capsnet("convert", "--weights", input, "--dtype", "f16", "--out", output),
            "tensor 'decoder.fc2.weight': value 5 is 70000, outside the range of F16");
        Assert.False(File.Exists(output));
        Assert.Equal(0, Capsnet("convert", "--weights", input, "--dtype", "bf16", "--out", output).Code); // BF16 has the range
    }

    [Fact]
    public void With_force_the_input_is_replaced_atomically()
    {
        string input = Tiny();
        CapsnetSucceeds("convert", "--weights", input, "--dtype", "bf16", "--out", input, "--force");
        Assert.All(SafeTensorsFile.ReadHeader(input).Header.Entries, e => Assert.Equal("BF16", e.DType));
        Assert.Equal(new[] { input }, Directory.GetFiles(Dir)); // no temporary file left beside it
    }

    [Fact]
    public void Predict_and_eval_print_the_class_names_of_an_F16_file()
    {
        string paper = P("paper.safetensors"), fashion = P("fashion-f16.safetensors");
        Assert.Equal(0, Capsnet("init", "--seed", "3", "--out", paper).Code);
        string convert = CapsnetSucceeds("convert", "--weights", paper, "--dtype", "f16", "--out", fashion, "--class-names",
            "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot");

        string png = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist", "digit0-gray.png");
        string output = CapsnetSucceeds("predict", "--weights", fashion, png);
        var names = CapsNetClassNames.FashionMnist;
        Assert.Matches(@"class    \d \(", output);
        int predicted = int.Parse(output.Split('\n')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"class    {predicted} ({names[predicted]})", output);
        // The generated engine (F16 widened at load) and the reference model agree on the class.
        Assert.Contains($"class    {predicted} ({names[predicted]})", Capsnet("predict", "--weights", fashion, "--engine", "reference", png).Output);

        string data = P("mnist");
        Directory.CreateDirectory(data);
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist");
        File.Copy(Path.Combine(fixtures, "t10k-200-images-idx3-ubyte"), Path.Combine(data, "t10k-images-idx3-ubyte"));
        File.Copy(Path.Combine(fixtures, "t10k-200-labels-idx1-ubyte"), Path.Combine(data, "t10k-labels-idx1-ubyte"));
        var eval = Capsnet("eval", "--weights", fashion, "--data", data, "--limit", "2");
        Assert.True(eval.Code == 0, eval.Error);
        Assert.Contains("classes  0 = T-shirt/top, 1 = Trouser, 2 = Pullover", eval.Output);
        Assert.DoesNotContain("classes  0 =", Capsnet("eval", "--weights", paper, "--data", data, "--limit", "2").Output);
    }
}
