using System.Buffers.Binary;
using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;

namespace CapsEmbedded.Tests.Data.MultiMnist;

/// <summary>The generated test set on the 200-digit fixture: layout, determinism, no silent clobbering, read back.</summary>
public sealed class MultiMnistGeneratorTests() : TempDirectoryTest("capsnet-multimnist-")
{
    private static LabeledImages Digits() => new(DataFixtures.Count, DataFixtures.Side, DataFixtures.Side,
        DataFixtures.ImagesBytes.AsSpan(16).ToArray(), DataFixtures.LabelsBytes.AsSpan(8).ToArray());

    private string Generate(string folder, int pairsPerDigit = 2, ulong seed = 9, bool force = false)
    {
        string directory = P(folder);
        MultiMnistGenerator.Generate(Digits(), directory, pairsPerDigit, seed, force, TextWriter.Null);
        return directory;
    }

    private static byte[] Bytes(string directory, string name) => File.ReadAllBytes(Path.Combine(directory, name));

    private static readonly string[] Names = [MultiMnistStore.ImagesFileName, MultiMnistStore.LabelsFileName, MultiMnistStore.PairsFileName];

    [Fact]
    public void Writes_merged_images_two_labels_and_recipes_in_IDX_that_rebuild_each_pair()
    {
        string directory = Generate("set", pairsPerDigit: 2);
        var digits = Digits();

        byte[] images = Bytes(directory, MultiMnistStore.ImagesFileName);
        Assert.Equal([0, 0, 8, 3, 0, 0, 1, 144, 0, 0, 0, 36, 0, 0, 0, 36], images[..16]); // 400 images of 36×36
        Assert.Equal(16 + 400 * 1296, images.Length);
        byte[] labels = Bytes(directory, MultiMnistStore.LabelsFileName);
        Assert.Equal([0, 0, 8, 2, 0, 0, 1, 144, 0, 0, 0, 2], labels[..12]);
        Assert.Equal(12 + 800, labels.Length);
        byte[] recipes = Bytes(directory, MultiMnistStore.PairsFileName);
        Assert.Equal([0, 0, 0x0C, 2, 0, 0, 1, 144, 0, 0, 0, 6], recipes[..12]);
        Assert.Equal(12 + 400 * 6 * 4, recipes.Length);

        LabeledPairs set = MultiMnistStore.Load(directory, "unused-root");
        MultiMnistPair[] pairs = MultiMnistStore.LoadPairs(directory, "unused-root");
        Assert.Equal(400, set.Count);
        Assert.Equal(400, pairs.Length);
        Assert.Equal(MultiMnistGenerator.DrawPairs(digits, 2, 9), pairs);
        Assert.Equal(BinaryPrimitives.ReadInt32BigEndian(recipes.AsSpan(12)), pairs[0].First);

        var first = new byte[1296];
        var second = new byte[1296];
        var merged = new byte[1296];
        for (int n = 0; n < set.Count; n++)
        {
            // Round-major order: pair n's first digit is digit n mod 200.
            Assert.Equal(n % 200, pairs[n].First);
            Assert.Equal(digits.Labels[pairs[n].First], set.GetLabels(n)[0]);
            Assert.Equal(digits.Labels[pairs[n].Second], set.GetLabels(n)[1]);
            MultiMnistPairs.Compose(digits, pairs[n], first, second, merged);
            Assert.True(set.GetImage(n).SequenceEqual(merged), $"image {n}");
        }
    }

    [Fact]
    public void The_same_flags_give_the_same_bytes_and_fewer_rounds_give_a_prefix()
    {
        string a = Generate("a", pairsPerDigit: 3), b = Generate("b", pairsPerDigit: 3), one = Generate("one", pairsPerDigit: 1);
        foreach (string name in Names)
            Assert.Equal(Bytes(a, name), Bytes(b, name));

        var many = MultiMnistStore.Load(a, "unused");
        var few = MultiMnistStore.Load(one, "unused");
        Assert.Equal(few.Pixels, many.Pixels.AsSpan(0, few.Pixels.Length).ToArray());
        Assert.Equal(few.Labels, many.Labels.AsSpan(0, few.Labels.Length).ToArray());

        string other = Generate("other", pairsPerDigit: 3, seed: 10);
        Assert.NotEqual(Bytes(a, MultiMnistStore.ImagesFileName), Bytes(other, MultiMnistStore.ImagesFileName));
    }

    [Fact]
    public void A_rerun_keeps_identical_files_and_a_different_set_is_refused_unless_forced()
    {
        string directory = Generate("set");
        var written = Names.ToDictionary(n => n, n => File.GetLastWriteTimeUtc(Path.Combine(directory, n)));
        var log = new StringWriter();
        MultiMnistGenerator.Generate(Digits(), directory, 2, 9, force: false, log);
        Assert.Contains("up to date", log.ToString());
        foreach (string name in Names)
            Assert.Equal(written[name], File.GetLastWriteTimeUtc(Path.Combine(directory, name)));

        byte[] before = Bytes(directory, MultiMnistStore.ImagesFileName);
        var e = Assert.Throws<IOException>(() => MultiMnistGenerator.Generate(Digits(), directory, 2, 10, force: false, TextWriter.Null));
        Assert.Contains(MultiMnistStore.ImagesFileName, e.Message);
        Assert.Contains("--force", e.Message);
        Assert.Equal(before, Bytes(directory, MultiMnistStore.ImagesFileName));
        Assert.Empty(Directory.GetFiles(directory, "*.tmp"));

        // A missing file is written again; the other two are kept.
        File.Delete(Path.Combine(directory, MultiMnistStore.PairsFileName));
        log = new StringWriter();
        MultiMnistGenerator.Generate(Digits(), directory, 2, 9, force: false, log);
        Assert.Contains($"{MultiMnistStore.PairsFileName} written", log.ToString());
        Assert.DoesNotContain(MultiMnistStore.ImagesFileName, log.ToString());

        log = new StringWriter();
        MultiMnistGenerator.Generate(Digits(), directory, 2, 10, force: true, log);
        Assert.Contains($"{MultiMnistStore.ImagesFileName} replaced", log.ToString());
        Assert.Equal(Bytes(Generate("seed10", seed: 10), MultiMnistStore.ImagesFileName), Bytes(directory, MultiMnistStore.ImagesFileName));
    }

    [Fact]
    public void Refuses_a_set_too_large_for_one_array_and_non_28x28_digits()
    {
        var digits = Digits();
        Assert.Throws<ArgumentOutOfRangeException>(() => MultiMnistGenerator.DrawPairs(digits, MultiMnistGenerator.MaxPairs / 200 + 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => MultiMnistGenerator.DrawPairs(digits, 0, 1));
        var small = new LabeledImages(2, 10, 10, new byte[200], [1, 2]);
        Assert.Throws<ArgumentException>(() => MultiMnistGenerator.Generate(small, P("x"), 1, 1, false, TextWriter.Null));
    }
}
