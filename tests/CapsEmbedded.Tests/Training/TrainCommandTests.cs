using System.Buffers.Binary;
using System.CommandLine;
using System.Globalization;
using CapsEmbedded.Cli.Commands;
using CapsEmbedded.Data;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Training;

/// <summary><c>capsnet train</c> end to end on the tiny architecture with a synthetic 10×10 IDX data set.</summary>
public sealed class TrainCommandTests() : TempDirectoryTest("capsnet-train-cli-")
{
    /// <summary><c>capsnet train</c> alone (its command without the rest of the CLI), in this process, output captured.</summary>
    internal static (int Code, string Output, string Error) Train(params string[] args)
    {
        var root = new RootCommand { TrainCommand.Create() };
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = root.Parse(["train", .. args]).Invoke(new InvocationConfiguration
        {
            EnableDefaultExceptionHandler = false, Output = output, Error = error,
        });
        return (code, output.ToString(), error.ToString());
    }

    /// <summary><see cref="Train"/> that must succeed; returns what it wrote to standard output.</summary>
    private static string TrainSucceeds(params string[] args)
    {
        var (code, output, error) = Train(args);
        Assert.True(code == 0, error + output);
        return output;
    }

    internal static void WriteIdx(string directory, DatasetSplit split, LabeledImages set)
    {
        var images = new byte[16 + set.Pixels.Length];
        BinaryPrimitives.WriteInt32BigEndian(images, 0x803);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4), set.Count);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(8), set.Rows);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(12), set.Cols);
        set.Pixels.CopyTo(images, 16);
        File.WriteAllBytes(Path.Combine(directory, DatasetStore.StandardFileName(split, images: true)), images);
        var labels = new byte[8 + set.Count];
        BinaryPrimitives.WriteInt32BigEndian(labels, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(labels.AsSpan(4), set.Count);
        set.Labels.CopyTo(labels, 8);
        File.WriteAllBytes(Path.Combine(directory, DatasetStore.StandardFileName(split, images: false)), labels);
    }

    /// <summary>The folder <paramref name="data"/> with <see cref="SessionTests.Shapes"/> as the train and test split; returns it.</summary>
    internal static string WriteShapes(string data, int trainCount, int testCount)
    {
        Directory.CreateDirectory(data);
        WriteIdx(data, DatasetSplit.Train, SessionTests.Shapes(trainCount, 1));
        WriteIdx(data, DatasetSplit.Test, SessionTests.Shapes(testCount, 2));
        return data;
    }

    private string ShapesData() => WriteShapes(P("shapes"), trainCount: 40, testCount: 12);

    [Fact]
    public void Convert_takes_the_weights_out_of_a_checkpoint_as_the_run_left_them()
    {
        string data = ShapesData();
        string output = P("run.safetensors"), fromCheckpoint = P("from-checkpoint.safetensors");
        string text = TrainSucceeds("--arch", "tiny", "--data", data, "--epochs", "1", "--batch", "10", "--threads", "1",
            "--seed", "5", "--out", output, "--plain");
        // The checkpoint written after the last epoch holds the final parameters: the same bits as the weight file.
        var converted = Capsnet("convert", "--weights", Path.ChangeExtension(output, ".ckpt"), "--dtype", "f32", "--out", fromCheckpoint);
        Assert.True(converted.Code == 0, converted.Error);
        var expected = CapsNetWeightsFile.Load(output);
        var actual = CapsNetWeightsFile.Load(fromCheckpoint);
        foreach (var spec in CapsNetArchitecture.Tiny.Tensors) Assert.Equal(expected[spec.Name], actual[spec.Name]);
        Assert.Equal("step 4 (1 of 1 epochs done, 0 of 40 samples into the next), batch 10, lr 0.001 x 0.96, seed 5", actual.Metadata["training.checkpoint"]);
        Assert.StartsWith("run.ckpt (training checkpoint, F32, sha256 ", actual.Metadata["capsnet.converted_from"]);
        Assert.Equal("images", actual.Metadata["training.data"]);
        Assert.Equal("4", actual.Metadata["training.steps"]);
    }

    [Fact]
    public void Trains_writes_weights_with_provenance_log_chart_and_checkpoint_then_resumes()
    {
        string data = ShapesData();
        string output = Path.Combine(Dir, "out", "tiny.safetensors");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var (code, text, error) = Train("--arch", "tiny", "--data", data, "--epochs", "2", "--batch", "10", "--lr", "0.01",
            "--threads", "2", "--seed", "3", "--out", output, "--plain");
        Assert.True(code == 0, error + text);
        Assert.Equal("", error);
        Assert.Contains("epoch 2:", text);

        var weights = CapsNetWeightsFile.Load(output);
        Assert.Equal(CapsNetArchitecture.Tiny, weights.Architecture);
        Assert.Equal("3", weights.Metadata["training.seed"]);
        Assert.Equal("2", weights.Metadata["training.epochs"]);
        Assert.Equal("8", weights.Metadata["training.steps"]);
        Assert.Contains("--epochs 2", weights.Metadata["training.command"]);
        Assert.True(double.TryParse(weights.Metadata["training.test_error"], CultureInfo.InvariantCulture, out _));
        Assert.True(weights.Metadata.ContainsKey("training.wall_seconds"));
        Assert.True(weights.Metadata.ContainsKey("training.date"));

        string csv = Path.ChangeExtension(output, ".csv");
        Assert.Equal(3, File.ReadAllLines(csv).Length);
        Assert.StartsWith("<svg", File.ReadAllText(Path.ChangeExtension(output, ".svg")));
        var curve = StbImageSharp.ImageResult.FromMemory(File.ReadAllBytes(Path.ChangeExtension(output, ".png")), StbImageSharp.ColorComponents.RedGreenBlue);
        Assert.Equal(CapsEmbedded.Cli.Figures.FigureRenderer.CurveWidth, curve.Width); // the same curve as a PNG
        string checkpoint = Path.ChangeExtension(output, ".ckpt");
        Assert.Equal(8, TrainingCheckpoint.Load(checkpoint).State.Step);

        text = TrainSucceeds("--arch", "tiny", "--data", data, "--epochs", "3", "--out", output, "--resume", "--plain");
        Assert.Contains("resuming", text);
        Assert.Equal("12", CapsNetWeightsFile.Load(output).Metadata["training.steps"]);
        Assert.Equal(4, File.ReadAllLines(csv).Length);
    }

    /// <summary>Options with a default value parse to an implicit result, not null: "given" must mean given.</summary>
    [Fact]
    public void Group_defaults_to_at_most_the_batch_and_resume_keeps_the_checkpoints_threads()
    {
        string data = ShapesData();
        string output = P("small.safetensors");
        string text = TrainSucceeds("--arch", "tiny", "--data", data, "--epochs", "1", "--batch", "4", "--limit", "8", "--threads", "1",
            "--out", output, "--plain");
        Assert.Equal(4, TrainingCheckpoint.Load(Path.ChangeExtension(output, ".ckpt")).Options.GroupSize);
        text = TrainSucceeds("--arch", "tiny", "--data", data, "--epochs", "2", "--limit", "8", "--out", output, "--resume", "--plain");
        Assert.DoesNotContain("note:", text);
        Assert.Equal("1", CapsNetWeightsFile.Load(output).Metadata["training.threads"]);
    }

    [Fact]
    public void Save_epochs_writes_each_epochs_weights_the_last_equal_to_the_final_file_and_they_average()
    {
        string data = ShapesData();
        string output = P("swa.safetensors");
        string text = TrainSucceeds("--arch", "tiny", "--data", data, "--epochs", "2", "--batch", "10", "--lr", "0.01",
            "--threads", "1", "--seed", "3", "--out", output, "--plain", "--save-epochs");
        string epoch1 = P("swa.epoch-1.safetensors"), epoch2 = P("swa.epoch-2.safetensors");
        Assert.Contains($"{epoch1} … {epoch2}", text);
        var (w1, w2, final) = (CapsNetWeightsFile.Load(epoch1), CapsNetWeightsFile.Load(epoch2), CapsNetWeightsFile.Load(output));
        Assert.Equal("1", w1.Metadata["training.epochs"]);
        Assert.Equal("4", w1.Metadata["training.steps"]);
        Assert.Equal("2", w2.Metadata["training.epochs"]);
        foreach (var spec in final.Architecture.Tensors) Assert.Equal(final[spec.Name], w2[spec.Name]); // the last epoch's file is the final weights
        Assert.NotEqual(w1.DigitWeight, w2.DigitWeight); // an epoch of training moved them
        Assert.Single(text.Split('\n'), l => l.StartsWith("done:", StringComparison.Ordinal)); // the epoch files are written quietly

        var average = Capsnet("average", epoch1, epoch2, "--out", P("swa-mean.safetensors"));
        Assert.True(average.Code == 0, average.Error);
        Assert.Equal((w1.DigitWeight[0] + (double)w2.DigitWeight[0]) / 2, CapsNetWeightsFile.Load(P("swa-mean.safetensors")).DigitWeight[0], 6);

        // A new run does not overwrite another run's epoch files without --force; it stops before training.
        byte[] before = File.ReadAllBytes(epoch1);
        File.Copy(epoch1, P("other.epoch-1.safetensors"));
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--epochs", "2", "--out", P("other.safetensors"), "--checkpoint", P("other.ckpt"),
            "--plain", "--save-epochs", "--seed", "4", "--batch", "10"), "other.epoch-1.safetensors");
        File.Delete(P("other.epoch-1.safetensors"));
        File.Copy(epoch1, P("other.epoch-2.safetensors"));
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--epochs", "2", "--out", P("other.safetensors"), "--checkpoint", P("other.ckpt"),
            "--plain", "--save-epochs", "--seed", "4", "--batch", "10"), "other.epoch-2.safetensors");
        Assert.Equal(before, File.ReadAllBytes(P("other.epoch-2.safetensors")));
        Assert.False(File.Exists(P("other.safetensors")));
    }

    [Fact]
    public void Capsnet_train_host_gives_capsnet_trains_bits_and_each_resumes_the_others_checkpoint()
    {
        string data = ShapesData();
        string[] run = ["--arch", "tiny", "--data", data, "--batch", "10", "--lr", "0.01", "--threads", "2", "--seed", "7", "--save-epochs"];
        var host = CapsnetTrain([.. run, "--epochs", "2", "--out", P("host.safetensors")]);
        Assert.True(host.Code == 0, host.Error + host.Output);
        Assert.Equal("", host.Error);
        Assert.Contains("epoch 2:", host.Output);
        Assert.Contains("done: 2 epochs, 8 steps", host.Output);
        var cli = Train([.. run, "--epochs", "2", "--out", P("cli.safetensors"), "--plain"]);
        Assert.True(cli.Code == 0, cli.Error + cli.Output);

        var (fromHost, fromCli) = (CapsNetWeightsFile.Load(P("host.safetensors")), CapsNetWeightsFile.Load(P("cli.safetensors")));
        foreach (var spec in fromHost.Architecture.Tensors) Assert.Equal(fromCli[spec.Name], fromHost[spec.Name]); // the same library code, the same bits
        Assert.Equal("capsnet-train", fromHost.Metadata["capsnet.created_by"]);
        Assert.StartsWith("capsnet-train train", fromHost.Metadata["training.command"]);
        Assert.Equal(CapsNetWeightsFile.Load(P("host.epoch-2.safetensors")).DigitWeight, fromHost.DigitWeight);
        Assert.Equal(File.ReadAllText(P("cli.csv")).Split('\n')[0], File.ReadAllText(P("host.csv")).Split('\n')[0]);
        Assert.StartsWith("<svg", File.ReadAllText(P("host.svg")));

        // A third epoch either way: capsnet train resumes capsnet-train's checkpoint and vice versa, to the same bits.
        var a = Train([.. run, "--epochs", "3", "--out", P("host.safetensors"), "--resume", "--plain"]);
        var b = CapsnetTrain([.. run, "--epochs", "3", "--out", P("cli.safetensors"), "--resume"]);
        Assert.True(a.Code == 0 && b.Code == 0, a.Error + b.Error);
        Assert.Equal(CapsNetWeightsFile.Load(P("cli.safetensors")).PrimaryWeight, CapsNetWeightsFile.Load(P("host.safetensors")).PrimaryWeight);
        Assert.True(File.Exists(P("cli.epoch-3.safetensors")));
    }

    [Fact]
    public void Capsnet_train_host_refuses_bad_requests_in_one_line_and_overwrites_nothing()
    {
        string data = ShapesData(), output = P("h.safetensors");
        File.WriteAllText(P("h.epoch-2.safetensors"), "keep me");
        var (code, text, error) = CapsnetTrain("--arch", "tiny", "--data", data, "--epochs", "2", "--batch", "10", "--out", output, "--save-epochs");
        Assert.Equal(1, code);
        Assert.Equal($"capsnet-train: error: --save-epochs' file {P("h.epoch-2.safetensors")} exists; remove it, or continue its run with --resume", error.Trim());
        Assert.Equal("keep me", File.ReadAllText(P("h.epoch-2.safetensors")));
        Assert.False(File.Exists(output));
        Assert.Equal("", text);

        foreach (var (args, message) in new (string[], string)[]
        {
            (["--arch", "tiny", "--data", data, "--batch", "0"], "--batch must be at least 1"),
            (["--arch", "tiny", "--data", data, "--threads", "0"], "--threads must be at least 1"),
            (["--arch", "tiny", "--data", data, "--decay", "2"], "--decay"),
            (["--arch", "tiny", "--data", P("missing")], "missing"),
            (["--arch", "tiny", "--data", data, "--epochs", "x"], "x"),
            (["--arch", "tiny", "--data", data, "--resume", "--checkpoint", P("none.ckpt")], "no checkpoint to resume from"),
        })
        {
            var result = CapsnetTrain(args);
            Assert.True(result.Code == 1, string.Join(" ", args) + ": " + result.Output);
            var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.StartsWith("capsnet-train: error: ", lines[0]);
            Assert.Contains(message, lines[0]);
        }
    }

    [Theory]
    [InlineData("TERM", 143)] // kill, systemd, docker stop; and the only way to stop a job that a script started with `&`
    [InlineData("INT", 130)]  // Ctrl+C
    public async Task A_signal_stops_a_run_with_a_checkpoint_at_the_step_it_reached(string signal, int exitCode)
    {
        PosixSignals.AssertInterruptReachesChildren(signal);
        string data = ShapesData();
        string output = P("run.safetensors"), checkpoint = P("run.ckpt");
        using var child = CapsEmbedded.TestSupport.ChildProcess.Start(Path.Combine(AppContext.BaseDirectory, "capsnet.dll"),
            ["train", "--arch", "tiny", "--data", data, "--epochs", "100000", "--batch", "10", "--threads", "1", "--seed", "3",
             "--out", output, "--checkpoint", checkpoint, "--plain"]);
        var stderr = child.StandardError.ReadToEndAsync();
        string? line;
        while ((line = await child.StandardOutput.ReadLineAsync()) is not null && !line.StartsWith("epoch 2:", StringComparison.Ordinal)) { }
        if (line is null) Assert.Fail($"the run ended before its second epoch: {await stderr}");
        var rest = child.StandardOutput.ReadToEndAsync(); // keep the pipe drained while it stops
        PosixSignals.Send(child.Id, signal);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            await child.WaitForExitAsync(timeout.Token); // throws if the run did not stop on the signal
        string printed = await rest, errors = await stderr;
        Assert.True(child.ExitCode == exitCode, $"exit {child.ExitCode}; {errors}");
        Assert.Matches(@"interrupted at step \d+; checkpoint .*run\.ckpt written", printed);
        Assert.Equal("", errors);
        long step = long.Parse(System.Text.RegularExpressions.Regex.Match(printed, @"interrupted at step (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        var saved = TrainingCheckpoint.Load(checkpoint);
        Assert.Equal(step, saved.State.Step); // the step it reached, not the last epoch's or every-200-steps checkpoint
        Assert.True(step >= 8, $"step {step}: stopped before its second epoch ended");
        Assert.False(File.Exists(output)); // interrupted: no final weights
        Assert.Empty(Directory.GetFiles(Dir, "*.tmp")); // no half-written file left
    }

    [Fact]
    public void Errors_are_one_line_with_a_non_zero_exit()
    {
        string data = ShapesData();
        AssertOneLineError(Train("--arch", "paper", "--data", data, "--out", P("x.safetensors")), "10x10");
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--resume", "--checkpoint", P("none.ckpt")), "no checkpoint to resume from");
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--batch", "0"), "--batch");
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--decay", "1.5"), "--decay");

        var missing = Train("--arch", "tiny", "--data", P("missing"));
        Assert.Equal(1, missing.Code);
        Assert.StartsWith("capsnet: error: ", missing.Error);
    }

    [Fact]
    public void Init_from_starts_at_the_given_weights_and_says_so()
    {
        var start = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 99);
        var shapes = SessionTests.Shapes(40, 1);
        using (var session = new TrainingSession(new TrainingOptions { Architecture = CapsNetArchitecture.Tiny, Threads = 1 },
                   shapes, null, resume: null, initialWeights: start))
        {
            var exported = new CapsNetWeights(CapsNetArchitecture.Tiny);
            new ParameterLayout(CapsNetArchitecture.Tiny).Export<float>(session.Trainer.Parameters, exported);
            foreach (var spec in CapsNetArchitecture.Tiny.Tensors) Assert.Equal(start[spec.Name], exported[spec.Name]);
        }

        string data = ShapesData();
        string from = P("start.safetensors");
        CapsNetWeightsFile.Save(start, from);
        string output = P("tuned.safetensors");
        string text = TrainSucceeds("--arch", "tiny", "--data", data, "--epochs", "1", "--batch", "10",
            "--threads", "1", "--init-from", from, "--out", output, "--plain");
        string init = CapsNetWeightsFile.Load(output).Metadata["training.init"];
        Assert.StartsWith("from start.safetensors (sha256 ", init);

        // The checkpoint keeps the init source: a resumed run still names the file it started from.
        text = TrainSucceeds("--arch", "tiny", "--data", data, "--epochs", "2", "--threads", "1", "--resume", "--out", output, "--plain");
        Assert.Equal(init, CapsNetWeightsFile.Load(output).Metadata["training.init"]);

        AssertOneLineError(Train("--arch", "paper", "--data", data, "--init-from", from, "--out", output, "--force"), "--arch and --routing give");
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--init-from", from, "--resume", "--out", output), "exclude each other");
    }

    /// <summary>The "train loss" of the run's last epoch line.</summary>
    private static double TrainLoss(string output) => double.Parse(
        System.Text.RegularExpressions.Regex.Matches(output, @"train loss ([0-9.]+)")[^1].Groups[1].Value, CultureInfo.InvariantCulture);

    [Fact]
    public void Routing_1_is_stored_in_the_weight_file_and_eval_routes_once()
    {
        string data = ShapesData();
        string output = P("r1.safetensors");
        string text = TrainSucceeds("--arch", "tiny", "--data", data, "--epochs", "1", "--batch", "10", "--threads", "1",
            "--seed", "3", "--routing", "1", "--out", output, "--plain");
        Assert.Contains("r=1", text); // the "model" line
        var weights = CapsNetWeightsFile.Load(output);
        Assert.Equal(CapsNetArchitecture.Tiny with { RoutingIterations = 1 }, weights.Architecture);
        Assert.Equal("1", weights.Metadata["capsnet.routing_iterations"]);
        Assert.Equal(1, TrainingCheckpoint.Load(Path.ChangeExtension(output, ".ckpt")).Architecture.RoutingIterations);

        // eval reads r from the file: its lengths are the reference model's with one iteration, not three. The tiny net's
        // capsules are ~1e-5 long after one epoch, where routing changes nothing visible: W_ij scaled up makes it matter.
        foreach (ref float w in weights.DigitWeight.AsSpan()) w *= 300;
        string scaled = P("r1-scaled.safetensors");
        CapsNetWeightsFile.Save(weights, scaled);
        string dump = P("r1-lengths.txt");
        var eval = Capsnet("eval", "--weights", scaled, "--data", data, "--dump-lengths", dump);
        Assert.True(eval.Code == 0, eval.Error + eval.Output);
        var evalLengths = File.ReadAllLines(dump)[0].Split(' ').Select(x => float.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        var test = SessionTests.Shapes(12, 2);
        var image = new float[test.ImageLength];
        test.CopyImage(0, image);
        var once = CapsEmbedded.Reference.ReferenceModel.Forward(weights, image).Lengths;
        var thrice = new CapsNetWeights(CapsNetArchitecture.Tiny);
        foreach (var spec in CapsNetArchitecture.Tiny.Tensors) weights[spec.Name].CopyTo(thrice[spec.Name], 0);
        var threeTimes = CapsEmbedded.Reference.ReferenceModel.Forward(thrice, image).Lengths;
        Assert.Equal(once.Length, evalLengths.Length);
        for (int j = 0; j < once.Length; j++) Assert.Equal(once[j], evalLengths[j], 1e-6f);
        float gap = Enumerable.Range(0, once.Length).Max(j => Math.Abs(threeTimes[j] - evalLengths[j]) / Math.Max(threeTimes[j], 1e-6f));
        Assert.True(gap > 1e-3f, $"r = 3 gives the lengths of r = 1 here (relative gap {gap}): the check would not see a wrong routing count");
    }

    [Fact]
    public void Reconstruction_weight_0_changes_the_loss_and_leaves_the_decoder_untrained()
    {
        string data = ShapesData();
        string[] common = ["--arch", "tiny", "--data", data, "--epochs", "1", "--batch", "10", "--threads", "1", "--seed", "3", "--plain"];
        var paper = Train([.. common, "--out", P("paper.safetensors")]);
        Assert.True(paper.Code == 0, paper.Error + paper.Output);
        var none = Train([.. common, "--reconstruction-weight", "0", "--out", P("none.safetensors")]);
        Assert.True(none.Code == 0, none.Error + none.Output);
        Assert.Matches(@"(?m)^train .*, reconstruction weight 0\r?$", none.Output);
        // Without the reconstruction term the loss is the margin loss alone: smaller, on the same seed and data.
        Assert.True(TrainLoss(none.Output) < TrainLoss(paper.Output), $"w = 0: {TrainLoss(none.Output)}, w = 0.0005: {TrainLoss(paper.Output)}");

        var start = TrainingInit.Create(CapsNetArchitecture.Tiny, 3);
        var trained = CapsNetWeightsFile.Load(P("none.safetensors"));
        var withDecoder = CapsNetWeightsFile.Load(P("paper.safetensors"));
        Assert.Equal("0", trained.Metadata["training.reconstruction_weight"]);
        Assert.Equal("0.0005", withDecoder.Metadata["training.reconstruction_weight"]);
        foreach (var spec in CapsNetArchitecture.Tiny.Tensors)
        {
            bool decoder = spec.Name.StartsWith("decoder.", StringComparison.Ordinal);
            // No gradient reaches the decoder, so Adam never moves it; the rest trains as usual.
            Assert.True(decoder == trained[spec.Name].AsSpan().SequenceEqual(start[spec.Name]), $"{spec.Name} (decoder: {decoder})");
            Assert.False(withDecoder[spec.Name].AsSpan().SequenceEqual(start[spec.Name]), $"{spec.Name} did not train with the reconstruction loss");
        }
    }

    [Fact]
    public void Rotate_and_scale_are_checked_recorded_and_kept_on_resume()
    {
        string data = ShapesData(), output = P("affine.safetensors");
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--rotate", "46", "--out", output), "--rotate must be in 0..45 degrees, got 46");
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--scale", "-0.1", "--out", output), "--scale must be in 0..0.5 (a fraction of the size), got -0.1");
        Assert.False(File.Exists(output));

        string text = TrainSucceeds("--arch", "tiny", "--data", data, "--epochs", "1", "--batch", "10", "--threads", "1",
            "--rotate", "12", "--scale", "0.1", "--out", output, "--plain");
        Assert.Contains("rotated up to 12°, scaled ±0.1, shifted up to 2 px", text);
        Assert.Equal("rotated up to 12°, scaled ±0.1, shifted up to 2 px", CapsNetWeightsFile.Load(output).Metadata["training.augmentation"]);
        // The checkpoint's augmentation is the run's: a resume without the flags keeps it and says so.
        text = TrainSucceeds("--arch", "tiny", "--data", data, "--epochs", "2", "--batch", "10", "--threads", "1",
            "--out", output, "--plain", "--resume");
        Assert.Contains("rotate 12, scale 0.1 from the checkpoint", text);
        Assert.Equal("rotated up to 12°, scaled ±0.1, shifted up to 2 px", CapsNetWeightsFile.Load(output).Metadata["training.augmentation"]);
    }

    [Fact]
    public void Bad_routing_and_reconstruction_weight_are_refused_naming_the_flag()
    {
        string data = ShapesData();
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--routing", "0", "--out", P("a.safetensors")), "--routing must be in 1..10, got 0");
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--routing", "11", "--out", P("a.safetensors")), "--routing must be in 1..10, got 11");
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--reconstruction-weight", "-0.1", "--out", P("a.safetensors")),
            "--reconstruction-weight must be a finite number >= 0, got -0.1");
        foreach (var bad in new[] { "NaN", "Infinity" })
            AssertOneLineError(Train("--arch", "tiny", "--data", data, "--reconstruction-weight", bad, "--out", P("a.safetensors")), "--reconstruction-weight");
        Assert.False(File.Exists(P("a.safetensors")));
    }

    [Fact]
    public void Resume_refuses_another_routing_or_reconstruction_weight_and_keeps_the_checkpoint()
    {
        string data = ShapesData();
        string output = P("w0.safetensors"), checkpoint = P("w0.ckpt");
        string[] common = ["--arch", "tiny", "--data", data, "--batch", "10", "--threads", "1", "--out", output, "--plain"];
        var first = Train([.. common, "--epochs", "1", "--routing", "1", "--reconstruction-weight", "0"]);
        Assert.True(first.Code == 0, first.Error + first.Output);
        var saved = TrainingCheckpoint.Load(checkpoint);
        Assert.Equal(0, saved.Options.ReconstructionWeight);
        byte[] before = File.ReadAllBytes(checkpoint);

        AssertOneLineError(Train([.. common, "--epochs", "2", "--resume", "--routing", "1", "--reconstruction-weight", "0.001"]),
            "--reconstruction-weight 0.001 differs from the checkpoint's 0: resume with --reconstruction-weight 0");
        // The defaults are values too: resuming a w = 0 run without the flag would quietly train another loss.
        AssertOneLineError(Train([.. common, "--epochs", "2", "--resume", "--routing", "1"]), "--reconstruction-weight 0.0005 differs from the checkpoint's 0");
        AssertOneLineError(Train([.. common, "--epochs", "2", "--resume", "--reconstruction-weight", "0"]), "--routing 3 differs from the checkpoint's 1");
        Assert.Equal(before, File.ReadAllBytes(checkpoint));

        var resumed = Train([.. common, "--epochs", "2", "--resume", "--routing", "1", "--reconstruction-weight", "0"]);
        Assert.True(resumed.Code == 0, resumed.Error + resumed.Output);
        Assert.Equal("2", CapsNetWeightsFile.Load(output).Metadata["training.epochs"]);

        // A checkpoint from before the option (no trainer.reconstruction_weight) was trained with the paper's weight.
        byte[] old = File.ReadAllBytes(checkpoint);
        var key = System.Text.Encoding.ASCII.GetBytes("trainer.reconstruction_weight");
        int at = old.AsSpan().IndexOf(key);
        Assert.True(at > 0);
        System.Text.Encoding.ASCII.GetBytes("trainer.reconstruction_absent").CopyTo(old, at); // same length: the header stays valid
        File.WriteAllBytes(checkpoint, old);
        Assert.Equal(TrainingOptions.PaperReconstructionWeight, TrainingCheckpoint.Load(checkpoint).Options.ReconstructionWeight);
    }
}
