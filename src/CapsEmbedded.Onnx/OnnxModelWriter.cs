namespace CapsEmbedded.Onnx;

/// <summary>
/// Serializes an <see cref="OnnxGraph"/> as an ONNX ModelProto. Field numbers are those of onnx/onnx.proto (IR
/// version 8); only the messages and fields this exporter needs are written.
/// </summary>
/// <remarks>
/// Hand-written rather than Google.Protobuf classes generated from onnx.proto: six messages and two dozen fields do not
/// justify a package and a code generator in the NativeAOT CLI, and writing never needs reflection.
/// </remarks>
public static class OnnxModelWriter
{
    /// <summary>IR version 8 goes with opset 17 (ONNX 1.12); every runtime since 2022 reads it.</summary>
    public const long IrVersion = 8;

    /// <summary>The default-domain opset the graph is written for.</summary>
    public const long Opset = 17;

    // ModelProto
    private const int ModelIrVersion = 1, ModelProducerName = 2, ModelProducerVersion = 3, ModelDocString = 6,
        ModelGraph = 7, ModelOpsetImport = 8, ModelMetadataProps = 14;
    // OperatorSetIdProto, StringStringEntryProto
    private const int OpsetDomain = 1, OpsetVersion = 2, EntryKey = 1, EntryValue = 2;
    // GraphProto
    private const int GraphNode = 1, GraphName = 2, GraphInitializer = 5, GraphInput = 11, GraphOutput = 12;
    // NodeProto
    private const int NodeInput = 1, NodeOutput = 2, NodeName = 3, NodeOpType = 4, NodeAttribute = 5;
    // AttributeProto and its AttributeType values
    private const int AttributeName = 1, AttributeF = 2, AttributeI = 3, AttributeS = 4, AttributeInts = 8, AttributeType = 20;
    private const int TypeFloat = 1, TypeInt = 2, TypeString = 3, TypeInts = 7;
    // TensorProto
    private const int TensorDims = 1, TensorDataType = 2, TensorName = 8, TensorRawData = 9;
    // ValueInfoProto, TypeProto, TypeProto.Tensor, TensorShapeProto, TensorShapeProto.Dimension
    private const int ValueName = 1, ValueType = 2, TypeTensor = 1, TensorElemType = 1, TensorShape = 2, ShapeDim = 1,
        DimValue = 1, DimParam = 2;

    /// <summary>The symbolic name of the batch dimension in inputs and outputs.</summary>
    public const string BatchDimension = "N";

    public static byte[] Write(OnnxGraph graph, string producerVersion, string docString,
        IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(graph);
        long bytes = graph.Initializers.Sum(i => (long)i.RawData.Length);
        var model = new ProtoWriter((int)Math.Min(Array.MaxLength, bytes + (1 << 16)));
        model.Int64(ModelIrVersion, IrVersion);
        model.Message(ModelOpsetImport, w =>
        {
            w.String(OpsetDomain, "");
            w.Int64(OpsetVersion, Opset);
        });
        model.String(ModelProducerName, "CapsEmbedded");
        model.String(ModelProducerVersion, producerVersion);
        model.String(ModelDocString, docString);
        model.Message(ModelGraph, w => WriteGraph(w, graph), (int)Math.Min(Array.MaxLength, bytes + (1 << 16)));
        foreach (var (key, value) in metadata.OrderBy(e => e.Key, StringComparer.Ordinal))
            model.Message(ModelMetadataProps, w =>
            {
                w.String(EntryKey, key);
                w.String(EntryValue, value);
            });
        return model.Written.ToArray();
    }

    private static void WriteGraph(ProtoWriter w, OnnxGraph graph)
    {
        foreach (var node in graph.Nodes) w.Message(GraphNode, n => WriteNode(n, node));
        w.String(GraphName, graph.Name);
        foreach (var init in graph.Initializers)
            w.Message(GraphInitializer, t =>
            {
                t.PackedInt64(TensorDims, init.Dims.ToArray());
                t.Int64(TensorDataType, (long)init.Type);
                t.String(TensorName, init.Name);
                t.Bytes(TensorRawData, init.RawData);
            }, init.RawData.Length + 256);
        foreach (var input in graph.Inputs) w.Message(GraphInput, v => WriteValueInfo(v, input));
        foreach (var output in graph.Outputs) w.Message(GraphOutput, v => WriteValueInfo(v, output));
    }

    private static void WriteNode(ProtoWriter w, OnnxNode node)
    {
        foreach (string input in node.Inputs) w.String(NodeInput, input);
        foreach (string output in node.Outputs) w.String(NodeOutput, output);
        w.String(NodeName, node.Name);
        w.String(NodeOpType, node.OpType);
        foreach (var attribute in node.Attributes)
            w.Message(NodeAttribute, a =>
            {
                a.String(AttributeName, attribute.Name);
                if (attribute.Float is { } f)
                {
                    a.Float(AttributeF, f);
                    a.Int64(AttributeType, TypeFloat);
                }
                else if (attribute.Int is { } i)
                {
                    a.Int64(AttributeI, i);
                    a.Int64(AttributeType, TypeInt);
                }
                else if (attribute.Ints is { } ints)
                {
                    a.PackedInt64(AttributeInts, ints);
                    a.Int64(AttributeType, TypeInts);
                }
                else if (attribute.Text is { } text)
                {
                    a.String(AttributeS, text);
                    a.Int64(AttributeType, TypeString);
                }
                else throw new InvalidOperationException($"attribute {attribute.Name} of {node.Name} has no value");
            });
    }

    private static void WriteValueInfo(ProtoWriter w, OnnxValueInfo value)
    {
        w.String(ValueName, value.Name);
        w.Message(ValueType, type => type.Message(TypeTensor, tensor =>
        {
            tensor.Int64(TensorElemType, (long)value.Type);
            tensor.Message(TensorShape, shape =>
            {
                foreach (long? dim in value.Dims)
                    shape.Message(ShapeDim, d =>
                    {
                        if (dim is { } size) d.Int64(DimValue, size);
                        else d.String(DimParam, BatchDimension);
                    });
            });
        }));
    }
}
