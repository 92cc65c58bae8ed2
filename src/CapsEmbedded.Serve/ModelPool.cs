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
    /// <param name="model">The session (owned).</param>
    /// <param name="top">How many of the longest capsules a request reads and decodes (the model's DefaultTop).</param>
    public ModelSession(ICapsNetSession model, int top)
    {
        Model = model;
        var a = model.Shape;
        Body = new byte[a.InputLength + 1]; // one byte more than the largest valid body, to see an oversized one
        Image = new float[a.InputLength];
        Lengths = new float[a.Classes];
        Capsules = new float[a.DecoderInput];
        Classes = new int[top];
        Longest = new float[top];
        Reconstructions = new float[top][];
        for (int r = 0; r < top; r++) Reconstructions[r] = new float[a.DecoderOutput];
    }

    /// <summary>The served model over the pool's weights (it does not own them).</summary>
    public ICapsNetSession Model { get; }
    public byte[] Body { get; }
    public float[] Image { get; }
    public float[] Lengths { get; }
    public float[] Capsules { get; }

    /// <summary>The classes of the longest capsules, longest first (TopK.Longest), and their lengths.</summary>
    public int[] Classes { get; }
    public float[] Longest { get; }

    /// <summary>Per entry r of <see cref="Classes"/>, the decoder's image from capsule Classes[r] alone (the others masked).</summary>
    public float[][] Reconstructions { get; }

    /// <summary>The longest capsule's reconstruction (<see cref="Reconstructions"/>[0]), and /api/reconstruct's output.</summary>
    public float[] Reconstruction => Reconstructions[0];

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
        Shape = first.Shape;
        ClassNames = first.ClassNames;
        Tier = first.Tier;
        Top = weights.Model.DefaultTop;
        _free.Add(new ModelSession(first, Top));
    }

    /// <summary>
    /// The compiled model named <paramref name="model"/> (one of <see cref="CompiledModel.Names"/>) over its embedded
    /// weights, or over the file <paramref name="weightsPath"/> (same architecture; its class names come with it).
    /// </summary>
    public static ModelPool Open(string model, string? weightsPath, int keep) =>
        new((CompiledModel.Find(model) ?? throw UnknownModel(model)).Share(weightsPath), keep);

    /// <summary>
    /// The refusal of a <c>--model</c> value that names no compiled model (ServeOptions' and Open's). Every registered
    /// model is served: the page draws at the size <c>/api/model</c> gives, 28×28 or MultiMNIST's 36×36.
    /// </summary>
    internal static ArgumentException UnknownModel(string? model) =>
        new($"--model must be one of {string.Join(", ", CompiledModel.Names)}, got '{model}'");

    public string ModelName { get; }
    public ModelShape Shape { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public CapsEmbedded.Kernels.SimdTier Tier { get; }

    /// <summary>How many of the longest capsules a reading takes: 1, or 2 for MultiMNIST (paper §6).</summary>
    public int Top { get; }

    public ModelSession Rent() => _free.TryTake(out var session) ? session : new ModelSession(_weights.NewSession(), Top);

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
