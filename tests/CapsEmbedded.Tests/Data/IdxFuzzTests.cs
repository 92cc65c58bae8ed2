using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.Tests.Data.MultiMnist;

namespace CapsEmbedded.Tests.Data;

/// <summary>Seeded byte flips and truncations: whatever the bytes, only IdxFormatException may escape.</summary>
public class IdxFuzzTests
{
    // CAPSNET_FUZZ_ITERATIONS raises this (.ci/hostile.sh: 100,000); the default keeps the suite fast.
    private static readonly int Iterations = FuzzSettings.Iterations(1500);

    public static TheoryData<string> Files() => ["images", "images.gz", "labels", "labels.gz", "pairlabels", "pairlabels.gz", "pairs", "pairs.gz"];

    [Theory]
    [MemberData(nameof(Files))]
    public Task Random_byte_flips_raise_only_IdxFormatException(string which) => FuzzSettings.WithinAsync(FuzzSettings.Limit, () =>
    {
        // Half of the flips hit the first 32 bytes: the IDX header, or the gzip header and the start of its stream.
        int failures = FuzzSettings.CountRejectedFlips(Original(which), 0xDA7A_0001UL + (ulong)which.Length, Iterations, maxFlips: 4,
            headerBytes: 32, (mutated, iteration) => ReadExpectingOnlyIdxErrors(which, mutated, iteration));
        // Plain files survive most payload flips; the header half must break some.
        Assert.True(failures > 0, "no mutation was rejected; the fuzz is not reaching the checks");
    });

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_truncation_raises_IdxFormatException(string which)
    {
        byte[] original = Original(which);
        // Every length through the headers, then a seeded sample of the rest.
        var lengths = Enumerable.Range(0, Math.Min(original.Length, 64)).ToList();
        var random = new DeterministicRandom(0xDA7A_0002UL);
        for (int i = 0; i < 200; i++)
            lengths.Add(random.NextInt(original.Length));
        foreach (int length in lengths)
            Assert.Throws<IdxFormatException>(() => Read(which, original[..length]));
    }

    [Fact]
    public void Random_garbage_raises_only_IdxFormatException()
    {
        var random = new DeterministicRandom(0xDA7A_0003UL);
        for (int iteration = 0; iteration < 500; iteration++)
        {
            byte[] garbage = new byte[random.NextInt(64)];
            for (int i = 0; i < garbage.Length; i++)
                garbage[i] = (byte)random.NextInt(256);
            // Give a third of them a plausible start so the dimension checks are reached.
            if (garbage.Length >= 4 && iteration % 3 == 0)
            {
                garbage[0] = 0;
                garbage[1] = 0;
                garbage[2] = 8;
                garbage[2] = (byte)(iteration % 5 == 0 ? 0x0C : 8);
                garbage[3] = (byte)(1 + iteration / 3 % 3);
            }
            ReadExpectingOnlyIdxErrors("images", garbage, iteration);
            ReadExpectingOnlyIdxErrors("labels", garbage, iteration);
            ReadExpectingOnlyIdxErrors("pairlabels", garbage, iteration);
            ReadExpectingOnlyIdxErrors("pairs", garbage, iteration);
        }
    }

    private static byte[] Original(string which)
    {
        // A small image file keeps 1500 iterations fast; the labels are the real fixture (paired for pairlabels), the
        // pairs MultiMNIST's recipes drawn from it.
        byte[] plain = Kind(which) switch
        {
            "images" => DataFixtures.ImageFile(6, 9, 7),
            "labels" => DataFixtures.LabelsBytes,
            "pairlabels" => MultiMnistStoreTests.PairLabelFile(2, DataFixtures.LabelsBytes[8..]),
            _ => Recipes(),
        };
        return which.EndsWith(".gz", StringComparison.Ordinal) ? DataFixtures.Gzip(plain) : plain;
    }

    private static string Kind(string which) => which.Split('.')[0];

    private static byte[] Recipes()
    {
        var digits = new LabeledImages(DataFixtures.Count, DataFixtures.Side, DataFixtures.Side,
            DataFixtures.ImagesBytes[16..], DataFixtures.LabelsBytes[8..]);
        var stream = new MemoryStream();
        MultiMnistGenerator.WritePairs(stream, MultiMnistGenerator.DrawPairs(digits, 1, 1));
        return stream.ToArray();
    }

    private static int ReadExpectingOnlyIdxErrors(string which, byte[] content, int iteration)
    {
        var thrown = FuzzSettings.Measure(content, () => Read(which, content), $"idx-{which}-{iteration}");
        if (thrown is null or IdxFormatException) return thrown is null ? 0 : 1;
        FuzzSettings.Escaped(content, thrown, $"idx-{which}-{iteration}");
        return 1;
    }

    private static void Read(string which, byte[] content)
    {
        switch (Kind(which))
        {
            case "images": IdxReaderTests.ReadImages(content); break;
            case "labels": IdxReaderTests.ReadLabels(content); break;
            case "pairlabels": MultiMnistStoreTests.ReadPairLabels(content); break;
            default: IdxReader.ReadInt32Table(new MemoryStream(content), "case.idx", MultiMnistStore.PairColumns); break;
        }
    }
}
