using System.Globalization;
using CapsEmbedded.IO;

namespace CapsEmbedded.Data.MultiMnist;

/// <summary>
/// Generates the fixed MultiMNIST test set (paper §6) from the MNIST test digits: <c>pairsPerDigit</c> rounds over the
/// digits in index order, each digit in turn the first of a pair drawn by <see cref="MultiMnistPairs.Draw"/> from one
/// <see cref="DeterministicRandom"/> of the seed. Pair n = round · digits + digit, so the first digits-count pairs hold
/// every digit once, and a set with fewer rounds is a prefix of one with more. Written into one folder as
/// <see cref="MultiMnistStore"/> reads it: the merged images, the two labels, and the recipes (from which
/// <see cref="MultiMnistPairs.Compose"/> rebuilds each un-merged shifted digit, the reconstruction targets).
/// </summary>
public static class MultiMnistGenerator
{
    /// <summary>The seed of the shipped test set (the paper's year); another seed gives a set the project has never seen.</summary>
    public const ulong DefaultSeed = 2017;

    /// <summary>10 pairs per MNIST test digit: 100,000 test pairs (the paper used 1,000 per digit, 10 million).</summary>
    public const int DefaultPairsPerDigit = 10;

    /// <summary>Most pairs a set may have: its images must fit in one array for <see cref="MultiMnistStore.Load"/>.</summary>
    public static int MaxPairs => Array.MaxLength / MultiMnistPairs.CanvasLength;

    /// <summary>The recipes of the set: <paramref name="pairsPerDigit"/> × digits pairs, fixed by the seed.</summary>
    public static MultiMnistPair[] DrawPairs(LabeledImages digits, int pairsPerDigit, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(digits);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pairsPerDigit);
        long count = (long)pairsPerDigit * digits.Count;
        if (count > MaxPairs)
            throw new ArgumentOutOfRangeException(nameof(pairsPerDigit),
                $"{pairsPerDigit} pairs per digit of {digits.Count} digits are {count:N0} pairs; at most {MaxPairs:N0} fit in one set (36×36 bytes each)");
        var random = new DeterministicRandom(seed);
        var pairs = new MultiMnistPair[count];
        for (int round = 0, n = 0; round < pairsPerDigit; round++)
            for (int digit = 0; digit < digits.Count; digit++)
                pairs[n++] = MultiMnistPairs.Draw(digits.Labels, digit, random);
        return pairs;
    }

    /// <summary>The merged images as an IDX file: [N, 36, 36] unsigned bytes.</summary>
    public static void WriteImages(Stream stream, LabeledImages digits, MultiMnistPair[] pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        IdxWriter.WriteByteHeader(stream, pairs.Length, MultiMnistPairs.CanvasSize, MultiMnistPairs.CanvasSize);
        var canvases = new byte[3 * MultiMnistPairs.CanvasLength];
        Span<byte> first = canvases.AsSpan(0, MultiMnistPairs.CanvasLength);
        Span<byte> second = canvases.AsSpan(MultiMnistPairs.CanvasLength, MultiMnistPairs.CanvasLength);
        Span<byte> merged = canvases.AsSpan(2 * MultiMnistPairs.CanvasLength);
        foreach (MultiMnistPair pair in pairs)
        {
            MultiMnistPairs.Compose(digits, pair, first, second, merged);
            stream.Write(merged);
        }
    }

    /// <summary>The labels as an IDX file: [N, 2] unsigned bytes (magic 0x00000802), the first digit's class, the second's.</summary>
    public static void WriteLabels(Stream stream, LabeledImages digits, MultiMnistPair[] pairs)
    {
        ArgumentNullException.ThrowIfNull(digits);
        ArgumentNullException.ThrowIfNull(pairs);
        IdxWriter.WriteByteHeader(stream, pairs.Length, 2);
        var labels = new byte[2 * pairs.Length];
        for (int n = 0; n < pairs.Length; n++)
        {
            labels[2 * n] = digits.Labels[pairs[n].First];
            labels[2 * n + 1] = digits.Labels[pairs[n].Second];
        }
        stream.Write(labels);
    }

    /// <summary>The recipes as an IDX file: [N, 6] big-endian int32 (magic 0x00000C02), see <see cref="MultiMnistStore.PairsFileName"/>.</summary>
    public static void WritePairs(Stream stream, MultiMnistPair[] pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        IdxWriter.WriteInt32Header(stream, pairs.Length, MultiMnistStore.PairColumns);
        Span<int> row = stackalloc int[MultiMnistStore.PairColumns];
        foreach (MultiMnistPair p in pairs)
        {
            row[0] = p.First; row[1] = p.Second; row[2] = p.FirstDx; row[3] = p.FirstDy; row[4] = p.SecondDx; row[5] = p.SecondDy;
            IdxWriter.WriteInt32(stream, row);
        }
    }

    /// <summary>
    /// Writes the set into <paramref name="directory"/> (created if missing) through <see cref="AtomicFile"/>. Idempotent
    /// as the MNIST fetch: a file whose bytes already are what these arguments generate is kept. A file that differs
    /// (another seed or size, or pairs of a user's own) is never replaced silently: without <paramref name="force"/>
    /// nothing is written and an <see cref="IOException"/> names it; with it, the log says which file was replaced.
    /// </summary>
    public static void Generate(LabeledImages digits, string directory, int pairsPerDigit, ulong seed, bool force, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(digits);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(log);
        if (digits.Rows != MultiMnistPairs.DigitSize || digits.Cols != MultiMnistPairs.DigitSize)
            throw new ArgumentException($"MultiMNIST is built from {MultiMnistPairs.DigitSize}×{MultiMnistPairs.DigitSize} digits, got {digits.Rows}×{digits.Cols}", nameof(digits));
        var inv = CultureInfo.InvariantCulture;
        MultiMnistPair[] pairs = DrawPairs(digits, pairsPerDigit, seed);
        string what = string.Create(inv, $"{pairs.Length:N0} pairs ({pairsPerDigit} per digit of {digits.Count:N0}, seed {seed})");
        (string Name, Action<Stream> Write)[] files =
        [
            (MultiMnistStore.ImagesFileName, s => WriteImages(s, digits, pairs)),
            (MultiMnistStore.LabelsFileName, s => WriteLabels(s, digits, pairs)),
            (MultiMnistStore.PairsFileName, s => WritePairs(s, pairs)),
        ];

        Directory.CreateDirectory(directory);
        var pending = new List<(string Name, Action<Stream> Write, bool Replaces)>();
        var differing = new List<string>();
        foreach (var (name, write) in files)
        {
            string path = Path.Combine(directory, name);
            if (!File.Exists(path))
                pending.Add((name, write, false));
            else if (FileHash.Sha256(path) != Sha256Of(write))
            {
                differing.Add(path);
                pending.Add((name, write, true));
            }
        }
        if (differing.Count > 0 && !force)
            throw new IOException($"{string.Join(", ", differing)} exist{(differing.Count == 1 ? "s" : "")} and differ{(differing.Count == 1 ? "s" : "")} from the {what}"
                + " these flags generate (another seed or size, or pairs of your own); nothing was written: pass --force to replace, or another --data-dir");
        if (pending.Count == 0)
        {
            log.WriteLine($"multimnist: up to date in {directory}: {what}");
            return;
        }
        log.WriteLine($"multimnist: generating {what} in {directory}");
        foreach (var (name, write, replaces) in pending)
        {
            string path = Path.Combine(directory, name);
            AtomicFile.Write(path, write);
            log.WriteLine($"multimnist: {name} {(replaces ? "replaced (it differed)" : "written")}, {new FileInfo(path).Length:N0} bytes, SHA-256 {FileHash.Sha256(path)}");
        }
    }

    private static string Sha256Of(Action<Stream> write)
    {
        using var sink = new Sha256Sink();
        write(sink);
        return sink.Finish();
    }
}
