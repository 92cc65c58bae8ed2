using System.Buffers.Binary;
using System.Globalization;
using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.Tests.Data;
using CapsEmbedded.Tests.Data.MultiMnist;
using CapsEmbedded.Tests.Training;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// Issue 14, as a hostile user tries it: silent wrong answers, clobbered files, unbounded flags, late and unclear errors.
/// Each test failed before its fix.
/// </summary>
public sealed class HostileCliTests() : TempDirectoryTest("capsnet-hostile-cli-")
{
    private static readonly string Png = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist", "digit0-gray.png");

    private string Weights(Action<CapsNetWeights>? edit = null, string name = "w.safetensors")
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Paper, 5);
        edit?.Invoke(weights);
        File.WriteAllBytes(P(name), CapsNetWeightsFile.Write(weights));
        return P(name);
    }

    private string Data(int count, string name = "data")
    {
        string dir = P(name);
        Directory.CreateDirectory(dir);
        foreach (var split in new[] { DatasetSplit.Train, DatasetSplit.Test })
        {
            var images = new byte[16 + count * 784];
            BinaryPrimitives.WriteInt32BigEndian(images, IdxReader.ImageMagic);
            BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4), count);
            BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(8), 28);
            BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(12), 28);
            for (int i = 16; i < images.Length; i++) images[i] = (byte)(i * 37 % 256);
            File.WriteAllBytes(Path.Combine(dir, DatasetStore.StandardFileName(split, images: true)), images);
            var labels = new byte[8 + count];
            BinaryPrimitives.WriteInt32BigEndian(labels, IdxReader.LabelMagic);
            BinaryPrimitives.WriteInt32BigEndian(labels.AsSpan(4), count);
            File.WriteAllBytes(Path.Combine(dir, DatasetStore.StandardFileName(split, images: false)), labels);
        }
        return dir;
    }

    // ---- 4. silent wrong answers

    [Fact]
    public void Weights_with_NaN_are_refused_at_load_naming_the_tensor()
    {
        string w = Weights(x => x.DigitWeight[1234] = float.NaN);
        var result = Capsnet("eval", "--weights", w, "--data", Data(3), "--engine", "reference");
        AssertOneLineError(result, CapsNetArchitecture.DigitWeight);
        Assert.Contains("value 1234 is NaN", result.Error);
        AssertOneLineError(Capsnet("predict", "--weights", Weights(x => x.Fc3Bias[0] = float.NegativeInfinity), Png), "value 0 is -Infinity");
    }

    [Fact]
    public void Non_finite_outputs_are_never_reported_as_a_class()
    {
        // Finite weights so large that conv1 overflows to Inf and every length becomes NaN.
        string w = Weights(x => Array.Fill(x.Conv1Weight, 3e38f));
        AssertOneLineError(Capsnet("predict", "--weights", w, "--engine", "reference", Png), "non-finite capsule lengths");
        AssertOneLineError(Capsnet("eval", "--weights", w, "--data", Data(2), "--engine", "reference"), "non-finite capsule lengths");
    }

    [Fact]
    public void An_empty_data_set_is_an_error_not_NaN_percent()
    {
        AssertOneLineError(Capsnet("eval", "--weights", Weights(), "--data", Data(0), "--engine", "reference"), "holds 0 images");
    }

    [Fact]
    public void A_forged_checkpoint_step_or_rate_is_refused()
    {
        var arch = CapsNetArchitecture.Tiny;
        int n = new ParameterLayout(arch).Count;
        TrainingCheckpoint Checkpoint(long step, double lr) => new()
        {
            Options = new TrainingOptions { Architecture = arch, Batch = 10, LearningRate = lr, Threads = 1 },
            TrainImages = 40,
            State = new TrainingState { Epoch = 1, Position = 0, Step = step, Random = (1, 2, 3, 4) },
            Parameters = new float[n], FirstMoment = new float[n], SecondMoment = new float[n],
        };
        Checkpoint(4, 1e-3).Save(P("ok.ckpt"));
        Assert.Equal(4, TrainingCheckpoint.Load(P("ok.ckpt")).State.Step);
        Checkpoint(99_999_999_999_999, 1e-3).Save(P("step.ckpt"));
        Assert.Contains("step 99999999999999 is impossible", Assert.Throws<WeightFormatException>(() => TrainingCheckpoint.Load(P("step.ckpt"))).Message);
        Checkpoint(4, 1e-320).Save(P("lr.ckpt"));
        Assert.Throws<WeightFormatException>(() => TrainingCheckpoint.Load(P("lr.ckpt")));
        var nan = Checkpoint(4, 1e-3);
        nan.SecondMoment[7] = float.PositiveInfinity;
        nan.Save(P("nan.ckpt"));
        Assert.Contains("adam.v.", Assert.Throws<WeightFormatException>(() => TrainingCheckpoint.Load(P("nan.ckpt"))).Message);
    }

    // ---- 2. bounded flags

    [Fact]
    public void Threads_beyond_4_per_core_are_refused_naming_the_flag()
    {
        string tooMany = (4 * Environment.ProcessorCount + 1).ToString(CultureInfo.InvariantCulture);
        AssertOneLineError(Capsnet("eval", "--threads", "100000000", "--data", Data(1)), "--threads 100000000 is more than");
        AssertOneLineError(Capsnet("bench", "--threads", tooMany, "--runs", "1"), $"--threads {tooMany} is more than");
        AssertOneLineError(Capsnet("train", "--threads", "1000", "--data", Data(1), "--out", P("t.safetensors")), "--threads 1000");
    }

    [Fact]
    public void Batch_and_group_beyond_memory_or_group_beyond_batch_are_refused_before_allocating()
    {
        AssertOneLineError(Capsnet("bench", "--batch", "100000000", "--runs", "1"), "--batch 100000000 would need about");
        AssertOneLineError(Capsnet("train", "--group", "1000000", "--batch", "2000000", "--threads", "1", "--data", Data(1), "--out", P("t.safetensors")),
            "--group 1000000 on 1 threads would need about");
        AssertOneLineError(Capsnet("train", "--group", "20", "--batch", "10", "--threads", "1", "--data", Data(1), "--out", P("t.safetensors")),
            "--group 20 is more than --batch 10");
        Assert.False(File.Exists(P("t.safetensors")));
    }

    // ---- 1, 5, 6. outputs: never clobber, never leave leftovers, fail before the work

    [Fact]
    public void Train_needs_force_to_overwrite_out_or_checkpoint_and_checks_them_before_any_work()
    {
        File.WriteAllText(P("notes.txt"), "my notes");
        var result = Capsnet("train", "--arch", "tiny", "--data", P("nowhere"), "--checkpoint", P("notes.txt"), "--out", P("t.safetensors"));
        AssertOneLineError(result, "--checkpoint");
        Assert.Contains("exists; pass --force", result.Error);
        Assert.Equal("my notes", File.ReadAllText(P("notes.txt")));
        File.WriteAllText(P("t.safetensors"), "old weights");
        AssertOneLineError(Capsnet("train", "--arch", "tiny", "--data", P("nowhere"), "--out", P("t.safetensors")), "--out");
        Assert.Equal("old weights", File.ReadAllText(P("t.safetensors")));
        // With --force the outputs pass and the missing data set is the next problem: the order of the checks.
        AssertOneLineError(Capsnet("train", "--arch", "tiny", "--data", P("nowhere"), "--out", P("t.safetensors"), "--force"), "nowhere");
    }

    [Fact]
    public void A_directory_or_empty_path_as_target_is_refused_before_any_work_and_leaves_nothing()
    {
        string w = Weights();
        Directory.CreateDirectory(P("rodir"));
        AssertOneLineError(Capsnet("init", "--out", P("rodir"), "--force"), "is a directory");
        AssertOneLineError(Capsnet("init", "--out", ""), "--out is empty");
        AssertOneLineError(Capsnet("train", "--arch", "tiny", "--out", P("rodir"), "--data", Data(2)), "is a directory");
        AssertOneLineError(Capsnet("eval", "--weights", w, "--data", Data(2), "--dump-lengths", P("rodir")), "is a directory");
        // A missing directory is reported before the evaluation runs, naming the user's path, not a temp path.
        var late = Capsnet("eval", "--weights", w, "--data", Data(2), "--engine", "reference", "--dump-lengths", P("no/such/x.txt"));
        AssertOneLineError(late, "--dump-lengths");
        Assert.DoesNotContain("accuracy", late.Output);
        Assert.DoesNotContain(".tmp", late.Error);
        Assert.Empty(Directory.GetFileSystemEntries(P("rodir")));
        Assert.Empty(Directory.GetFiles(Dir, "*.tmp"));
        Assert.Empty(Directory.GetFiles(Dir, ".*"));
    }

    [Fact]
    public async Task Dump_lengths_writes_into_FIFOs_and_devices_and_leaves_a_users_tmp_file_alone()
    {
        string w = Weights();
        using (var mk = System.Diagnostics.Process.Start("sh", ["-c", $"mkfifo '{P("fifo")}' && mknod '{P("null")}' c 1 3"])) mk.WaitForExit();
        var reader = Task.Run(() => File.ReadAllLines(P("fifo")));
        var result = Capsnet("eval", "--weights", w, "--data", Data(3), "--engine", "reference", "--dump-lengths", P("fifo"));
        Assert.True(result.Code == 0, result.Error);
        Assert.Equal(3, (await reader.WaitAsync(TimeSpan.FromSeconds(30))).Length);
        Assert.Equal(CapsEmbedded.IO.FileKind.Fifo, CapsEmbedded.IO.FileStat.Of(P("fifo")).Kind);

        result = Capsnet("predict", "--weights", w, "--engine", "reference", "--reconstruction", P("null"), Png);
        Assert.True(result.Code == 0, result.Error);
        Assert.Equal(CapsEmbedded.IO.FileKind.CharacterDevice, CapsEmbedded.IO.FileStat.Of(P("null")).Kind);

        File.WriteAllText(P("x.txt.tmp"), "mine");
        Assert.Equal(0, Capsnet("eval", "--weights", w, "--data", Data(3), "--engine", "reference", "--dump-lengths", P("x.txt")).Code);
        Assert.Equal("mine", File.ReadAllText(P("x.txt.tmp")));
        Assert.Equal(3, File.ReadAllLines(P("x.txt")).Length);
    }

    [Fact]
    public async Task Init_into_a_FIFO_writes_through_and_does_not_block_rereading_it()
    {
        using (var mk = System.Diagnostics.Process.Start("mkfifo", [P("fifo")])) await mk.WaitForExitAsync();
        var reader = Task.Run(() => File.ReadAllBytes(P("fifo")));
        var init = Task.Run(() => Capsnet("init", "--arch", "tiny", "--out", P("fifo")));
        var result = await init.WaitAsync(TimeSpan.FromSeconds(60)); // before: hashed the FIFO by reading it, forever
        Assert.True(result.Code == 0, result.Error);
        byte[] written = await reader.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains(CapsEmbedded.IO.FileHash.Sha256(written), result.Output);
        Assert.Equal(CapsEmbedded.IO.FileKind.Fifo, CapsEmbedded.IO.FileStat.Of(P("fifo")).Kind);
    }

    [Fact]
    public void Dump_lengths_to_dev_stdout_goes_through_the_pipe_and_leaves_dev_stdout_alone()
    {
        var before = new FileInfo("/dev/stdout").LinkTarget;
        var result = CapsnetProcess("eval", "--weights", Weights(), "--data", Data(3), "--engine", "reference", "--dump-lengths", "/dev/stdout");
        Assert.True(result.Code == 0, result.Error);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("confusion matrix", result.Output); // the report is not lost
        Assert.Equal(3, lines.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^(\S+ ){9}\S+$")));
        Assert.Equal(before, new FileInfo("/dev/stdout").LinkTarget); // still the system's symlink, not a regular file
    }

    // ---- 6. clear, safe messages

    [Fact]
    public void Info_and_predict_on_a_directory_say_is_a_directory()
    {
        AssertOneLineError(Capsnet("info", Dir), "is a directory");
        AssertOneLineError(Capsnet("predict", "--weights", Weights(), Dir), "is a directory");
    }

    [Theory]
    [InlineData(new[] { "frob" }, "unknown command 'frob'; the commands are info, eval")]
    [InlineData(new string[0], "no command given")]
    [InlineData(new[] { "predict", "--frob", "img.png" }, "unknown option '--frob'")]
    [InlineData(new[] { "eval", "--threads", "abc" }, "'--threads' as an integer")]
    [InlineData(new[] { "eval", "--split", "dev" }, "Argument 'dev' not recognized. Must be one of: 'test' 'train'")]
    public void Parse_errors_are_one_line_naming_the_offender(string[] args, string expected)
    {
        var result = Capsnet(args);
        AssertOneLineError(result, expected);
        Assert.DoesNotContain("System.", result.Error);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public void Untrusted_tensor_names_are_escaped_and_cut()
    {
        // JSON escapes: the decoded name holds a real ESC and a real newline.
        string evil = "\\u001b[31mred\\u001b[0m\\nsecond line" + new string('x', 100_000);
        string header = "{\"" + evil + "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        byte[] json = System.Text.Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + json.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        File.WriteAllBytes(P("evil.safetensors"), file);
        var result = Capsnet("info", P("evil.safetensors"));
        AssertOneLineError(result, "\\x1b[31mred\\x1b[0m\\nsecond line");
        Assert.DoesNotContain('\u001b', result.Error);
        Assert.True(result.Error.Length < 600, $"{result.Error.Length} characters");
    }

    // ---- 7. info reads checkpoints

    [Fact]
    public void Info_describes_a_training_checkpoint()
    {
        var arch = CapsNetArchitecture.Tiny;
        int n = new ParameterLayout(arch).Count;
        var checkpoint = new TrainingCheckpoint
        {
            Options = new TrainingOptions { Architecture = arch, Batch = 10, LearningRate = 0.01, Decay = 0.5, Threads = 1, Epochs = 3 },
            TrainImages = 40,
            State = new TrainingState { Epoch = 1, Position = 20, Step = 6, Random = (1, 2, 3, 4) },
            Parameters = new float[n], FirstMoment = Enumerable.Repeat(0.5f, n).ToArray(), SecondMoment = new float[n],
        };
        checkpoint.Save(P("run.ckpt"));
        string output = CapsnetSucceeds("info", P("run.ckpt"));
        Assert.Contains("training checkpoint", output);
        Assert.Matches(@"step\s+6\b", output);
        Assert.Contains("epoch         1 of 3 done; 20 of 40 images into epoch 2", output);
        string rate = checkpoint.Options.Schedule.At(6, 10).ToString("G4", CultureInfo.InvariantCulture);
        Assert.Contains($"learning rate {rate} now (initial 0.01", output);
        Assert.Contains("Adam: first and second moments for all 11 tensors present", output);
        Assert.Contains(arch.ToString(), output);
    }

    // ---- fuzzing through the process: exit 1, one line, no stack trace

    [Fact]
    public void Mutated_files_through_the_capsnet_process_fail_with_one_line_and_exit_1()
    {
        // CAPSNET_CLI_FUZZ_PER_READER raises the count (.ci/hostile.sh: 20); each is a process start.
        int perReader = int.TryParse(Environment.GetEnvironmentVariable("CAPSNET_CLI_FUZZ_PER_READER"), out int n) && n > 0 ? n : 3;
        var random = new DeterministicRandom(0xC11_F022);
        byte[] Mutate(byte[] original, int headerBytes)
        {
            var bytes = (byte[])original.Clone();
            for (int k = 0, edits = 1 + random.NextInt(4); k < edits; k++)
                bytes[random.NextInt(Math.Min(headerBytes, bytes.Length))] ^= (byte)(1 + random.NextInt(255));
            return bytes;
        }
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "mnist");
        byte[] weights = CapsNetWeightsFile.Write(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 2));
        byte[] png = File.ReadAllBytes(Path.Combine(fixtures, "digit0-gray.png"));
        byte[] pgm = File.ReadAllBytes(Path.Combine(fixtures, "digit0.pgm"));
        byte[] idx = File.ReadAllBytes(Path.Combine(fixtures, "t10k-200-images-idx3-ubyte"));
        int header = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(weights);
        // MultiMNIST's pair labels through eval: a tiny 36×36 network, four images, their [4, 2] labels.
        File.WriteAllBytes(P("tiny36.safetensors"), CapsNetWeightsFile.Write(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny with { InputSize = 36, Classes = 10 }, 2)));
        byte[] pairImages = DataFixtures.ImageFile(4, 36, 36);
        byte[] pairLabels = MultiMnistStoreTests.PairLabelFile(2, 1, 7, 3, 0, 9, 4, 2, 5);
        int failures = 0;
        void Check(string reader, byte[] mutant, string[] args)
        {
            var result = CapsnetProcess(args);
            Assert.True(result.Code is 0 or 1, $"{reader}: exit {result.Code}: {result.Error}");
            if (result.Code == 0) return; // the mutation happened to keep the file valid
            failures++;
            AssertOneLineError(result, "");
        }
        for (int i = 0; i < perReader; i++)
        {
            File.WriteAllBytes(P("m.safetensors"), Mutate(weights, header));
            Check("weights", weights, ["info", P("m.safetensors")]);
            File.WriteAllBytes(P("m.png"), Mutate(png, 64));
            Check("png", png, ["predict", "--engine", "reference", P("m.png")]);
            File.WriteAllBytes(P("m.pgm"), Mutate(pgm, 16));
            Check("pgm", pgm, ["predict", "--engine", "reference", P("m.pgm")]);
            string data = P($"idx{i}");
            Directory.CreateDirectory(data);
            File.WriteAllBytes(Path.Combine(data, "t10k-images-idx3-ubyte"), Mutate(idx, 16));
            File.Copy(Path.Combine(fixtures, "t10k-200-labels-idx1-ubyte"), Path.Combine(data, "t10k-labels-idx1-ubyte"));
            Check("idx", idx, ["eval", "--data", data, "--limit", "2", "--engine", "reference"]);
            string pairs = P($"pairs{i}");
            Directory.CreateDirectory(pairs);
            File.WriteAllBytes(Path.Combine(pairs, MultiMnistStore.ImagesFileName), pairImages);
            File.WriteAllBytes(Path.Combine(pairs, MultiMnistStore.LabelsFileName), Mutate(pairLabels, 12));
            Check("pairlabels", pairLabels, ["eval", "--data", pairs, "--weights", P("tiny36.safetensors")]);
        }
        Assert.True(failures >= perReader, $"only {failures} of {5 * perReader} mutants were rejected");
    }
}
