using CapsEmbedded.IO;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Cli;

/// <summary><c>capsnet average</c> and <see cref="WeightAveraging"/>: the element-wise mean, its provenance, and every bad request one line with nothing written.</summary>
public sealed class AverageCommandTests() : TempDirectoryTest("capsnet-average-")
{
    [Fact]
    public void The_mean_of_three_files_is_each_weight_summed_in_double_and_rounded_once()
    {
        string a = InitOnce(P("a.safetensors"), 1), b = InitOnce(P("b.safetensors"), 2), c = InitOnce(P("c.safetensors"), 3);
        string output = P("mean.safetensors");
        string text = CapsnetSucceeds("average", a, b, c, "--out", output);
        Assert.Contains($"wrote {output}: mean of 3 files, F32", text);

        var (wa, wb, wc) = (CapsNetWeightsFile.Load(a), CapsNetWeightsFile.Load(b), CapsNetWeightsFile.Load(c));
        var mean = CapsNetWeightsFile.Load(output);
        Assert.Equal(CapsNetArchitecture.Tiny, mean.Architecture);
        foreach (var spec in mean.Architecture.Tensors)
        {
            float[] m = mean[spec.Name], x = wa[spec.Name], y = wb[spec.Name], z = wc[spec.Name];
            for (int k = 0; k < m.Length; k++)
                Assert.Equal((float)(((double)x[k] + y[k] + z[k]) * (1.0 / 3)), m[k]);
        }
        Assert.NotEqual(wa.DigitWeight, mean.DigitWeight); // the seeds differ, so the mean is none of them

        string note = mean.Metadata[WeightAveraging.AveragedFromKey];
        Assert.StartsWith("mean of 3: a.safetensors (sha256 " + FileHash.Sha256(a) + "), b.safetensors", note);
        Assert.Contains("c.safetensors (sha256 " + FileHash.Sha256(c) + ")", note);
        Assert.Equal("capsnet average", mean.Metadata["capsnet.created_by"]);
    }

    [Fact]
    public void The_mean_of_a_file_with_itself_under_two_names_is_the_file_and_f16_output_is_rounded()
    {
        string a = InitOnce(P("a.safetensors"), 5), copy = P("copy.safetensors"), f16 = P("mean16.safetensors");
        File.Copy(a, copy);
        Assert.Equal(0, Capsnet("average", a, copy, "--out", P("same.safetensors")).Code);
        Assert.Equal(CapsNetWeightsFile.Load(a).PrimaryWeight, CapsNetWeightsFile.Load(P("same.safetensors")).PrimaryWeight); // (x + x) / 2 = x exactly

        CapsnetSucceeds("average", a, copy, "--out", f16, "--dtype", "f16");
        Assert.All(SafeTensorsFile.ReadHeader(f16).Header.Entries, e => Assert.Equal("F16", e.DType));
    }

    [Fact]
    public void Training_provenance_is_kept_but_not_the_last_files_test_error()
    {
        var first = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1);
        var last = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 2);
        last.Metadata["training.seed"] = "6";
        last.Metadata["training.test_error"] = "0.0031";
        last.Metadata["training.test_images"] = "10000";
        var mean = WeightAveraging.Average([("first", first), ("last", last)], "note");
        Assert.Equal("6", mean.Metadata["training.seed"]);
        Assert.False(mean.Metadata.ContainsKey("training.test_error"));
        Assert.False(mean.Metadata.ContainsKey("training.test_images"));
        Assert.Equal("note", mean.Metadata[WeightAveraging.AveragedFromKey]);
    }

    [Fact]
    public void Files_of_different_architectures_or_class_names_are_refused_naming_them()
    {
        var tiny = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1);
        var routedOnce = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny with { RoutingIterations = 1 }, 1);
        var named = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 1);
        named.Metadata[CapsNetClassNames.MetadataKey] = CapsNetClassNames.Encode(["x", "y", "z"]);
        Assert.Contains("r1.safetensors holds", Assert.Throws<ArgumentException>(() => WeightAveraging.Average([("t.safetensors", tiny), ("r1.safetensors", routedOnce)], "")).Message);
        Assert.Contains("named.safetensors names its classes x,y,z", Assert.Throws<ArgumentException>(() => WeightAveraging.Average([("t", tiny), ("named.safetensors", named)], "")).Message);
        Assert.Contains("at least 2", Assert.Throws<ArgumentException>(() => WeightAveraging.Average([("t", tiny)], "")).Message);

        CapsNetWeightsFile.Save(routedOnce, P("r1.safetensors"));
        AssertOneLineError(Capsnet("average", InitOnce(P("a.safetensors"), 1), P("r1.safetensors"), "--out", P("out.safetensors")), "r1.safetensors holds");
        Assert.False(File.Exists(P("out.safetensors")));
    }

    [Fact]
    public void Bad_requests_are_one_line_errors_and_leave_every_file_as_it_was()
    {
        string a = InitOnce(P("a.safetensors"), 1), b = InitOnce(P("b.safetensors"), 2), existing = P("existing.safetensors");
        File.WriteAllText(existing, "keep me");
        byte[] before = File.ReadAllBytes(a);
        AssertOneLineError(Capsnet("average", a, "--out", P("o.safetensors")), "at least 2 weight files, got 1");
        AssertOneLineError(Capsnet("average", a, a, "--out", P("o.safetensors")), "is given twice");
        AssertOneLineError(Capsnet("average", a, b, "--out", a, "--force"), "is one of the inputs");
        AssertOneLineError(Capsnet("average", a, b, "--out", existing), "exists");
        AssertOneLineError(Capsnet("average", a, P("missing.safetensors"), "--out", P("o.safetensors")), "missing.safetensors: no such file");
        AssertOneLineError(Capsnet("average", a, b, "--out", P("o.safetensors"), "--dtype", "f8"), "--dtype 'f8' is not a weight precision");
        File.WriteAllText(P("junk.safetensors"), "not a weight file");
        AssertOneLineError(Capsnet("average", a, P("junk.safetensors"), "--out", P("o.safetensors")), "junk.safetensors");

        Assert.Equal("keep me", File.ReadAllText(existing));
        Assert.Equal(before, File.ReadAllBytes(a));
        Assert.False(File.Exists(P("o.safetensors")));
        Assert.Equal(0, Capsnet("average", a, b, "--out", existing, "--force").Code); // --force replaces it
        Assert.Equal(CapsNetArchitecture.Tiny, CapsNetWeightsFile.Load(existing).Architecture);
    }

    // Issue 34, row 10: one file by its identity (device and inode), one input held at a time. Each failed before its fix.

    [Fact]
    public void Average_sees_one_file_through_links_and_refuses_it_twice()
    {
        string a = InitOnce(P("a.safetensors"), seed: 1), b = InitOnce(P("b.safetensors"), seed: 2);
        File.CreateSymbolicLink(P("soft.safetensors"), a);
        using (var ln = System.Diagnostics.Process.Start("ln", [a, P("hard.safetensors")])) ln.WaitForExit();
        AssertOneLineError(Capsnet("average", "--out", P("m.safetensors"), a, b, P("soft.safetensors")), "is given twice");
        AssertOneLineError(Capsnet("average", "--out", P("m.safetensors"), P("hard.safetensors"), b, a), "is given twice");
        AssertOneLineError(Capsnet("average", "--out", P("hard.safetensors"), a, b, "--force"), "is one of the inputs");
        Assert.False(File.Exists(P("m.safetensors")));
        Assert.Equal(0, Capsnet("average", "--out", P("m.safetensors"), a, b).Code);
    }

    [Fact]
    public void Average_holds_one_input_at_a_time()
    {
        // Eight paper-size files (33 MB of floats each) under a 224 MB heap: holding them all (the old way) cannot fit.
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Paper, 4);
        File.WriteAllBytes(P("w0.safetensors"), CapsNetWeightsFile.Write(weights, SafeTensorsDType.F16, "w0"));
        var inputs = Enumerable.Range(0, 8).Select(i => P($"w{i}.safetensors")).ToArray();
        foreach (string copy in inputs[1..]) File.Copy(inputs[0], copy);
        var result = ChildProcessRun(["average", "--out", P("mean.safetensors"), .. inputs],
            new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0xE000000" });
        Assert.True(result.Code == 0, result.Error);
        Assert.Equal(weights.PrimaryWeight[12345], CapsNetWeightsFile.Load(P("mean.safetensors")).PrimaryWeight[12345], 0.002f);
    }

    private static (int Code, string Output, string Error) ChildProcessRun(string[] args, Dictionary<string, string> environment) =>
        CapsEmbedded.TestSupport.ChildProcess.Run(Path.Combine(AppContext.BaseDirectory, "capsnet.dll"), args, environment, timeoutSeconds: 120);
}
