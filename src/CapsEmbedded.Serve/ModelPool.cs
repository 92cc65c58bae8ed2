using System.Collections.Concurrent;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Serve;

/// <summary>
/// Per-request scratch: a session of the served model (its own workspace, the pool's shared weights) plus every buffer
/// a request needs, taken from a pool and returned, so serving a request runs the model without allocating.
/// </summary>
internal sealed class ModelSession : IDisposable
{
    public ModelSession(ICapsNetSession model)
    {
        Model = model;
        var a = model.Architecture;
        Body = new byte[a.InputLength + 1]; // one byte more than the largest valid body, to see an oversized one
        Image = new float[a.InputLength];
        Lengths = new float[a.Classes];
        Capsules = new float[a.DecoderInput];
        Reconstruction = new float[a.DecoderOutput];
    }

    /// <summary>The served model over the pool's weights (it does not own them).</summary>
    public ICapsNetSession Model { get; }
    public byte[] Body { get; }
    public float[] Image { get; }
    public float[] Lengths { get; }
    public float[] Capsules { get; }
    public float[] Reconstruction { get; }

    private System.Text.Json.Utf8JsonWriter? _json;

    /// <summary>This session's JSON writer, reset onto <paramref name="output"/> (one writer per session, not per request).</summary>
    public System.Text.Json.Utf8JsonWriter Json(System.Buffers.IBufferWriter<byte> output)
    {
        if (_json is null) _json = new System.Text.Json.Utf8JsonWriter(output, ServeApp.JsonOptions);
        else _json.Reset(output);
        return _json;
    }

    public void Dispose()
    {
        _json?.Dispose();
        Model.Dispose();
    }
}

/// <summary>
/// The served model's weights (packed once, shared) and a bounded pool of <see cref="ModelSession"/>s over them (one per
/// concurrent request; extras are disposed on return).
/// </summary>
internal sealed class ModelPool : IDisposable
{
    private readonly ConcurrentBag<ModelSession> _free = new();
    private readonly CompiledModel.SharedWeights _weights;
    private readonly int _keep;

    private ModelPool(CompiledModel.SharedWeights weights, int keep)
    {
        var first = weights.NewSession();
        _weights = weights;
        _keep = keep;
        ModelName = first.ModelName;
        Architecture = first.Architecture;
        ClassNames = first.ClassNames;
        Tier = first.Tier;
        _free.Add(new ModelSession(first));
    }

    /// <summary>
    /// The compiled model named <paramref name="model"/> (one of <see cref="Models"/>) over its embedded weights, or over
    /// the file <paramref name="weightsPath"/> (same architecture; its class names come with it).
    /// </summary>
    public static ModelPool Open(string model, string? weightsPath, int keep) =>
        new((Served(model) ?? throw UnknownModel(model)).Share(weightsPath), keep);

    /// <summary>Side of the images the page draws (app.js's SIDE): it serves the compiled models of that size.</summary>
    public const int PageSide = 28;

    /// <summary>The models <see cref="Open"/> serves, by the names <c>--model</c> takes: the registry's, of the page's size.</summary>
    public static IReadOnlyList<string> Models { get; } =
        CompiledModel.All.Where(m => m.Architecture.InputSize == PageSide).Select(m => m.Name).ToArray();

    /// <summary>The registered model called <paramref name="model"/> when the page can draw its images, else null.</summary>
    public static CompiledModel? Served(string? model) => Models.Contains(model) ? CompiledModel.Find(model) : null;

    /// <summary>The refusal of a <c>--model</c> value that is not one of <see cref="Models"/> (ServeOptions' and Open's).</summary>
    internal static ArgumentException UnknownModel(string? model) => CompiledModel.Find(model) is { } other
        ? new($"--model {other.Name} takes {other.Architecture.InputSize}x{other.Architecture.InputSize} images; the page draws {PageSide}x{PageSide} (one of {string.Join(", ", Models)})")
        : new($"--model must be one of {string.Join(", ", Models)}, got '{model}'");

    public string ModelName { get; }
    public CapsNetArchitecture Architecture { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public CapsEmbedded.Kernels.SimdTier Tier { get; }

    public ModelSession Rent() => _free.TryTake(out var session) ? session : new ModelSession(_weights.NewSession());

    public void Return(ModelSession session)
    {
        if (_free.Count < _keep) _free.Add(session);
        else session.Dispose();
    }

    public void Dispose()
    {
        while (_free.TryTake(out var session)) session.Dispose();
        _weights.Dispose(); // a no-op for embedded weights
    }
}
