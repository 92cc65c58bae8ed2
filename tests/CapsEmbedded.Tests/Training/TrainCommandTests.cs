using System.Buffers.Binary;
using System.CommandLine;
using System.Globalization;
using CapsEmbedded.Cli.Commands;
using CapsEmbedded.Data;
using CapsEmbedded.Tests.TestSupport;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using static CapsEmbedded.Tests.TestSupport.CliRun;

namespace CapsEmbedded.Tests.Training;

/// <summary><c>capsnet train</c> end to end on the tiny architecture with a synthetic 10×10 IDX data set.</summary>
public sealed class TrainCommandTests() : TempDirectoryTest("capsnet-train-cli-")
{
    private static (int Code, string Output, string Error) Train(params string[] args)
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

    private static void WriteIdx(string directory, DatasetSplit split, LabeledImages set)
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

    private string ShapesData()
    {
        string data = P("shapes");
        Directory.CreateDirectory(data);
        WriteIdx(data, DatasetSplit.Train, SessionTests.Shapes(40, 1));
        WriteIdx(data, DatasetSplit.Test, SessionTests.Shapes(12, 2));
        return data;
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

        (code, text, error) = Train("--arch", "tiny", "--data", data, "--epochs", "3", "--out", output, "--resume", "--plain");
        Assert.True(code == 0, error + text);
        Assert.Contains("resuming", text);
        Assert.Equal("12", CapsNetWeightsFile.Load(output).Metadata["training.steps"]);
        Assert.Equal(4, File.ReadAllLines(csv).Length);
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
        var (code, text, error) = Train("--arch", "tiny", "--data", data, "--epochs", "1", "--batch", "10",
            "--threads", "1", "--init-from", from, "--out", output, "--plain");
        Assert.True(code == 0, error + text);
        string init = CapsNetWeightsFile.Load(output).Metadata["training.init"];
        Assert.StartsWith("from start.safetensors (sha256 ", init);

        // The checkpoint keeps the init source: a resumed run still names the file it started from.
        (code, text, error) = Train("--arch", "tiny", "--data", data, "--epochs", "2", "--threads", "1", "--resume", "--out", output, "--plain");
        Assert.True(code == 0, error + text);
        Assert.Equal(init, CapsNetWeightsFile.Load(output).Metadata["training.init"]);

        AssertOneLineError(Train("--arch", "paper", "--data", data, "--init-from", from, "--out", output, "--force"), "--arch gives");
        AssertOneLineError(Train("--arch", "tiny", "--data", data, "--init-from", from, "--resume", "--out", output), "exclude each other");
    }
}
