using CapsEmbedded.Reference;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Onnx;

/// <summary>
/// Writes an Efficient-CapsNet (<see cref="EfficientCapsNetArchitecture"/>; Mazzia, Salvetti, Chiaberge 2021) as a
/// standard ONNX graph with the paper exporter's conventions (<see cref="CapsNetOnnxExporter"/>): opset 17, input "image"
/// [N, C, S, S] float, outputs "lengths" [N, classes] and, with the decoder, "capsules" [N, classes, classDims] and
/// "reconstruction" [N, C·S·S]. The forward pass is <see cref="EfficientReferenceModel"/>'s, in the same order.
/// </summary>
public static class EfficientCapsNetOnnxExporter
{
    /// <summary>The ONNX model as bytes (<see cref="OnnxExportOptions.CapsuleTransform"/> is the paper network's and ignored).</summary>
    public static byte[] Export(EfficientCapsNetWeights weights, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        options ??= new OnnxExportOptions();
        return OnnxCapsuleLayers.Write(BuildGraph(weights, options), weights, options.IncludeDecoder,
            ("capsnet.onnx.batchnorm", options.FoldBatchNorm ? "folded" : "nodes"),
            $"Efficient-CapsNet (Mazzia, Salvetti, Chiaberge 2021): {weights.Architecture}");
    }

    /// <summary>The graph itself, for tests that look at its structure.</summary>
    public static OnnxGraph BuildGraph(EfficientCapsNetWeights weights, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(options);
        var a = weights.Architecture;
        int capsules = a.PrimaryCapsules, dims = a.PrimaryDims, classes = a.Classes, classDims = a.ClassDims;
        var folded = options.FoldBatchNorm ? EfficientReferenceModel.FoldBatchNorm(weights) : null;
        var g = new OnnxGraph("efficient_capsnet");

        string x = g.Input(CapsNetOnnxExporter.ImageName, OnnxElementType.Float, null, a.InputChannels, a.InputSize, a.InputSize);

        // Stem: Conv (valid) → ReLU → BatchNorm per layer, BN after the ReLU as in the authors' code; folded, each BN is
        // inside the next conv (the last one inside the depthwise conv) and the stem is Conv → ReLU.
        for (int layer = 0; layer < a.Stem.Count; layer++)
        {
            var (channels, kernel, stride) = a.Stem[layer];
            var (weight, bias) = folded is null ? weights.StemConv(layer) : folded.StemConv(layer);
            string w = g.Floats(EfficientCapsNetArchitecture.StemConvWeight(layer), weight, channels, a.StemInputChannels(layer), kernel, kernel);
            string b = g.Floats(EfficientCapsNetArchitecture.StemConvBias(layer), bias, channels);
            x = g.Node("Conv", [x, w, b], $"stem{layer}_conv", Ints("kernel_shape", kernel, kernel), Ints("strides", stride, stride));
            x = g.Node("Relu", [x], $"stem{layer}_relu");
            if (folded is null) x = BatchNorm(g, weights, x, layer, a);
        }

        // Primary capsules: depthwise conv (a Conv with group = C, weight [C, 1, K, K]) → [N, C, P, P], read flat
        // channel-major as N capsules × D dims, Efficient squash.
        var (primaryWeight, primaryBias) = folded?.Primary ?? weights.Primary;
        int channelsIn = a.PrimaryChannels, k = a.PrimaryKernel;
        string pw = g.Floats(EfficientCapsNetArchitecture.PrimaryWeight, primaryWeight, channelsIn, 1, k, k);
        string pb = g.Floats(EfficientCapsNetArchitecture.PrimaryBias, primaryBias, channelsIn);
        string primary = g.Node("Conv", [x, pw, pb], "primary_conv", Ints("kernel_shape", k, k), Int("group", channelsIn));
        string preSquash = g.Node("Reshape", [primary, g.Int64s("shape_capsules", 0, capsules, dims)], "primary_pre_squash");
        string one = g.Floats("one", [1f]);
        string epsilon = g.Floats("squash_epsilon", [EfficientReferenceModel.SquashEpsilon]);
        string u = Squash(g, preSquash, one, epsilon, "primary");

        // u_{j|i} = Σ_d x_{i,d} W[j, i, d, :] as one MatMul per capsule i: x [N, I, 1, D] times W stored [I, D, J·D_out]
        // (the file's [J, I, D, D_out] regrouped at export) → [N, I, 1, J·D_out] → [N, I, J, D_out].
        var (digitWeight, digitBias) = weights.Digit;
        var wByCapsule = new float[digitWeight.Length];
        for (int j = 0; j < classes; j++)
        for (int i = 0; i < capsules; i++)
        for (int d = 0; d < dims; d++)
            Array.Copy(digitWeight, ((j * capsules + i) * dims + d) * classDims, wByCapsule, ((i * dims + d) * classes + j) * classDims, classDims);
        string w2 = g.Floats(EfficientCapsNetArchitecture.DigitWeight, wByCapsule, capsules, dims, classes * classDims);
        string row = g.Node("Unsqueeze", [u, g.Int64s("axis_row", 2)], "primary_rows");
        string product = g.Node("MatMul", [row, w2], "predictions_rows");
        string predictions = g.Node("Reshape", [product, g.Int64s("shape_predictions", 0, capsules, classes, classDims)], "predictions");

        // Self-attention routing, one pass: a_{j,i} = u_{j|i} · Σ_k u_{j|k} / √D_out; c = softmax over j; + b; s_j; squash.
        string axisCapsules = g.Int64s("axis_capsules", 1), axisLast = g.Int64s("axis_last", -1);
        string total = g.Node("ReduceSum", [predictions, axisCapsules], "predictions_total", Int("keepdims", 1)); // [N, 1, J, D_out]
        string products = g.Node("Mul", [predictions, total], "agreement_products");
        string dot = g.Node("ReduceSum", [products, axisLast], "agreement_dot", Int("keepdims", 0)); // [N, I, J]
        string agreement = g.Node("Mul", [dot, g.Floats("agreement_scale", [1f / MathF.Sqrt(classDims)])], "agreement");
        string coupling = g.Node("Softmax", [agreement], "coupling", Int("axis", -1));
        // b is stored [J, I]; the graph's coupling is [N, I, J]: transposed at export.
        var biasByCapsule = new float[digitBias.Length];
        for (int j = 0; j < classes; j++)
        for (int i = 0; i < capsules; i++) biasByCapsule[i * classes + j] = digitBias[j * capsules + i];
        string biased = g.Node("Add", [coupling, g.Floats(EfficientCapsNetArchitecture.DigitBias, biasByCapsule, capsules, classes)], "coupling_biased");
        string weightsExpanded = g.Node("Unsqueeze", [biased, axisLast], "coupling_expanded");
        string weighted = g.Node("Mul", [weightsExpanded, predictions], "weighted_predictions");
        string s = g.Node("ReduceSum", [weighted, axisCapsules], "s", Int("keepdims", 0)); // [N, J, D_out]
        string v = Squash(g, s, one, epsilon, "digit");

        // ‖v_j‖ without the authors' 1e-7 under the root: our paper network's convention, and the reference model's.
        string lengths = OnnxCapsuleLayers.Lengths(g, v);
        g.Output(lengths, CapsNetOnnxExporter.LengthsName, OnnxElementType.Float, null, classes);
        if (!options.IncludeDecoder) return g;

        g.Output(v, CapsNetOnnxExporter.CapsulesName, OnnxElementType.Float, null, classes, classDims);
        string reconstruction = OnnxCapsuleLayers.MaskedDecoder(g, weights, v, lengths, classes, classDims, a.DecoderHidden1,
            a.DecoderHidden2, a.DecoderOutput);
        g.Output(reconstruction, CapsNetOnnxExporter.ReconstructionName, OnnxElementType.Float, null, a.DecoderOutput);
        return g;
    }

    // BatchNormalization in inference mode (opset 15+: one output), y = γ (x − μ)/√(σ² + ε) + β per channel.
    private static string BatchNorm(OnnxGraph g, EfficientCapsNetWeights weights, string x, int layer, EfficientCapsNetArchitecture a)
    {
        var (gamma, beta, mean, variance) = weights.StemBatchNorm(layer);
        int channels = a.Stem[layer].Channels;
        string scale = g.Floats(EfficientCapsNetArchitecture.StemBnWeight(layer), gamma, channels);
        string shift = g.Floats(EfficientCapsNetArchitecture.StemBnBias(layer), beta, channels);
        string mu = g.Floats(EfficientCapsNetArchitecture.StemBnMean(layer), mean, channels);
        string sigma2 = g.Floats(EfficientCapsNetArchitecture.StemBnVariance(layer), variance, channels);
        return g.Node("BatchNormalization", [x, scale, shift, mu, sigma2], $"stem{layer}_bn", OnnxCapsuleLayers.Float("epsilon", a.BatchNormEps));
    }

    /// <summary>
    /// The Efficient squash along the last axis, <see cref="EfficientReferenceModel.Squash"/>'s form and order:
    /// v = (1 − 1/(e^‖s‖ + ε)) · s/(‖s‖ + ε).
    /// </summary>
    private static string Squash(OnnxGraph g, string s, string one, string epsilon, string prefix)
    {
        string squared = g.Node("ReduceSumSquare", [s], $"{prefix}_squared_norm", Ints("axes", -1), Int("keepdims", 1));
        string norm = g.Node("Sqrt", [squared], $"{prefix}_norm");
        string exp = g.Node("Exp", [norm], $"{prefix}_exp_norm");
        string expEps = g.Node("Add", [exp, epsilon], $"{prefix}_exp_norm_eps");
        string inverse = g.Node("Div", [one, expEps], $"{prefix}_inverse_exp");
        string gain = g.Node("Sub", [one, inverse], $"{prefix}_squash_gain");
        string normEps = g.Node("Add", [norm, epsilon], $"{prefix}_norm_eps");
        string scale = g.Node("Div", [gain, normEps], $"{prefix}_squash_scale");
        return g.Node("Mul", [s, scale], $"{prefix}_squashed");
    }

    private static OnnxAttribute Int(string name, long value) => OnnxCapsuleLayers.Int(name, value);

    private static OnnxAttribute Ints(string name, params long[] values) => OnnxCapsuleLayers.Ints(name, values);
}
