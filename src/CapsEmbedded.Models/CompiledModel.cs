using CapsEmbedded.IO;
using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Models;

/// <summary>
/// The registry of the models generated into this assembly, the one list that <c>capsnet</c> (<c>--model</c>) and
/// <c>capsnet-serve</c> pick from: each model's name (also the name of the data set it was trained on), its shape and family,
/// its embedded weight file, how many capsules a reading takes, and how to open it as an <see cref="ICapsNetSession"/>
/// over its embedded weights or a file of its architecture.
/// </summary>
public sealed class CompiledModel
{
    public static readonly CompiledModel Mnist = Create("mnist", MnistCapsNet.Architecture, MnistCapsNet.WeightsFileName,
        MnistCapsNet.WeightsResourceName, defaultTop: 1, () => MnistCapsNet.Weights.Embedded, () => MnistCapsNet.Weights.EmbeddedWidened,
        () => MnistCapsNet.Weights.EmbeddedWidenedPrimary, MnistCapsNet.Weights.FromWeights,
        (weights, owns) => new MnistCapsNet.Session(weights, ownsWeights: owns));

    public static readonly CompiledModel Fashion = Create("fashion", FashionCapsNet.Architecture, FashionCapsNet.WeightsFileName,
        FashionCapsNet.WeightsResourceName, defaultTop: 1, () => FashionCapsNet.Weights.Embedded, () => FashionCapsNet.Weights.EmbeddedWidened,
        () => FashionCapsNet.Weights.EmbeddedWidenedPrimary, FashionCapsNet.Weights.FromWeights,
        (weights, owns) => new FashionCapsNet.Session(weights, ownsWeights: owns));

    /// <summary>36×36 images of two overlapping digits (paper §6): a reading is the two longest capsules.</summary>
    public static readonly CompiledModel MultiMnist = Create("multimnist", MultiMnistCapsNet.Architecture, MultiMnistCapsNet.WeightsFileName,
        MultiMnistCapsNet.WeightsResourceName, defaultTop: 2, () => MultiMnistCapsNet.Weights.Embedded, () => MultiMnistCapsNet.Weights.EmbeddedWidened,
        () => MultiMnistCapsNet.Weights.EmbeddedWidenedPrimary, MultiMnistCapsNet.Weights.FromWeights,
        (weights, owns) => new MultiMnistCapsNet.Session(weights, ownsWeights: owns));

    /// <summary>Efficient-CapsNet (Mazzia et al. 2021) on MNIST: 31.5 M multiply-adds an image against the paper network's 203 M.</summary>
    public static readonly CompiledModel MnistEfficient = new(
        _ => MnistEfficientCapsNet.Weights.Embedded,
        (path, weights) => MnistEfficientCapsNet.Weights.FromWeights(
            (EfficientCapsNetWeights?)weights ?? EfficientCapsNetWeightsFile.Load(path), path),
        (weights, owns) => new MnistEfficientCapsNet.Session((MnistEfficientCapsNet.Weights)weights, ownsWeights: owns))
    {
        Name = "mnist-efficient", Data = "mnist", Shape = ModelShape.Of(MnistEfficientCapsNet.Architecture), Architecture = null,
        WeightsFileName = MnistEfficientCapsNet.WeightsFileName, WeightsResourceName = MnistEfficientCapsNet.WeightsResourceName,
        DefaultTop = 1,
    };

    /// <summary>Every compiled model, the default (MNIST) first.</summary>
    public static IReadOnlyList<CompiledModel> All { get; } = [Mnist, Fashion, MultiMnist, MnistEfficient];

    /// <summary>The model a command runs when none is named.</summary>
    public static CompiledModel Default => Mnist;

    /// <summary>The names of <see cref="All"/>, in order.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(m => m.Name).ToArray();

    private readonly Func<WeightResidency, IDisposable> _embedded;
    private readonly Func<string, object?, IDisposable> _pack;
    private readonly Func<IDisposable, bool, ICapsNetSession> _session;

    // pack(source, weights): the file at source, or weights (read from it) already in managed arrays, folded and packed.
    private CompiledModel(Func<WeightResidency, IDisposable> embedded, Func<string, object?, IDisposable> pack,
        Func<IDisposable, bool, ICapsNetSession> session)
    {
        _embedded = embedded;
        _pack = pack;
        _session = session;
    }

    // One generated paper model's Weights type, hidden behind IDisposable so that one registry entry serves every model.
    private static CompiledModel Create<TWeights>(string name, CapsNetArchitecture architecture, string weightsFileName, string weightsResourceName,
        int defaultTop, Func<TWeights> embedded, Func<TWeights> embeddedWidened, Func<TWeights> embeddedWidenedPrimary,
        Func<CapsNetWeights, string?, TWeights> pack,
        Func<TWeights, bool, ICapsNetSession> session)
        where TWeights : class, IDisposable =>
        new(residency => residency switch
            {
                WeightResidency.Widened => embeddedWidened(),
                WeightResidency.WidenedPrimary => embeddedWidenedPrimary(),
                _ => embedded(),
            },
            (source, weights) => pack((CapsNetWeights?)weights ?? CapsNetWeightsFile.Load(source), source),
            (weights, owns) => session((TWeights)weights, owns))
        {
            Name = name, Data = name, Shape = ModelShape.Of(architecture), Architecture = architecture,
            WeightsFileName = weightsFileName, WeightsResourceName = weightsResourceName, DefaultTop = defaultTop,
        };

    /// <summary>The <c>--model</c> value: the name of the data set it was trained on, with "-efficient" for Efficient-CapsNet.</summary>
    public required string Name { get; init; }

    /// <summary>The data set it was trained on (<c>--data</c>'s value when none is given): "mnist" for mnist and mnist-efficient.</summary>
    public required string Data { get; init; }

    /// <summary>What callers need of the network, whichever its family.</summary>
    public required ModelShape Shape { get; init; }

    /// <summary>The network's family: which weight files it runs.</summary>
    public CapsNetFamily Family => Shape.Family;

    /// <summary>The paper network's architecture; null for a model of another family (<see cref="Family"/>).</summary>
    public required CapsNetArchitecture? Architecture { get; init; }

    public required string WeightsFileName { get; init; }

    /// <summary>The manifest resource that holds the weight file in this assembly, as it is or packed (EmbeddedWeights.ReadFile reads either).</summary>
    public required string WeightsResourceName { get; init; }

    /// <summary>How many of the longest capsules one reading takes: 1, or 2 for MultiMNIST's two digits.</summary>
    public required int DefaultTop { get; init; }

    /// <summary>"embedded (mnist.safetensors)": where the weights of <see cref="Open(string?, WeightResidency)"/>(null) come from.</summary>
    public string EmbeddedSource => $"embedded ({WeightsFileName})";

    /// <summary>Where the weights of <see cref="Open(string?, WeightResidency)"/>(<paramref name="weightsPath"/>) come from, for reports.</summary>
    public string SourceOf(string? weightsPath) => weightsPath ?? EmbeddedSource;

    /// <summary>
    /// The compiled model with its embedded weights, or with the file at <paramref name="weightsPath"/> packed in their
    /// place; a file of another family is refused naming both (<see cref="CheckFamily(string, CapsNetFamily)"/>), one of another architecture by
    /// the generated FromWeights (a WeightFormatException naming the mismatch). The session owns what it loaded.
    /// </summary>
    /// <remarks>
    /// <paramref name="residency"/>: where the embedded weights are kept, F16 read in place (the default), or all or the
    /// primary conv's widened to float32 once at load, the faster choices on one thread (<see cref="WeightResidency"/>; the
    /// same outputs bit for bit).
    /// A file at <paramref name="weightsPath"/> is packed as float32 either way.
    /// </remarks>
    public ICapsNetSession Open(string? weightsPath, WeightResidency residency = WeightResidency.InPlace)
        => _session(Load(weightsPath, residency), true);

    /// <summary>
    /// As <see cref="Open(string?, WeightResidency)"/> for the file at <paramref name="weightsPath"/> whose family the caller has read
    /// (<see cref="FamilyOf"/>): refused naming both when it is not this model's, without reading the header again.
    /// </summary>
    public ICapsNetSession Open(string weightsPath, CapsNetFamily fileFamily)
    {
        CheckFamily(weightsPath, fileFamily);
        return _session(_pack(weightsPath, null), true);
    }

    /// <summary>Refuses, naming both, a file at <paramref name="source"/> whose family (read by the caller) is not this model's.</summary>
    /// <exception cref="WeightFormatException"><paramref name="fileFamily"/> is not <see cref="Family"/>.</exception>
    public void CheckFamily(string source, CapsNetFamily fileFamily)
    {
        if (fileFamily != Family) throw FamilyMismatch(source, fileFamily);
    }

    /// <summary>The compiled model with <paramref name="weights"/> (of its architecture, read from <paramref name="source"/>).</summary>
    /// <exception cref="WeightFormatException">This model is not of the paper family.</exception>
    public ICapsNetSession Open(CapsNetWeights weights, string source)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (Family != CapsNetFamily.Paper) throw FamilyMismatch(source, CapsNetFamily.Paper);
        return _session(_pack(source, weights), true);
    }

    /// <summary>
    /// The weights of <see cref="Open(string?, WeightResidency)"/>, packed once, and as many sessions over them as a caller wants (one per
    /// concurrent caller); disposing it frees loaded weights, so dispose the sessions first.
    /// </summary>
    /// <remarks><paramref name="residency"/>: where the embedded weights are kept, as for <see cref="Open(string?, WeightResidency)"/>.</remarks>
    public SharedWeights Share(string? weightsPath, WeightResidency residency = WeightResidency.InPlace)
        => new(Load(weightsPath, residency), this);

    private IDisposable Load(string? weightsPath, WeightResidency residency)
    {
        if (!Enum.IsDefined(residency)) throw new ArgumentOutOfRangeException(nameof(residency), residency, "not a WeightResidency");
        if (weightsPath is null) return _embedded(residency);
        CheckFamily(weightsPath);
        return _pack(weightsPath, null);
    }

    /// <summary>
    /// Refuses a weight file of another family than this model's, naming both (a paper file given to mnist-efficient, an
    /// Efficient-CapsNet file given to mnist); reads only the file's header.
    /// </summary>
    /// <exception cref="WeightFormatException">The file's family is not <see cref="Family"/>, or its header is invalid.</exception>
    private void CheckFamily(string weightsPath)
    {
        if (!File.Exists(weightsPath)) return; // the loader's own "no such file"
        CheckFamily(weightsPath, FamilyOf(weightsPath));
    }

    /// <summary>
    /// The family a weight file holds (its <c>capsnet.family</c>), from its header only; the path is opened as every input
    /// file is (<see cref="InputFile"/>: a directory, device or FIFO is refused naming it).
    /// </summary>
    /// <exception cref="WeightFormatException">The header is invalid or names no family.</exception>
    public static CapsNetFamily FamilyOf(string weightsPath)
    {
        using var stream = InputFile.OpenRead(weightsPath, Array.MaxLength, "weight file");
        return CapsNetFamily.Of(SafeTensorsFile.ReadHeader(stream, weightsPath).Header.Metadata, weightsPath);
    }

    private WeightFormatException FamilyMismatch(string source, CapsNetFamily family) => new(source, null,
        $"holds {FamilyText(family)} network; the compiled model {Name} is {FamilyText(Family)} model"
        + (All.FirstOrDefault(m => m.Family == family) is { } other ? $" (use --model {other.Name})" : ""));

    private static string FamilyText(CapsNetFamily family) => family == CapsNetFamily.Efficient ? "an Efficient-CapsNet" : "a paper CapsNet";

    /// <summary>The embedded weight file as managed arrays, for the reference model and export (paper models only).</summary>
    /// <exception cref="InvalidOperationException">This model is of another family: read it with <see cref="ReadEmbeddedEfficient"/>.</exception>
    public CapsNetWeights ReadEmbedded()
    {
        if (Family != CapsNetFamily.Paper)
            throw new InvalidOperationException($"{Name} is an Efficient-CapsNet model: read its file with ReadEmbeddedEfficient");
        return CapsNetWeightsFile.Read(ReadEmbeddedFile(), WeightsFileName);
    }

    /// <summary>The embedded Efficient-CapsNet weight file as managed arrays (for its reference model).</summary>
    /// <exception cref="InvalidOperationException">This model is of the paper family: read it with <see cref="ReadEmbedded"/>.</exception>
    public EfficientCapsNetWeights ReadEmbeddedEfficient()
    {
        if (Family != CapsNetFamily.Efficient)
            throw new InvalidOperationException($"{Name} is a paper CapsNet model: read its file with ReadEmbedded");
        return EfficientCapsNetWeightsFile.Read(ReadEmbeddedFile(), WeightsFileName);
    }

    /// <summary>The embedded weight file's bytes as it was written (a packed resource is unpacked to the same bytes), for capsnet info.</summary>
    public byte[] ReadEmbeddedFile() => EmbeddedWeights.ReadFile(typeof(CompiledModel).Assembly, WeightsResourceName);

    public override string ToString() => Name;

    /// <summary>
    /// The compiled model a weight file runs on when no <c>--model</c> is given: the Efficient-CapsNet model for a file of that
    /// family, else the first compiled model of the file's architecture (a 36×36 file: MultiMnistCapsNet); null when none fits.
    /// Reads the header only.
    /// </summary>
    /// <exception cref="WeightFormatException">The header is invalid.</exception>
    public static CompiledModel? OfFile(string weightsPath) => FamilyOf(weightsPath) == CapsNetFamily.Efficient
        ? OfFamily(CapsNetFamily.Efficient)
        : OfArchitecture(CapsNetWeightsFile.ArchitectureOf(weightsPath));

    /// <summary>The compiled model called <paramref name="name"/>, or null.</summary>
    public static CompiledModel? Find(string? name) => All.FirstOrDefault(m => m.Name == name);

    /// <summary>The first compiled model of <paramref name="architecture"/> (mnist before fashion, which share it), or null.</summary>
    public static CompiledModel? OfArchitecture(CapsNetArchitecture architecture) => All.FirstOrDefault(m => m.Architecture == architecture);

    /// <summary>The first compiled model of <paramref name="family"/> (mnist-efficient for Efficient-CapsNet files), or null.</summary>
    public static CompiledModel? OfFamily(CapsNetFamily family) => All.FirstOrDefault(m => m.Family == family);

    /// <summary>The compiled model called <paramref name="name"/>; any other name is an ArgumentException that lists them.</summary>
    public static CompiledModel Named(string name) => Find(name)
        ?? throw new ArgumentException($"no compiled model is called '{name}'; the compiled models are {string.Join(", ", Names)}", nameof(name));

    /// <summary>One model's packed weights shared by the sessions made over them (see <see cref="Share"/>).</summary>
    public sealed class SharedWeights(IDisposable weights, CompiledModel model) : IDisposable
    {
        public CompiledModel Model => model;

        /// <summary>A session of its own (its own workspace) over the shared weights, which it does not own.</summary>
        public ICapsNetSession NewSession() => model._session(weights, false);

        /// <summary>Frees the weights (a no-op for the embedded ones, which live as long as the process).</summary>
        public void Dispose() => weights.Dispose();
    }
}
