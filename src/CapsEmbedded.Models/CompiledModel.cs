using CapsEmbedded.Runtime;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Models;

/// <summary>
/// The registry of the models generated into this assembly, the one list that <c>capsnet</c> (<c>--model</c>) and
/// <c>capsnet-serve</c> pick from: each model's name (also the name of the data set it was trained on), its architecture,
/// its embedded weight file, how many capsules a reading takes, and how to open it as an <see cref="ICapsNetSession"/>
/// over its embedded weights or a file of its architecture.
/// </summary>
public sealed class CompiledModel
{
    public static readonly CompiledModel Mnist = Create("mnist", MnistCapsNet.Architecture, MnistCapsNet.WeightsFileName,
        MnistCapsNet.WeightsResourceName, defaultTop: 1, () => MnistCapsNet.Weights.Embedded, MnistCapsNet.Weights.FromWeights,
        (weights, owns) => new MnistCapsNet.Session(weights, ownsWeights: owns));

    public static readonly CompiledModel Fashion = Create("fashion", FashionCapsNet.Architecture, FashionCapsNet.WeightsFileName,
        FashionCapsNet.WeightsResourceName, defaultTop: 1, () => FashionCapsNet.Weights.Embedded, FashionCapsNet.Weights.FromWeights,
        (weights, owns) => new FashionCapsNet.Session(weights, ownsWeights: owns));

    /// <summary>36×36 images of two overlapping digits (paper §6): a reading is the two longest capsules.</summary>
    public static readonly CompiledModel MultiMnist = Create("multimnist", MultiMnistCapsNet.Architecture, MultiMnistCapsNet.WeightsFileName,
        MultiMnistCapsNet.WeightsResourceName, defaultTop: 2, () => MultiMnistCapsNet.Weights.Embedded, MultiMnistCapsNet.Weights.FromWeights,
        (weights, owns) => new MultiMnistCapsNet.Session(weights, ownsWeights: owns));

    /// <summary>Every compiled model, the default (MNIST) first.</summary>
    public static IReadOnlyList<CompiledModel> All { get; } = [Mnist, Fashion, MultiMnist];

    /// <summary>The model a command runs when none is named.</summary>
    public static CompiledModel Default => Mnist;

    /// <summary>The names of <see cref="All"/>, in order.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(m => m.Name).ToArray();

    private readonly Func<IDisposable> _embedded;
    private readonly Func<CapsNetWeights, string, IDisposable> _pack;
    private readonly Func<IDisposable, bool, ICapsNetSession> _session;

    private CompiledModel(string name, CapsNetArchitecture architecture, string weightsFileName, string weightsResourceName, int defaultTop,
        Func<IDisposable> embedded, Func<CapsNetWeights, string, IDisposable> pack, Func<IDisposable, bool, ICapsNetSession> session)
    {
        Name = name;
        Architecture = architecture;
        WeightsFileName = weightsFileName;
        WeightsResourceName = weightsResourceName;
        DefaultTop = defaultTop;
        _embedded = embedded;
        _pack = pack;
        _session = session;
    }

    // One generated model's Weights type, hidden behind IDisposable so that one registry entry serves every model.
    private static CompiledModel Create<TWeights>(string name, CapsNetArchitecture architecture, string weightsFileName, string weightsResourceName,
        int defaultTop, Func<TWeights> embedded, Func<CapsNetWeights, string?, TWeights> pack, Func<TWeights, bool, ICapsNetSession> session)
        where TWeights : class, IDisposable =>
        new(name, architecture, weightsFileName, weightsResourceName, defaultTop, embedded, (weights, source) => pack(weights, source),
            (weights, owns) => session((TWeights)weights, owns));

    /// <summary>The <c>--model</c> value, which is also the name of the data set it was trained on.</summary>
    public string Name { get; }

    public CapsNetArchitecture Architecture { get; }

    public string WeightsFileName { get; }

    /// <summary>The manifest resource that holds the weight file in this assembly, as it is or packed (EmbeddedWeights.ReadFile reads either).</summary>
    public string WeightsResourceName { get; }

    /// <summary>How many of the longest capsules one reading takes: 1, or 2 for MultiMNIST's two digits.</summary>
    public int DefaultTop { get; }

    /// <summary>"embedded (mnist.safetensors)": where the weights of <see cref="Open(string?)"/>(null) come from.</summary>
    public string EmbeddedSource => $"embedded ({WeightsFileName})";

    /// <summary>Where the weights of <see cref="Open(string?)"/>(<paramref name="weightsPath"/>) come from, for reports.</summary>
    public string SourceOf(string? weightsPath) => weightsPath ?? EmbeddedSource;

    /// <summary>
    /// The compiled model with its embedded weights, or with the file at <paramref name="weightsPath"/> packed in their
    /// place; a file of another architecture is refused by the generated FromWeights (a WeightFormatException naming the
    /// mismatch). The session owns what it loaded.
    /// </summary>
    public ICapsNetSession Open(string? weightsPath) =>
        weightsPath is null ? _session(_embedded(), true) : Open(CapsNetWeightsFile.Load(weightsPath), weightsPath);

    /// <summary>The compiled model with <paramref name="weights"/> (of its architecture, read from <paramref name="source"/>).</summary>
    public ICapsNetSession Open(CapsNetWeights weights, string source) => _session(_pack(weights, source), true);

    /// <summary>
    /// The weights of <see cref="Open(string?)"/>, packed once, and as many sessions over them as a caller wants (one per
    /// concurrent caller); disposing it frees loaded weights, so dispose the sessions first.
    /// </summary>
    public SharedWeights Share(string? weightsPath) =>
        new(weightsPath is null ? _embedded() : _pack(CapsNetWeightsFile.Load(weightsPath), weightsPath), this);

    /// <summary>The embedded weight file as managed arrays, for the reference model and export.</summary>
    public CapsNetWeights ReadEmbedded() =>
        CapsNetWeightsFile.Read(EmbeddedWeights.ReadFile(typeof(CompiledModel).Assembly, WeightsResourceName), WeightsFileName);

    public override string ToString() => Name;

    /// <summary>The compiled model called <paramref name="name"/>, or null.</summary>
    public static CompiledModel? Find(string? name) => All.FirstOrDefault(m => m.Name == name);

    /// <summary>The first compiled model of <paramref name="architecture"/> (mnist before fashion, which share it), or null.</summary>
    public static CompiledModel? OfArchitecture(CapsNetArchitecture architecture) => All.FirstOrDefault(m => m.Architecture == architecture);

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
