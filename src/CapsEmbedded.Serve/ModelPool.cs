using System.Collections.Concurrent;
using CapsEmbedded.Models;

namespace CapsEmbedded.Serve;

/// <summary>
/// Per-request scratch for the compiled model: a workspace plus every buffer a request needs, taken from a pool and
/// returned, so serving a request runs the model without allocating.
/// </summary>
internal sealed class ModelSession : IDisposable
{
    public const int MaxBodyBytes = MnistCapsNet.InputLength; // the largest valid body: 784 pixels
    public readonly MnistCapsNet.Workspace Workspace = new();
    public readonly byte[] Body = new byte[MaxBodyBytes + 1]; // one byte more, to see an oversized body
    public readonly float[] Image = new float[MnistCapsNet.InputLength];
    public readonly float[] Lengths = new float[MnistCapsNet.Classes];
    public readonly float[] Capsules = new float[MnistCapsNet.DecoderInput];
    public readonly float[] Reconstruction = new float[MnistCapsNet.DecoderOutput];

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
        Workspace.Dispose();
    }
}

/// <summary>A bounded pool of <see cref="ModelSession"/>s (one per concurrent request; extras are disposed on return).</summary>
internal sealed class ModelPool(MnistCapsNet.Weights weights, int keep) : IDisposable
{
    private readonly ConcurrentBag<ModelSession> _free = new();

    public MnistCapsNet.Weights Weights { get; } = weights;

    public ModelSession Rent() => _free.TryTake(out var session) ? session : new ModelSession();

    public void Return(ModelSession session)
    {
        if (_free.Count < keep) _free.Add(session);
        else session.Dispose();
    }

    public void Dispose()
    {
        while (_free.TryTake(out var session)) session.Dispose();
        Weights.Dispose();
    }
}
