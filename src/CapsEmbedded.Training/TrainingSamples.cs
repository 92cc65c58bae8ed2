using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;

namespace CapsEmbedded.Training;

/// <summary>What a run trains on; recorded in the checkpoint (<c>trainer.data</c>), so a resume cannot switch it.</summary>
public enum TrainingDataKind
{
    /// <summary>One labelled image per sample (MNIST, Fashion-MNIST, a folder), shifted (and rotated, scaled) at random.</summary>
    Images,
    /// <summary>MultiMNIST (paper §6): two digits of different classes overlaid, drawn afresh each epoch from the digits.</summary>
    MultiMnist,
    /// <summary>One labelled image per sample with the Efficient-CapsNet authors' augmentation (<see cref="EfficientAugmentation"/>:
    /// rotation, shift into the margins, squish, erase) instead of the shift, rotate and scale flags.</summary>
    EfficientImages,
}

/// <summary>
/// A training set as <see cref="TrainingLoop"/> sees it: <see cref="Count"/> samples an epoch, each made from its index
/// (the epoch's shuffled order) and the loop's checkpointed generator, so an interrupted and resumed run draws the same.
/// </summary>
public interface ITrainingSamples
{
    /// <summary>Samples per epoch.</summary>
    int Count { get; }

    /// <summary>True classes per sample (1; MultiMNIST: 2).</summary>
    int Targets { get; }

    /// <summary>False: each image is its own reconstruction target and <see cref="Draw"/> leaves that span alone.</summary>
    bool HasReconstructionTargets { get; }

    /// <summary>Sample <paramref name="index"/>: image [input] in [0, 1], labels [targets], reconstruction targets [targets][input].</summary>
    void Draw(int index, DeterministicRandom random, Span<float> image, Span<int> labels, Span<float> reconstructionTargets);
}

/// <summary>A fixed test set: the same images and labels every epoch.</summary>
public interface ITestSamples
{
    int Count { get; }
    int Targets { get; }

    /// <summary>Sample <paramref name="index"/>: image [input] in [0, 1] and its labels [targets].</summary>
    void Get(int index, Span<float> image, Span<int> labels);
}

/// <summary>The loop's samples for a run's <see cref="TrainingOptions.Data"/> from the loaded images.</summary>
public static class TrainingSamples
{
    /// <summary>Seed of the fixed MultiMNIST test pairs evaluated after each epoch (any fixed value; this spells "MMTEST").</summary>
    public const ulong MultiMnistTestSeed = 0x4D4D54455354;

    public static ITrainingSamples Train(TrainingOptions options, LabeledImages images) => options.Data switch
    {
        TrainingDataKind.MultiMnist => new MultiMnistTrainingPairs(images),
        TrainingDataKind.EfficientImages => new EfficientAugmentedImages(images),
        _ => new AugmentedImages(images, options),
    };

    public static ITestSamples Test(TrainingOptions options, LabeledImages images) => options.Data switch
    {
        TrainingDataKind.MultiMnist => new MultiMnistTestPairs(images, images.Count, MultiMnistTestSeed),
        _ => new PlainImages(images),
    };

    /// <summary>A data kind's name in checkpoints and messages.</summary>
    public static string Name(TrainingDataKind kind) => kind switch
    {
        TrainingDataKind.MultiMnist => "multimnist",
        TrainingDataKind.EfficientImages => "images-efficient",
        _ => "images",
    };

    /// <summary>The kind <see cref="Name"/> gives <paramref name="name"/>, or null.</summary>
    public static TrainingDataKind? Kind(string name) =>
        Enum.GetValues<TrainingDataKind>().Where(k => Name(k) == name).Select(k => (TrainingDataKind?)k).FirstOrDefault();

    /// <summary>Bytes 0..255 as network input (byte / 255, as <see cref="RandomShift"/>).</summary>
    internal static void ToInput(ReadOnlySpan<byte> pixels, Span<float> destination)
    {
        const float scale = 1f / 255f;
        for (int k = 0; k < pixels.Length; k++) destination[k] = pixels[k] * scale;
    }
}

/// <summary>
/// Labelled images, each shifted by up to <see cref="TrainingOptions.MaxShift"/> pixels (paper §5) and, when asked,
/// rotated and scaled (<see cref="RandomAffine"/>): two draws for the shift, then two for the affine only when it is on,
/// so runs without it keep their random sequence.
/// </summary>
public sealed class AugmentedImages(LabeledImages images, TrainingOptions options) : ITrainingSamples
{
    public int Count => images.Count;
    public int Targets => 1;
    public bool HasReconstructionTargets => false;

    public void Draw(int index, DeterministicRandom random, Span<float> image, Span<int> labels, Span<float> reconstructionTargets)
    {
        var o = options;
        int size = o.Architecture.InputSize;
        int dx = o.MaxShift == 0 ? 0 : random.NextInt(2 * o.MaxShift + 1) - o.MaxShift;
        int dy = o.MaxShift == 0 ? 0 : random.NextInt(2 * o.MaxShift + 1) - o.MaxShift;
        if (o.Affine)
        {
            double degrees = o.MaxRotationDegrees * (2 * random.NextDouble() - 1);
            double scale = 1 + o.MaxScale * (2 * random.NextDouble() - 1);
            RandomAffine.Apply(images.GetImage(index), 1, size, dx, dy, degrees, scale, image);
        }
        else RandomShift.Apply(images.GetImage(index), 1, size, dx, dy, image);
        labels[0] = images.Labels[index];
    }
}

/// <summary>Labelled images, each through <see cref="EfficientAugmentation"/> (ten draws from the loop's generator).</summary>
public sealed class EfficientAugmentedImages(LabeledImages images) : ITrainingSamples
{
    private readonly float[] _scratch = new float[images.ImageLength];

    public int Count => images.Count;
    public int Targets => 1;
    public bool HasReconstructionTargets => false;

    public void Draw(int index, DeterministicRandom random, Span<float> image, Span<int> labels, Span<float> reconstructionTargets)
    {
        if (images.Rows != images.Cols) throw new ArgumentException($"the Efficient-CapsNet augmentation takes square images, got {images.Rows}x{images.Cols}");
        EfficientAugmentation.Apply(images.GetImage(index), images.Rows, random, image, _scratch);
        labels[0] = images.Labels[index];
    }
}

/// <summary>Labelled images as they are (no shift): the single-image test set.</summary>
public sealed class PlainImages(LabeledImages images) : ITestSamples
{
    public int Count => images.Count;
    public int Targets => 1;

    public void Get(int index, Span<float> image, Span<int> labels)
    {
        TrainingSamples.ToInput(images.GetImage(index), image);
        labels[0] = images.Labels[index];
    }
}

/// <summary>
/// MultiMNIST training pairs drawn afresh every epoch (paper §6: "generated on the fly"): sample k's first digit is digit k
/// of the source (so each epoch uses every digit once as first, in the shuffled order), its partner of another class and
/// the four shifts come from the loop's generator (<see cref="MultiMnistPairs.Draw"/>). The reconstruction targets are the
/// two shifted digits apart.
/// </summary>
public sealed class MultiMnistTrainingPairs : ITrainingSamples
{
    private readonly LabeledImages _digits;
    private readonly byte[] _first = new byte[MultiMnistPairs.CanvasLength], _second = new byte[MultiMnistPairs.CanvasLength],
        _merged = new byte[MultiMnistPairs.CanvasLength];

    public MultiMnistTrainingPairs(LabeledImages digits)
    {
        CheckDigits(digits);
        _digits = digits;
    }

    public int Count => _digits.Count;
    public int Targets => 2;
    public bool HasReconstructionTargets => true;

    public void Draw(int index, DeterministicRandom random, Span<float> image, Span<int> labels, Span<float> reconstructionTargets)
    {
        var pair = MultiMnistPairs.Draw(_digits.Labels, index, random);
        MultiMnistPairs.Compose(_digits, pair, _first, _second, _merged);
        const int n = MultiMnistPairs.CanvasLength;
        TrainingSamples.ToInput(_merged, image);
        TrainingSamples.ToInput(_first, reconstructionTargets[..n]);
        TrainingSamples.ToInput(_second, reconstructionTargets.Slice(n, n));
        labels[0] = _digits.Labels[pair.First];
        labels[1] = _digits.Labels[pair.Second];
    }

    internal static void CheckDigits(LabeledImages digits)
    {
        if (digits.Rows != MultiMnistPairs.DigitSize || digits.Cols != MultiMnistPairs.DigitSize)
            throw new ArgumentException($"MultiMNIST pairs are built from {MultiMnistPairs.DigitSize}x{MultiMnistPairs.DigitSize} digits, got {digits.Rows}x{digits.Cols}");
    }
}

/// <summary>
/// A fixed set of MultiMNIST test pairs: pair k's first digit is digit k of the source (the MNIST test split), partner and
/// shifts drawn once from a generator of a fixed seed, so every epoch and every run measures the same pairs.
/// </summary>
public sealed class MultiMnistTestPairs : ITestSamples
{
    private readonly LabeledImages _digits;
    private readonly MultiMnistPair[] _pairs;
    private readonly byte[] _first = new byte[MultiMnistPairs.CanvasLength], _second = new byte[MultiMnistPairs.CanvasLength],
        _merged = new byte[MultiMnistPairs.CanvasLength];

    /// <param name="digits">The source digits (28×28).</param>
    /// <param name="count">Pairs (at most one per digit).</param>
    /// <param name="seed">Seed of the partners and shifts.</param>
    public MultiMnistTestPairs(LabeledImages digits, int count, ulong seed)
    {
        MultiMnistTrainingPairs.CheckDigits(digits);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, digits.Count);
        _digits = digits;
        var random = new DeterministicRandom(seed);
        _pairs = new MultiMnistPair[count];
        for (int k = 0; k < count; k++) _pairs[k] = MultiMnistPairs.Draw(digits.Labels, k, random);
    }

    public int Count => _pairs.Length;
    public int Targets => 2;

    /// <summary>Pair <paramref name="index"/>'s recipe.</summary>
    public MultiMnistPair Pair(int index) => _pairs[index];

    public void Get(int index, Span<float> image, Span<int> labels)
    {
        var pair = _pairs[index];
        MultiMnistPairs.Compose(_digits, pair, _first, _second, _merged);
        TrainingSamples.ToInput(_merged, image);
        labels[0] = _digits.Labels[pair.First];
        labels[1] = _digits.Labels[pair.Second];
    }
}
