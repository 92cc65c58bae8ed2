using System.Buffers.Binary;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Tests.Data;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Weights;

/// <summary>
/// Whatever the bytes, <see cref="CapsNetWeightsFile.Read"/> returns weights or throws WeightFormatException:
/// never IndexOutOfRange, Overflow, OutOfMemory, ArgumentException or a hang.
/// </summary>
public class RobustnessTests
{
    private static readonly byte[] TinyFile = CapsNetWeightsFile.Write(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 11));

    [Fact]
    public void EveryTruncationIsRejected()
    {
        for (int length = 0; length < TinyFile.Length; length++)
        {
            try
            {
                CapsNetWeightsFile.Read(TinyFile.AsSpan(0, length), "truncated");
                Assert.Fail($"a file truncated to {length} of {TinyFile.Length} bytes was accepted");
            }
            catch (WeightFormatException)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"truncation to {length} bytes threw {e.GetType().Name} instead of WeightFormatException: {e}");
            }
        }
    }

    [Fact]
    public Task RandomMutationsOnlyEverThrowWeightFormatException() => FuzzSettings.WithinAsync(FuzzSettings.Limit, () =>
    {
        int cases = FuzzSettings.Iterations(5000); // .ci/hostile.sh: 100,000
        var (accepted, rejected) = Fuzz(TinyFile, 20171026, cases, "weights", (file, c) =>
        {
            if (c % 5 == 0)
            {
                using var stream = new MemoryStream(file);
                try { SafeTensorsFile.ReadHeader(stream, "mutant"); } catch (WeightFormatException) { }
            }
            CapsNetWeightsFile.Read(file, "mutant");
        });
        // Both outcomes must occur, or the mutations are not reaching the interesting paths.
        Assert.True(accepted > cases / 20, $"only {accepted} mutants were accepted");
        Assert.True(rejected > cases / 2, $"only {rejected} mutants were rejected");
    });

    private static readonly byte[] TinyEfficientFile =
        EfficientCapsNetWeightsFile.Write(EfficientCapsNetWeights.CreateRandom(EfficientCapsNetArchitecture.Tiny, 12));

    [Fact]
    public Task EfficientMutationsOnlyEverThrowWeightFormatException() => FuzzSettings.WithinAsync(FuzzSettings.Limit, () =>
    {
        int cases = FuzzSettings.Iterations(2000);
        var (accepted, rejected) = Fuzz(TinyEfficientFile, 20210714, cases, "efficient",
            (file, _) => EfficientCapsNetWeightsFile.Read(file, "mutant"));
        // Both outcomes must occur. An efficient file is refused more often than the paper's (every one of its metadata
        // keys is required), so 1 in 40 accepted is the bar: 4.8% of the 100,000 .ci/hostile.sh mutants are.
        Assert.True(accepted > cases / 40 && rejected > cases / 2, $"{accepted} accepted, {rejected} rejected");
    });

    private static readonly byte[] TinyCheckpoint = MakeCheckpoint();

    private static byte[] MakeCheckpoint()
    {
        var arch = CapsNetArchitecture.Tiny;
        var random = new DeterministicRandom(5);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)random.NextGaussian()).ToArray();
        int count = new ParameterLayout(arch).Count;
        using var temp = new TempDirectory("capsnet-fuzz-");
        string path = temp.Combine("tiny.ckpt");
        new TrainingCheckpoint
        {
            Options = new TrainingOptions { Architecture = arch, Batch = 10, Threads = 1, Epochs = 2 },
            TrainImages = 40,
            State = new TrainingState { Epoch = 1, Position = 10, Step = 5, Random = (1, 2, 3, 4), History = [new EpochMetrics(1, 0.5, 0.6, 0.1, 1e-3, 2)] },
            Parameters = Values(count), FirstMoment = Values(count), SecondMoment = Values(count).Select(MathF.Abs).ToArray(),
        }.Save(path);
        return File.ReadAllBytes(path);
    }

    [Fact]
    public Task CheckpointMutationsOnlyEverThrowWeightFormatException() => FuzzSettings.WithinAsync(FuzzSettings.Limit, () =>
    {
        int cases = FuzzSettings.Iterations(1000); // .ci/hostile.sh: 100,000
        var (accepted, rejected) = Fuzz(TinyCheckpoint, 20171027, cases, "checkpoint", (file, _) => InRange(TrainingCheckpoint.Read(file, "mutant")));
        Assert.True(accepted > 0 && rejected > cases / 2, $"{accepted} accepted, {rejected} rejected");
    });

    [Fact]
    public Task CheckpointMetadataNumbersOnlyEverThrowWeightFormatException() => FuzzSettings.WithinAsync(FuzzSettings.Limit, () =>
    {
        // The run's counts and history rewritten with hostile numbers (huge, negative, NaN, off by one), as a forger would.
        int cases = FuzzSettings.Iterations(1000); // .ci/hostile.sh: 100,000
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(TinyCheckpoint);
        var header = System.Text.Json.Nodes.JsonNode.Parse(TinyCheckpoint.AsSpan(8, headerLength))!;
        var metadata = header["__metadata__"]!;
        string[] keys = ["trainer.history", "trainer.epoch_correct", "trainer.epoch_loss_sum", "trainer.epoch_seconds", "trainer.wall_seconds", "trainer.epoch", "trainer.position", "trainer.step"];
        string[] numbers = ["0", "1", "-1", "2", "10", "11", "0.5", "1e9", "999999999", "-1e300", "1e308", "NaN", "Infinity", "2147483647", "4.9e-324", "1.0000001"];
        var random = new DeterministicRandom(34);
        string Number() => numbers[random.NextInt(numbers.Length)];
        int accepted = 0, rejected = 0;
        for (int c = 0; c < cases; c++)
        {
            string key = keys[random.NextInt(keys.Length)];
            string original = (string)metadata[key]!;
            metadata[key] = key == "trainer.history"
                ? string.Join(";", Enumerable.Range(0, 1 + random.NextInt(3)).Select(_ => string.Join(",", Enumerable.Range(0, 6).Select(_ => Number()))))
                : Number();
            byte[] json = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
            metadata[key] = original;
            var file = new byte[8 + json.Length + TinyCheckpoint.Length - 8 - headerLength];
            BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
            json.CopyTo(file, 8);
            TinyCheckpoint.AsSpan(8 + headerLength).CopyTo(file.AsSpan(8 + json.Length));
            string what = $"checkpoint-metadata-case{c}";
            var thrown = FuzzSettings.Measure(file, () => InRange(TrainingCheckpoint.Read(file, "mutant")), what);
            if (thrown is null) accepted++;
            else if (thrown is WeightFormatException) rejected++;
            else FuzzSettings.Escaped(file, thrown, what);
        }
        Assert.True(accepted > 0 && rejected > cases / 4, $"{accepted} accepted, {rejected} rejected");
    });

    // What an accepted checkpoint promises a resumed run (a history accuracy of 1e9 once hung its chart):
    // counts within the epoch, history in range, and a chart drawn from it that stays small.
    private static void InRange(TrainingCheckpoint checkpoint)
    {
        var s = checkpoint.State;
        Assert.InRange(s.EpochCorrect, 0, s.Position);
        foreach (var h in s.History)
        {
            Assert.InRange(h.Epoch, 1, s.Epoch);
            Assert.InRange(h.TrainAccuracy, 0, 1);
            Assert.True(double.IsFinite(h.TrainLoss) && h.TrainLoss >= 0, $"train loss {h.TrainLoss}");
        }
        Assert.InRange(SvgChart.Render(s.History, "fuzz").Length, 1, 100_000);
    }

    /// <summary>
    /// Reads <paramref name="cases"/> mutants of <paramref name="original"/> (<paramref name="read"/> gets the case number
    /// too) and counts those accepted and those rejected with WeightFormatException; any other exception, or an
    /// allocation above the cap, fails the test with the mutant kept on disk.
    /// </summary>
    private static (int Accepted, int Rejected) Fuzz(byte[] original, ulong seed, int cases, string name, Action<byte[], int> read)
    {
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var random = new DeterministicRandom(seed);
        int accepted = 0, rejected = 0;
        for (int c = 0; c < cases; c++)
        {
            byte[] file = Mutate(original, headerEnd, random);
            string what = $"{name}-seed{seed}-case{c}";
            var thrown = FuzzSettings.Measure(file, () => read(file, c), what);
            if (thrown is null) accepted++;
            else if (thrown is WeightFormatException) rejected++;
            else FuzzSettings.Escaped(file, thrown, what);
        }
        return (accepted, rejected);
    }

    // 1–3 edits, mostly in the length field and the JSON header where the parser lives. Textual edits swap in
    // JSON punctuation and digits so that mutants get past the tokenizer and exercise the validation.
    private static byte[] Mutate(byte[] original, int headerEnd, DeterministicRandom random)
    {
        var bytes = new List<byte>(original);
        int edits = 1 + random.NextInt(3);
        const string interesting = "{}[]\":,\\ 0123456789-.eE\u0000\u001f\u007f";
        for (int k = 0; k < edits && bytes.Count > 0; k++)
        {
            int limit = random.NextInt(10) < 8 ? Math.Min(headerEnd, bytes.Count) : bytes.Count;
            int at = random.NextInt(limit);
            switch (random.NextInt(6))
            {
                case 0: bytes[at] ^= (byte)(1 << random.NextInt(8)); break;
                case 1: bytes[at] = (byte)random.NextInt(256); break;
                case 2: bytes[at] = (byte)interesting[random.NextInt(interesting.Length)]; break;
                case 3: bytes.Insert(at, (byte)interesting[random.NextInt(interesting.Length)]); break;
                case 4: bytes.RemoveRange(at, Math.Min(1 + random.NextInt(4), bytes.Count - at)); break;
                default:
                    // Keep the header length consistent with an edit inside the header so the JSON itself is tested.
                    if (at < 8) goto case 1;
                    bytes[at] = (byte)('0' + random.NextInt(10));
                    break;
            }
        }
        return bytes.ToArray();
    }
}
