using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace CapsEmbedded.Onnx;

/// <summary>ONNX element types this exporter writes (TensorProto.DataType).</summary>
public enum OnnxElementType
{
    Float = 1,
    Int64 = 7,
}

/// <summary>A node attribute: an int, a list of ints, a float or a string (the kinds the CapsNet graph needs).</summary>
public sealed record OnnxAttribute(string Name, long? Int = null, long[]? Ints = null, float? Float = null, string? Text = null);

/// <summary>One operator call: op type, input and output value names, attributes (default ONNX domain).</summary>
public sealed record OnnxNode(string OpType, string Name, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyList<OnnxAttribute> Attributes);

/// <summary>A constant tensor stored in the file; its data is raw little-endian, as TensorProto.raw_data wants.</summary>
public sealed record OnnxInitializer(string Name, OnnxElementType Type, IReadOnlyList<long> Dims, byte[] RawData);

/// <summary>A graph input or output: name, element type and shape; a null dimension is the symbolic batch "N".</summary>
public sealed record OnnxValueInfo(string Name, OnnxElementType Type, IReadOnlyList<long?> Dims);

/// <summary>
/// An ONNX graph under construction: nodes in topological order (the order they are added), initializers, inputs and
/// outputs. <see cref="OnnxModelWriter"/> turns it into a ModelProto.
/// </summary>
public sealed class OnnxGraph(string name)
{
    private readonly List<OnnxNode> _nodes = [];
    private readonly List<OnnxInitializer> _initializers = [];
    private readonly List<OnnxValueInfo> _inputs = [];
    private readonly List<OnnxValueInfo> _outputs = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    public string Name { get; } = name;
    public IReadOnlyList<OnnxNode> Nodes => _nodes;
    public IReadOnlyList<OnnxInitializer> Initializers => _initializers;
    public IReadOnlyList<OnnxValueInfo> Inputs => _inputs;
    public IReadOnlyList<OnnxValueInfo> Outputs => _outputs;

    public string Input(string name, OnnxElementType type, params long?[] dims)
    {
        Claim(name);
        _inputs.Add(new OnnxValueInfo(name, type, dims));
        return name;
    }

    /// <summary>Declares <paramref name="value"/> a graph output under <paramref name="name"/> (an Identity renames it).</summary>
    public void Output(string value, string name, OnnxElementType type, params long?[] dims)
    {
        if (value != name) Node("Identity", [value], name);
        _outputs.Add(new OnnxValueInfo(name, type, dims));
    }

    public string Floats(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        RequireCount(name, values.Length, dims);
        var raw = new byte[values.Length * sizeof(float)];
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(raw);
        else for (int k = 0; k < values.Length; k++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(k * 4), values[k]);
        return Initializer(name, OnnxElementType.Float, dims, raw);
    }

    public string Int64s(string name, ReadOnlySpan<long> values, params long[] dims)
    {
        RequireCount(name, values.Length, dims);
        var raw = new byte[values.Length * sizeof(long)];
        for (int k = 0; k < values.Length; k++) BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(k * 8), values[k]);
        return Initializer(name, OnnxElementType.Int64, dims, raw);
    }

    /// <summary>A one-dimensional int64 constant (shapes, axes).</summary>
    public string Int64s(string name, params long[] values) => Int64s(name, values.AsSpan(), values.Length);

    /// <summary>Adds a node with one output named <paramref name="output"/> and returns that name.</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, string output, params OnnxAttribute[] attributes)
    {
        Claim(output);
        _nodes.Add(new OnnxNode(opType, output, inputs, [output], attributes));
        return output;
    }

    private string Initializer(string name, OnnxElementType type, long[] dims, byte[] raw)
    {
        Claim(name);
        _initializers.Add(new OnnxInitializer(name, type, dims, raw));
        return name;
    }

    // SSA: every value is produced once, which ONNX requires.
    private void Claim(string name)
    {
        if (!_names.Add(name)) throw new InvalidOperationException($"ONNX value '{name}' is defined twice");
    }

    private static void RequireCount(string name, int count, long[] dims)
    {
        long product = 1;
        foreach (long d in dims) product *= d;
        if (product != count) throw new ArgumentException($"initializer {name}: {count} values do not fill shape [{string.Join(",", dims)}]");
    }
}
