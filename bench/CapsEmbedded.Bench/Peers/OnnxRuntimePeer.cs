using CapsEmbedded.Onnx;
using CapsEmbedded.Weights;
using Microsoft.ML.OnnxRuntime;

namespace CapsEmbedded.Bench.Peers;

/// <summary>
/// ONNX Runtime (CPU provider) on the graph <c>capsnet export --onnx</c> writes: intra-op threads = our threads,
/// inter-op 1, sequential execution, every graph optimisation; input and output tensors bound once, outside the timing.
/// </summary>
/// <param name="model">The ONNX model's bytes (input "image", output "lengths").</param>
/// <param name="classes">Capsule lengths per image.</param>
/// <param name="side">The input's side.</param>
/// <param name="name">The peer's name in the table.</param>
public sealed class OnnxRuntimePeer(byte[] model, int classes, int side, string name) : IInferencePeer
{
    /// <summary>The paper network, û computed as <paramref name="formulation"/>.</summary>
    public OnnxRuntimePeer(CapsNetWeights weights, CapsuleTransformFormulation formulation, string? label = null)
        : this(CapsNetOnnxExporter.Export(weights, new OnnxExportOptions { CapsuleTransform = formulation }),
            weights.Architecture.Classes, weights.Architecture.InputSize, label ?? "ONNX Runtime")
    {
    }

    /// <summary>Efficient-CapsNet, batch norm folded (what <c>capsnet export</c> writes) or as nodes.</summary>
    public OnnxRuntimePeer(EfficientCapsNetWeights weights, bool foldBatchNorm, string label)
        : this(EfficientCapsNetOnnxExporter.Export(weights, new OnnxExportOptions { FoldBatchNorm = foldBatchNorm }),
            weights.Architecture.Classes, weights.Architecture.InputSize, label)
    {
    }

    private readonly byte[] _model = model;
    private readonly int _classes = classes;
    private readonly int _side = side;
    private InferenceSession? _session;
    private OrtValue[] _batchInputs = [];
    private OrtValue? _output;
    private int _next;
    private readonly RunOptions _runOptions = new();
    // Arrays made once: a collection expression in Run would allocate on every call.
    private readonly string[] _inputNames = [CapsNetOnnxExporter.ImageName], _outputNames = [CapsNetOnnxExporter.LengthsName];
    private readonly OrtValue[] _inputs = new OrtValue[1], _outputs = new OrtValue[1];
    private float[] _lengths = [];

    public string Name => name;

    public string Version => OrtEnv.Instance().GetVersionString();

    public void Prepare(float[] images, int batch, int threads)
    {
        Release();
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(_model, options);
        _lengths = new float[batch * _classes];
        // One input tensor per batch of the pool, each over its own slice of the images (pinned, not copied).
        int batchFloats = batch * _side * _side;
        _batchInputs = new OrtValue[images.Length / batchFloats];
        for (int b = 0; b < _batchInputs.Length; b++)
            _batchInputs[b] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance,
                images.AsMemory(b * batchFloats, batchFloats), [batch, 1, _side, _side]);
        _next = 0;
        _output = OrtValue.CreateTensorValueFromMemory(_lengths, [batch, _classes]);
        _outputs[0] = _output;
    }

    public void Run()
    {
        _inputs[0] = _batchInputs[_next];
        _next = (_next + 1) % _batchInputs.Length;
        _session!.Run(_runOptions, _inputNames, _inputs, _outputNames, _outputs);
    }

    public ReadOnlySpan<float> Lengths => _lengths;

    private void Release()
    {
        foreach (var input in _batchInputs) input.Dispose();
        _batchInputs = [];
        _output?.Dispose();
        _session?.Dispose();
    }

    public void Dispose()
    {
        Release();
        _runOptions.Dispose();
    }
}
