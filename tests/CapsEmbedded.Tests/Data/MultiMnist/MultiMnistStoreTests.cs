using System.Buffers.Binary;
using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;

namespace CapsEmbedded.Tests.Data.MultiMnist;

/// <summary>Reading a MultiMNIST set: the idx2 pair-label reader and the store's checks, each malformed case refused.</summary>
public sealed class MultiMnistStoreTests() : TempDirectoryTest("capsnet-multimnist-store-")
{
    /// <summary>An IDX pair-label file [count, perImage] (magic 0x00000802) holding <paramref name="labels"/>.</summary>
    internal static byte[] PairLabelFile(int perImage, params byte[] labels)
    {
        var file = new byte[12 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(file, 0x00000802);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(4), labels.Length / perImage);
        BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(8), perImage);
        labels.CopyTo(file, 12);
        return file;
    }

    internal static byte[] ReadPairLabels(byte[] file) => IdxReader.ReadPairLabels(new MemoryStream(file), "case.idx");

    private string Set(byte[] images, byte[] labels)
    {
        string directory = P("set");
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, MultiMnistStore.ImagesFileName), images);
        File.WriteAllBytes(Path.Combine(directory, MultiMnistStore.LabelsFileName), labels);
        return directory;
    }

    [Fact]
    public void Reads_pair_labels_plain_and_gzip()
    {
        byte[] file = PairLabelFile(2, 3, 7, 0, 9);
        Assert.Equal([3, 7, 0, 9], ReadPairLabels(file));
        Assert.Equal([3, 7, 0, 9], ReadPairLabels(DataFixtures.Gzip(file)));
        Assert.Empty(ReadPairLabels(PairLabelFile(2)));
    }

    public static TheoryData<string, byte[], string> MalformedPairLabels() => new()
    {
        { "one-label file", DataFixtures.LabelFile(1, 2), "magic 0x00000801 is a label file; expected a pair-label file (magic 0x00000802: count, 2)" },
        { "image file", DataFixtures.ImageFile(1, 2, 2), "magic 0x00000803 is an image file; expected a pair-label file" },
        { "int32 data", Retyped(PairLabelFile(2, 1, 2), 0x0C), "data type 0x0C (int32) is not supported; expected 0x08 (unsigned byte)" },
        { "bad magic", Retyped(PairLabelFile(2, 1, 2), 0x08, first: 1), "bad magic 0x01000802" },
        { "three per image", PairLabelFile(3, 1, 2, 3), "dimension 1 (labels per image) is 3; a pair-label file has 2" },
        { "none per image", PairLabelFile(1, 1, 2)[..8].Concat(new byte[4]).ToArray(), "dimension 1 (labels per image) is 0" },
        { "truncated payload", PairLabelFile(2, 1, 2, 3, 4)[..^1], "expected 16 bytes for 2 label pairs, found 15" },
        { "trailing byte", [.. PairLabelFile(2, 1, 2), 5], "expected 14 bytes for 1 label pairs, found 15" },
        { "truncated header", PairLabelFile(2, 1, 2)[..10], "file has only 10 bytes, too short for the 12-byte header" },
    };

    private static byte[] Retyped(byte[] file, byte type, byte first = 0)
    {
        file[0] = first;
        file[2] = type;
        return file;
    }

    [Theory]
    [MemberData(nameof(MalformedPairLabels))]
    public void Malformed_pair_label_files_are_refused(string what, byte[] file, string problem)
    {
        _ = what;
        DataFixtures.AssertRefusedPlainAndGzip(ReadPairLabels, file, problem);
    }

    [Fact]
    public void Loads_a_folder_of_the_two_files_plain_or_gz()
    {
        byte[] images = DataFixtures.ImageFile(2, 36, 36);
        string directory = Set(images, PairLabelFile(2, 3, 7, 9, 0));
        LabeledPairs set = MultiMnistStore.Load(directory, "unused");
        Assert.Equal((2, 36, 36), (set.Count, set.Rows, set.Cols));
        Assert.Equal([9, 0], set.GetLabels(1).ToArray());
        Assert.Equal(images.AsSpan(16 + 1296, 1296).ToArray(), set.GetImage(1).ToArray());
        Assert.True(MultiMnistStore.IsPairs(directory, "unused"));

        File.Move(Path.Combine(directory, MultiMnistStore.ImagesFileName), Path.Combine(directory, MultiMnistStore.ImagesFileName + ".gz"));
        File.WriteAllBytes(Path.Combine(directory, MultiMnistStore.ImagesFileName + ".gz"), DataFixtures.Gzip(images));
        Assert.Equal(set.Pixels, MultiMnistStore.Load(directory, "unused").Pixels);
    }

    [Fact]
    public void Count_mismatch_label_above_9_equal_labels_and_an_empty_set_are_refused()
    {
        void Refused(byte[] images, byte[] labelFile, string problem)
        {
            string directory = Set(images, labelFile);
            var e = DataFixtures.AssertRefused<IdxFormatException>(() => MultiMnistStore.Load(directory, "unused"), problem);
            Assert.StartsWith(Path.Combine(directory, "multimnist-test-"), e.FileName);
        }
        Refused(DataFixtures.ImageFile(3, 36, 36), PairLabelFile(2, 1, 2, 3, 4), "has 2 label pairs but multimnist-test-images-idx3-ubyte has 3 images");
        Refused(DataFixtures.ImageFile(2, 36, 36), PairLabelFile(2, 1, 2, 3, 10), "labels (3, 10) of image 1 are not both in 0..9");
        Refused(DataFixtures.ImageFile(2, 36, 36), PairLabelFile(2, 1, 2, 4, 4), "image 1 has class 4 twice");
        Refused(DataFixtures.ImageFile(0, 36, 36), PairLabelFile(2), "holds 0 images");
    }

    [Fact]
    public void A_missing_set_says_how_to_get_it()
    {
        var named = Assert.Throws<DatasetNotFoundException>(() => MultiMnistStore.Load("multimnist", Dir));
        Assert.Contains("run `capsnet data fetch multimnist`", named.Message);
        Assert.Equal(Path.Combine(Dir, "multimnist"), named.Directory);

        Directory.CreateDirectory(P("own"));
        File.WriteAllBytes(P("own/" + MultiMnistStore.ImagesFileName), DataFixtures.ImageFile(1, 36, 36));
        var folder = Assert.Throws<DatasetNotFoundException>(() => MultiMnistStore.Load(P("own"), Dir));
        Assert.Contains($"missing {MultiMnistStore.LabelsFileName}", folder.Message);
        Assert.False(MultiMnistStore.IsPairs(P("nothing"), Dir));
        Assert.True(MultiMnistStore.IsPairs("multimnist", Dir));
    }

    [Fact]
    public void Recipes_with_a_shift_beyond_4_or_a_negative_index_are_refused()
    {
        static byte[] Recipes(params int[] row)
        {
            var stream = new MemoryStream();
            IdxWriter.WriteInt32Header(stream, 1, 6);
            IdxWriter.WriteInt32(stream, row);
            return stream.ToArray();
        }
        string directory = P("recipes");
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, MultiMnistStore.PairsFileName);

        File.WriteAllBytes(path, Recipes(5, 9, -4, 4, 0, -1));
        Assert.Equal([new MultiMnistPair(5, 9, -4, 4, 0, -1)], MultiMnistStore.LoadPairs(directory, "unused"));
        File.WriteAllBytes(path, Recipes(5, 9, -5, 4, 0, -1));
        DataFixtures.AssertRefused<IdxFormatException>(() => MultiMnistStore.LoadPairs(directory, "unused"), "pair 0 has a shift of -5, outside ±4");
        File.WriteAllBytes(path, Recipes(-1, 9, 0, 0, 0, 0));
        DataFixtures.AssertRefused<IdxFormatException>(() => MultiMnistStore.LoadPairs(directory, "unused"), "pair 0 names digits -1 and 9");
        File.WriteAllBytes(path, Recipes(1, 9, 0, 0, 0, 0)[..^2]);
        DataFixtures.AssertRefused<IdxFormatException>(() => MultiMnistStore.LoadPairs(directory, "unused"), "expected 36 bytes for 1 rows of 6 int32, found 34");
        var seven = new MemoryStream();
        IdxWriter.WriteInt32Header(seven, 1, 7);
        IdxWriter.WriteInt32(seven, new int[7]);
        File.WriteAllBytes(path, seven.ToArray());
        DataFixtures.AssertRefused<IdxFormatException>(() => MultiMnistStore.LoadPairs(directory, "unused"), "dimension 1 (columns) is 7; expected 6");
    }
}
