using System.Reflection;
using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Quantization;
using CapsEmbedded.Weights;
using CapsEmbedded.Generator.Tests.Generated;
using Microsoft.CodeAnalysis;

namespace CapsEmbedded.Generator.Tests.Driver;

/// <summary>
/// A model generated from an int8-quantised Tiny file (made here with the Quantizer from Weights/tiny.safetensors): it
/// compiles, returns QuantizedCapsNet's bits on every pair of float and int8 tiers (one thread or one image split over
/// workers), has the float model's surface (Session, PredictBatch over a BatchContext), allocates nothing per Predict, and a
/// bad quantised file is a CAPS0014 diagnostic naming the problem (or, for values the header cannot show, a
/// WeightFormatException from Weights.Embedded naming the tensor).
/// </summary>
public class Int8GeneratorTests
{
    private const string FileName = "tiny.int8.safetensors";

    private const string Source = """
        using CapsEmbedded.Runtime;
        namespace Demo;
        [CapsNetModel("Weights/tiny.int8.safetensors", NativeExportPrefix = "tiny8")]
        public static partial class TinyInt8;

        // Array-based calls into the generated model: spans cannot pass through reflection.
        public static class Probe
        {
            private static TinyInt8.Workspace? s_workspace;

            public static int Predict(float[] image, float[] lengths, float[] capsules, float[] reconstruction, int tier, int int8Tier)
            {
                s_workspace ??= new TinyInt8.Workspace();
                return TinyInt8.Predict(TinyInt8.Weights.Embedded, s_workspace, image, lengths, capsules, reconstruction,
                    (CapsEmbedded.Kernels.SimdTier)tier, (CapsEmbedded.Kernels.Int8.Int8Tier)int8Tier);
            }

            public static void PredictBatch(float[] images, float[] lengths, int[] classes, int workers)
            {
                using var context = TinyInt8.CreateBatchContext(workers);
                TinyInt8.PredictBatch(TinyInt8.Weights.Embedded, images, lengths, classes, context);
            }

            /// <summary>One image split over <paramref name="workers"/> threads of a BatchContext.</summary>
            public static int PredictSplit(float[] image, float[] lengths, float[] capsules, float[] reconstruction, int tier, int int8Tier,
                int workers)
            {
                using var context = TinyInt8.CreateBatchContext(workers);
                return TinyInt8.Predict(TinyInt8.Weights.Embedded, context, image, lengths, capsules, reconstruction,
                    (CapsEmbedded.Kernels.SimdTier)tier, (CapsEmbedded.Kernels.Int8.Int8Tier)int8Tier);
            }

            /// <summary>The generated Session as the one engine interface sees it.</summary>
            public static ICapsNetSession Session() => new TinyInt8.Session(TinyInt8.Weights.Embedded);

            public static long AllocatedBytes(float[] image, int warmUp, int calls)
            {
                var weights = TinyInt8.Weights.Embedded;
                using var workspace = new TinyInt8.Workspace();
                var lengths = new float[TinyInt8.Classes];
                var capsules = new float[TinyInt8.DecoderInput];
                var reconstruction = new float[TinyInt8.DecoderOutput];
                for (int k = 0; k < warmUp; k++) TinyInt8.Predict(weights, workspace, image, lengths, capsules, reconstruction);
                long fewest = long.MaxValue;
                for (int window = 0; window < 3 && fewest != 0; window++)
                {
                    long before = System.GC.GetAllocatedBytesForCurrentThread();
                    for (int k = 0; k < calls; k++) TinyInt8.Predict(weights, workspace, image, lengths, capsules, reconstruction);
                    fewest = System.Math.Min(fewest, System.GC.GetAllocatedBytesForCurrentThread() - before);
                }
                return fewest;
            }

            public static object Embedded() => TinyInt8.Weights.Embedded;

            /// <summary>The C exports as C calls them: weights_load (null path: weights_embedded), workspace_create, predict, frees. Returns {load status, predict result}.</summary>
            public static unsafe int[] NativePredict(string? path, float[] image, float[] lengths)
            {
                nint weights = 0, workspace = 0;
                int load;
                if (path is null) load = ((delegate* unmanaged<nint, int>)&TinyInt8.NativeExports.WeightsEmbedded)((nint)(&weights));
                else
                {
                    byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(path + "\0");
                    fixed (byte* p = utf8) load = ((delegate* unmanaged<nint, nint, int>)&TinyInt8.NativeExports.WeightsLoad)((nint)p, (nint)(&weights));
                }
                if (load != 0) return new[] { load, 0 };
                ((delegate* unmanaged<nint, int>)&TinyInt8.NativeExports.WorkspaceCreate)((nint)(&workspace));
                int predicted;
                fixed (float* i = image) fixed (float* l = lengths)
                    predicted = ((delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, int>)&TinyInt8.NativeExports.Predict)(
                        weights, workspace, (nint)i, (nuint)image.Length, (nint)l, (nuint)lengths.Length);
                ((delegate* unmanaged<nint, int>)&TinyInt8.NativeExports.WorkspaceFree)(workspace);
                ((delegate* unmanaged<nint, int>)&TinyInt8.NativeExports.WeightsFree)(weights);
                return new[] { load, predicted };
            }

            public static unsafe string NativeLastError()
            {
                var buffer = new byte[4096];
                nuint length;
                fixed (byte* b = buffer) length = ((delegate* unmanaged<nint, nuint, nuint>)&TinyInt8.NativeExports.LastError)((nint)b, (nuint)buffer.Length);
                return System.Text.Encoding.UTF8.GetString(buffer, 0, (int)System.Math.Min(length, (nuint)buffer.Length - 1));
            }
        }
        """;

    /// <summary>Tiny's float weights quantised with a clip at the 99.9th percentile of conv1's outputs on 16 random images (some codes saturate at 127).</summary>
    private static QuantizedCapsNetWeights QuantizedTiny()
    {
        var weights = TestData.Tiny;
        int count = 16, length = weights.Architecture.InputLength;
        var images = new float[count * length];
        for (int i = 0; i < count; i++) TestData.RandomImage(length, (ulong)(100 + i)).CopyTo(images, i * length);
        var histogram = Quantizer.CalibrateConv1(weights, images, count);
        return Quantizer.Quantize(weights, histogram.Percentile(99.9), "16 random images, 99.9th percentile");
    }

    private static AdditionalText Header(byte[] file, Func<string, string>? editJson = null)
        => GeneratorHarness.Header(FileName, GeneratorHarness.HeaderText(file, GeneratorHarness.ProjectDirectory + "/Weights/" + FileName, editJson));

    /// <summary>Generates, compiles with <paramref name="file"/> as its manifest resource, and loads the Probe class.</summary>
    private static (Type Probe, string Model, string Constants) Compile(byte[] file)
    {
        var (result, generated) = GeneratorHarness.Run(Source, Header(file));
        Assert.Empty(result.Diagnostics);
        var output = generated.WithOptions(((Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions)generated.Options).WithAllowUnsafe(true));
        var probe = GeneratedAssembly.Load(output, FileName, file).GetType("Demo.Probe")!;
        var sources = result.Results.Single().GeneratedSources;
        string Text(string suffix) => sources.Single(s => s.HintName.EndsWith(suffix, StringComparison.Ordinal)).SourceText.ToString();
        return (probe, Text(".Model.g.cs"), Text(".Constants.g.cs"));
    }

    /// <summary>The Probe of a model generated from <see cref="QuantizedTiny"/>, and its architecture.</summary>
    private static (Type Probe, CapsNetArchitecture Architecture) CompileTiny()
        => (Compile(QuantizedWeightsFile.Write(QuantizedTiny())).Probe, TestData.Tiny.Architecture);

    private static int Predict(Type probe, float[] image, float[] lengths, float[] capsules, float[] reconstruction, SimdTier tier, Int8Tier int8Tier)
        => (int)probe.GetMethod("Predict")!.Invoke(null, new object[] { image, lengths, capsules, reconstruction, (int)tier, (int)int8Tier })!;

    [Fact]
    public void A_quantised_file_generates_an_int8_model_with_QuantizedCapsNets_bits_on_every_tier_pair()
    {
        var quantised = QuantizedTiny();
        byte[] file = QuantizedWeightsFile.Write(quantised);
        var (probe, model, constants) = Compile(file);
        Assert.Contains("QuantizedGemm.Multiply(patches, PrimaryPositions, PrimaryPatchLength", model);
        Assert.Contains("public const int PrimaryPatchLength = ", constants);

        var a = quantised.Architecture;
        using var runtime = QuantizedCapsNet.Create(QuantizedWeightsFile.Read(file, FileName));
        using var workspace = new QuantizedCapsNet.Workspace(a);
        var int8Tiers = Enum.GetValues<Int8Tier>().Where(Int8Tiers.IsSupported).ToList();
        Assert.Contains(Int8Tier.Scalar, int8Tiers);
        int pairs = 0;
        var classesSeen = new HashSet<int>();
        for (int seed = 1; seed <= 6; seed++)
        {
            var image = TestData.RandomImage(a.InputLength, (ulong)seed);
            foreach (var tier in SimdTiers.Supported)
                foreach (var int8Tier in int8Tiers)
                {
                    float[] lengths = new float[a.Classes], capsules = new float[a.DecoderInput], reconstruction = new float[a.DecoderOutput];
                    float[] expectedLengths = new float[a.Classes], expectedCapsules = new float[a.DecoderInput], expectedReconstruction = new float[a.DecoderOutput];
                    int predicted = Predict(probe, image, lengths, capsules, reconstruction, tier, int8Tier);
                    int expected = runtime.Predict(workspace, image, expectedLengths, expectedCapsules, expectedReconstruction, tier, int8Tier);
                    // Same kernels called in the same order on the same packed weights: the same bits, not merely close.
                    Assert.Equal(expected, predicted);
                    Assert.Equal(expectedLengths, lengths);
                    Assert.Equal(expectedCapsules, capsules);
                    Assert.Equal(expectedReconstruction, reconstruction);
                    Assert.Contains(lengths, v => v > 0f);
                    classesSeen.Add(predicted);
                    pairs++;
                }
        }
        Assert.True(pairs >= 6 * 2, $"only {pairs} tier pairs ran");

        // The int8 path really runs: the float model of the same (dequantised) weights gives other bits.
        var image1 = TestData.RandomImage(a.InputLength, 1);
        var floatLengths = new float[a.Classes];
        using (var floatWorkspace = new TinyCapsNet.Workspace())
        using (var floatWeights = TinyCapsNet.Weights.FromWeights(quantised.Weights))
            TinyCapsNet.Predict(floatWeights, floatWorkspace, image1, floatLengths);
        var int8Lengths = new float[a.Classes];
        Predict(probe, image1, int8Lengths, new float[a.DecoderInput], new float[a.DecoderOutput], SimdTiers.Best, Int8Tiers.Best);
        Assert.NotEqual(floatLengths, int8Lengths);
    }

    [Fact]
    public void The_int8_model_batch_equals_its_single_image_predictions()
    {
        var (probe, a) = CompileTiny();
        int count = 5;
        var images = new float[count * a.InputLength];
        for (int i = 0; i < count; i++) TestData.RandomImage(a.InputLength, (ulong)(40 + i)).CopyTo(images, i * a.InputLength);
        foreach (int workers in new[] { 1, 2, 3 })
        {
            var lengths = new float[count * a.Classes];
            var classes = new int[count];
            probe.GetMethod("PredictBatch")!.Invoke(null, new object[] { images, lengths, classes, workers });
            for (int i = 0; i < count; i++)
            {
                var one = new float[a.Classes];
                int c = Predict(probe, images[(i * a.InputLength)..((i + 1) * a.InputLength)], one, new float[a.DecoderInput], new float[a.DecoderOutput], SimdTiers.Best, Int8Tiers.Best);
                Assert.Equal(c, classes[i]);
                Assert.Equal(one, lengths[(i * a.Classes)..((i + 1) * a.Classes)]);
            }
        }
    }

    /// <summary>
    /// One image split over 2 and 3 workers (conv1 rows, int8 GEMM rows, capsules; Tiny's sizes give every part real work)
    /// returns the one-thread bits on every tier pair: the int32 sums are exact and each float step is computed as by one thread.
    /// </summary>
    [Fact]
    public void The_int8_model_split_over_workers_returns_the_one_thread_bits()
    {
        var (probe, a) = CompileTiny();
        foreach (var tier in SimdTiers.Supported)
            foreach (var int8Tier in Int8Tiers.Supported)
                for (int seed = 60; seed < 63; seed++)
                {
                    var image = TestData.RandomImage(a.InputLength, (ulong)seed);
                    float[] lengths = new float[a.Classes], capsules = new float[a.DecoderInput], reconstruction = new float[a.DecoderOutput];
                    int expected = Predict(probe, image, lengths, capsules, reconstruction, tier, int8Tier);
                    foreach (int workers in new[] { 1, 2, 3 })
                    {
                        float[] splitLengths = new float[a.Classes], splitCapsules = new float[a.DecoderInput], splitReconstruction = new float[a.DecoderOutput];
                        int predicted = (int)probe.GetMethod("PredictSplit")!.Invoke(null, new object[]
                            { image, splitLengths, splitCapsules, splitReconstruction, (int)tier, (int)int8Tier, workers })!;
                        Assert.Equal(expected, predicted);
                        Assert.Equal(lengths, splitLengths);
                        Assert.Equal(capsules, splitCapsules);
                        Assert.Equal(reconstruction, splitReconstruction);
                    }
                }
    }

    [Fact]
    public void The_int8_model_Session_is_an_ICapsNetSession_with_the_static_methods_bits()
    {
        var (probe, a) = CompileTiny();
        using var session = (CapsEmbedded.Runtime.ICapsNetSession)probe.GetMethod("Session")!.Invoke(null, null)!;
        Assert.Equal("TinyInt8", session.ModelName);
        Assert.Equal(CapsEmbedded.Runtime.ModelShape.Of(a), session.Shape);
        var image = TestData.RandomImage(a.InputLength, 77);
        float[] expected = new float[a.Classes], capsules = new float[a.DecoderInput], reconstruction = new float[a.DecoderOutput];
        int expectedClass = Predict(probe, image, expected, capsules, reconstruction, SimdTiers.Best, Int8Tiers.Best);
        var lengths = new float[a.Classes];
        Assert.Equal(expectedClass, session.Predict(image, lengths));
        Assert.Equal(expected, lengths);
        using var context = session.CreateBatchContext(2);
        var splitLengths = new float[a.Classes];
        Assert.Equal(expectedClass, session.Predict(context, image, splitLengths));
        Assert.Equal(expected, splitLengths);
        var batchLengths = new float[a.Classes];
        var classes = new int[1];
        session.PredictBatch(image, batchLengths, classes, context);
        Assert.Equal(expectedClass, classes[0]);
        Assert.Equal(expected, batchLengths);
        var again = new float[a.DecoderOutput];
        session.Reconstruct(capsules, expectedClass, again);
        Assert.Equal(reconstruction, again);
        Assert.Throws<ArgumentException>(() => session.PredictBatch(new float[a.InputLength + 1], new float[2 * a.Classes], new int[2], context));
    }

    [Fact]
    public void The_int8_model_Predict_allocates_nothing_when_warm()
    {
        byte[] file = QuantizedWeightsFile.Write(QuantizedTiny());
        var (probe, _, _) = Compile(file);
        var image = TestData.RandomImage(TestData.Tiny.Architecture.InputLength, 3);
        long bytes = (long)probe.GetMethod("AllocatedBytes")!.Invoke(null, new object[] { image, 10, 1000 })!;
        Assert.Equal(0, bytes);
    }

    [Theory]
    [InlineData("\"dtype\":\"I8\"", "\"dtype\":\"U8\"", "primary_caps.weight", "dtype U8 is not supported here; this tensor must be I8")]
    [InlineData("\"capsnet.quantization\":\"int8-sym-per-channel-u7\"", "\"capsnet.quantization\":\"int4-magic\"", "(metadata)",
        "capsnet.quantization = \"int4-magic\" is not supported; the only scheme is \"int8-sym-per-channel-u7\"")]
    [InlineData("\"capsnet.quantization.weight_scales\":\"primary_caps.weight_scale\",", "", "(metadata)",
        "capsnet.quantization.weight_scales is missing from __metadata__")]
    [InlineData("\"primary_caps.weight_scale\":{\"dtype\":\"F32\"", "\"primary_caps.weight_scale\":{\"dtype\":\"I32\"", "primary_caps.weight_scale",
        "dtype I32 is not supported here; this tensor must be F32")]
    public void A_bad_quantised_header_is_CAPS0014_naming_the_tensor_and_problem(string find, string replace, string tensor, string problem)
    {
        byte[] file = QuantizedWeightsFile.Write(QuantizedTiny());
        var header = Header(file, json =>
        {
            Assert.Contains(find, json);
            return json.Replace(find, replace);
        });
        var (result, _) = GeneratorHarness.Run(Source, header);
        Assert.Empty(result.GeneratedTrees);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("CAPS0014", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Contains(FileName, d.GetMessage());
        Assert.Contains($"tensor '{tensor}'", d.GetMessage());
        Assert.Contains(problem, d.GetMessage());
    }

    [Fact]
    public void I8_tensors_without_the_quantisation_metadata_stay_CAPS0005()
    {
        byte[] file = QuantizedWeightsFile.Write(QuantizedTiny());
        var header = Header(file, json => json.Replace("\"capsnet.quantization\":\"int8-sym-per-channel-u7\",", ""));
        var (result, _) = GeneratorHarness.Run(Source, header);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("CAPS0005", d.Id);
        Assert.Contains("dtype I8", d.GetMessage());
    }

    /// <summary>Values are not in the header the generator reads: the embedded file is validated in full when first used.</summary>
    [Theory]
    [InlineData("weight", "primary_caps.weight", "is -128; the scheme is symmetric")]
    [InlineData("scale", "primary_caps.weight_scale", "a scale must be greater than 0")]
    public void An_out_of_range_value_is_refused_by_Weights_Embedded_naming_the_tensor(string what, string tensor, string problem)
    {
        var quantised = QuantizedTiny();
        if (what == "weight") quantised.PrimaryWeight[5] = -128;
        else quantised.PrimaryWeightScale[2] = -1f;
        byte[] file = QuantizedWeightsFile.Write(quantised);
        var (probe, _, _) = Compile(file);
        var e = Assert.Throws<TargetInvocationException>(() => probe.GetMethod("Embedded")!.Invoke(null, null));
        var format = Assert.IsType<WeightFormatException>(e.InnerException);
        Assert.Equal(tensor, format.TensorName);
        Assert.Contains(problem, format.Message);
    }

    [Fact]
    public void The_C_exports_load_a_quantised_file_and_predict_as_the_managed_int8_model()
    {
        var quantised = QuantizedTiny();
        byte[] file = QuantizedWeightsFile.Write(quantised);
        var (probe, _, _) = Compile(file);
        var a = quantised.Architecture;
        string path = Path.Combine(Path.GetTempPath(), "capsnet-int8-" + Guid.NewGuid() + ".safetensors");
        File.WriteAllBytes(path, file);
        try
        {
            var image = TestData.RandomImage(a.InputLength, 7);
            var expected = new float[a.Classes];
            int expectedClass = Predict(probe, image, expected, new float[a.DecoderInput], new float[a.DecoderOutput], SimdTiers.Best, Int8Tiers.Best);
            foreach (string? source in new[] { path, null })
            {
                var lengths = new float[a.Classes];
                var result = (int[])probe.GetMethod("NativePredict")!.Invoke(null, new object?[] { source, image, lengths })!;
                Assert.Equal(0, result[0]);
                Assert.Equal(expectedClass, result[1]);
                Assert.Equal(expected, lengths);
            }

            // A float32 file is not this model's: a format error whose message says what the file is.
            var refused = (int[])probe.GetMethod("NativePredict")!.Invoke(null, new object?[] { TestData.PathOf("Weights", "tiny.safetensors"), image, new float[a.Classes] })!;
            Assert.Equal(-6, refused[0]); // NativeStatus.FormatError
            string message = (string)probe.GetMethod("NativeLastError")!.Invoke(null, null)!;
            Assert.Contains("tiny8_weights_load", message);
            Assert.Contains("this is a float32 weight file, not a quantised one", message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// As SnapshotTests for the float model: review the diff after UPDATE_SNAPSHOTS=1 (the file's hash changes with the
    /// Quantizer). The Constants file is written by the same code for both precisions: it must be the float model's but for
    /// the class name and the weight file's own name, hash and length.
    /// </summary>
    [Fact]
    public void The_int8_model_source_matches_the_snapshot()
    {
        const string plain = """
            using CapsEmbedded.Runtime;
            namespace Demo;
            [CapsNetModel("Weights/tiny.int8.safetensors")]
            public static partial class TinyInt8;
            """;
        var (result, _) = GeneratorHarness.Run(plain, Header(QuantizedWeightsFile.Write(QuantizedTiny())));
        Assert.Empty(result.Diagnostics);
        var sources = result.Results.Single().GeneratedSources;
        Assert.Equal(new[] { "Demo.TinyInt8.Constants.g.cs", "Demo.TinyInt8.Model.g.cs" }, sources.Select(s => s.HintName).Order(StringComparer.Ordinal));
        GeneratorHarness.AssertMatchesSnapshot(sources.Single(s => s.HintName == "Demo.TinyInt8.Model.g.cs"));

        var (floatResult, _) = GeneratorHarness.Run(GeneratorHarness.TinySource, GeneratorHarness.TinyHeader());
        string floatConstants = floatResult.Results.Single().GeneratedSources.Single(s => s.HintName == "Demo.TinyCapsNet.Constants.g.cs").SourceText.ToString();
        string int8Constants = sources.Single(s => s.HintName == "Demo.TinyInt8.Constants.g.cs").SourceText.ToString();
        // After the header comment (file name and hash differ) the two files are the same text but for those values.
        static string Body(string text) => text[text.IndexOf("#nullable enable", StringComparison.Ordinal)..];
        static string Value(string text, string constant)
        {
            int start = text.IndexOf(" " + constant + " = ", StringComparison.Ordinal) + constant.Length + 4;
            return text[start..text.IndexOf(';', start)];
        }
        string expected = Body(floatConstants).Replace("TinyCapsNet", "TinyInt8");
        foreach (var constant in new[] { "WeightsFileName", "WeightsResourceName", "WeightsSha256", "WeightsFileLength" })
            expected = expected.Replace(Value(floatConstants, constant), Value(int8Constants, constant));
        Assert.Equal(expected, Body(int8Constants));
    }
}
