namespace CapsEmbedded.Weights;

/// <summary>
/// A network's float32 tensors by name, zero-filled from its tensor list, and its <c>__metadata__</c>: what the weights
/// of every family share (<see cref="CapsNetWeights"/>, <see cref="EfficientCapsNetWeights"/>).
/// </summary>
public abstract class NamedTensors
{
    private readonly Dictionary<string, float[]> _tensors = new(StringComparer.Ordinal);
    private readonly int _classes;
    private readonly string _network;

    /// <param name="architecture">Gives the tensors, the classes for <see cref="ClassNames"/> and its own metadata keys,
    /// written over <paramref name="metadata"/>; must be valid.</param>
    /// <param name="network">Names the network in errors ("a CapsNet").</param>
    /// <param name="metadata">Entries to keep (provenance, class names); may be null.</param>
    private protected NamedTensors(CapsuleArchitecture architecture, string network, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        if (architecture.Validate() is { } error) throw new ArgumentException($"invalid architecture: {error}", nameof(architecture));
        foreach (var spec in architecture.Tensors) _tensors[spec.Name] = new float[spec.ElementCount];
        _classes = architecture.Classes;
        _network = network;
        Metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
            foreach (var (key, value) in metadata) Metadata[key] = value;
        foreach (var (key, value) in architecture.ToMetadata()) Metadata[key] = value;
    }

    /// <summary>All <c>__metadata__</c> entries: the <c>capsnet.*</c> architecture keys plus provenance.</summary>
    public Dictionary<string, string> Metadata { get; }

    /// <summary>
    /// One name per class from the <c>capsnet.class_names</c> metadata, or "0".."classes−1" when there is none.
    /// </summary>
    /// <exception cref="WeightFormatException">The metadata entry is malformed (a file read from disk was checked already).</exception>
    public IReadOnlyList<string> ClassNames =>
        CapsNetClassNames.Read(Metadata, _classes, "weights") ?? CapsNetClassNames.Default(_classes);

    /// <summary>The tensor with this name (see the architecture's <c>Tensors</c>).</summary>
    public float[] this[string name] => _tensors.TryGetValue(name, out var t)
        ? t : throw new KeyNotFoundException($"no tensor named '{name}' in {_network}");
}
