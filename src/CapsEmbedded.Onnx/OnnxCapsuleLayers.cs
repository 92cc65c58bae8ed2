using CapsEmbedded.Weights;

namespace CapsEmbedded.Onnx;

/// <summary>
/// The graph pieces both families share (<see cref="CapsNetOnnxExporter"/>, <see cref="EfficientCapsNetOnnxExporter"/>):
/// capsule lengths, the masked decoder, the ModelProto with the weight file's metadata, attribute shorthands.
/// </summary>
internal static class OnnxCapsuleLayers
{
    /// <summary>|v_j| along the last axis of [N, classes, classDims]: the class probabilities, [N, classes].</summary>
    public static string Lengths(OnnxGraph g, string capsules)
    {
        string squaredLengths = g.Node("ReduceSumSquare", [capsules], "squared_lengths", Ints("axes", -1), Int("keepdims", 0));
        return g.Node("Sqrt", [squaredLengths], "capsule_lengths");
    }

    /// <summary>
    /// Mask all but the longest capsule (ArgMax takes the first of ties, as the reference models do), flatten class-major
    /// and run the decoder fc1 ReLU → fc2 ReLU → fc3 sigmoid, whose tensors have the same names in both families.
    /// </summary>
    /// <returns>The reconstruction, [N, outputs].</returns>
    public static string MaskedDecoder(OnnxGraph g, NamedTensors weights, string capsules, string lengths, int classes,
        int classDims, int hidden1, int hidden2, int outputs)
    {
        string longest = g.Node("ArgMax", [lengths], "longest", Int("axis", 1), Int("keepdims", 1));
        var classIndices = new long[classes];
        for (int j = 0; j < classes; j++) classIndices[j] = j;
        string isLongest = g.Node("Equal", [g.Int64s("class_indices", classIndices), longest], "is_longest");
        string mask = g.Node("Cast", [isLongest], "mask", Int("to", (long)OnnxElementType.Float));
        string maskExpanded = g.Node("Unsqueeze", [mask, g.Int64s("axis_mask", -1)], "mask_expanded");
        string masked = g.Node("Mul", [capsules, maskExpanded], "masked_capsules");
        string flat = g.Node("Flatten", [masked], "decoder_input", Int("axis", 1)); // class-major, [N, J·Dc]
        int inputs = classes * classDims;
        string h1 = Dense(g, weights, flat, CapsNetArchitecture.Fc1Weight, CapsNetArchitecture.Fc1Bias, hidden1, inputs, "fc1");
        h1 = g.Node("Relu", [h1], "fc1_relu");
        string h2 = Dense(g, weights, h1, CapsNetArchitecture.Fc2Weight, CapsNetArchitecture.Fc2Bias, hidden2, hidden1, "fc2");
        h2 = g.Node("Relu", [h2], "fc2_relu");
        string h3 = Dense(g, weights, h2, CapsNetArchitecture.Fc3Weight, CapsNetArchitecture.Fc3Bias, outputs, hidden2, "fc3");
        return g.Node("Sigmoid", [h3], "fc3_sigmoid");
    }

    /// <summary>
    /// The ModelProto: the weight file's metadata, plus what the export options were: capsnet.onnx.decoder (whether
    /// <paramref name="includeDecoder"/>) and the family's own <paramref name="familyOption"/>.
    /// </summary>
    public static byte[] Write(OnnxGraph graph, NamedTensors weights, bool includeDecoder, (string Key, string Value) familyOption,
        string docString)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in weights.Metadata) metadata[key] = value;
        metadata["capsnet.onnx.decoder"] = includeDecoder ? "1" : "0";
        metadata[familyOption.Key] = familyOption.Value;
        string version = typeof(OnnxCapsuleLayers).Assembly.GetName().Version?.ToString() ?? "0";
        return OnnxModelWriter.Write(graph, version, docString, metadata);
    }

    // Gemm with transB = 1 reads PyTorch's linear weight [out, in] as it is.
    private static string Dense(OnnxGraph g, NamedTensors weights, string x, string weightName, string biasName, int outputs,
        int inputs, string name)
    {
        string w = g.Floats(weightName, weights[weightName], outputs, inputs);
        string b = g.Floats(biasName, weights[biasName], outputs);
        return g.Node("Gemm", [x, w, b], name, Int("transB", 1));
    }

    public static OnnxAttribute Int(string name, long value) => new(name, Int: value);

    public static OnnxAttribute Ints(string name, params long[] values) => new(name, Ints: values);

    public static OnnxAttribute Float(string name, float value) => new(name, Float: value);
}
