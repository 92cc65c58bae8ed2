using CapsEmbedded.Weights;

namespace CapsEmbedded.Onnx;

/// <summary>How the graph computes û_{j|i} = W_ij u_i (eq. 2); the same numbers, different ONNX Runtime kernels.</summary>
public enum CapsuleTransformFormulation
{
    /// <summary>MatMul of W [I, J·Dc, Dp] with u [N, I, Dp, 1]: N·I matrix-vector products, batch broadcast.</summary>
    PerImageMatMul,

    /// <summary>MatMul of W [I, J·Dc, Dp] with u transposed to [I, Dp, N]: I products whose width is the batch.</summary>
    PerCapsuleMatMul,

    /// <summary>Einsum "nip,ijdp->nijd".</summary>
    Einsum,
}

/// <summary>What to export.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>Adds the masked reconstruction (mask by the longest capsule) and the capsules as outputs.</summary>
    public bool IncludeDecoder { get; init; }

    /// <summary>
    /// How û is computed. ONNX Runtime 1.31.1, paper network, whole-network p50 (`peers --variants`, busy 2-core
    /// machine, 4 interleaved rounds): per-image MatMul 0.84× the per-capsule one's time at batch 1 / 1 thread, 0.89× at
    /// 2 threads, 0.99× at batch 64; Einsum 1.18×, 1.36×, 1.03×. So the default is the per-image MatMul.
    /// </summary>
    public CapsuleTransformFormulation CapsuleTransform { get; init; } = CapsuleTransformFormulation.PerImageMatMul;

    /// <summary>
    /// Efficient-CapsNet only: each stem batch norm folded into the next convolution (as
    /// <see cref="Reference.EfficientReferenceModel.FoldBatchNorm"/> folds it for the generated model), so the stem is
    /// Conv → ReLU per layer; false writes BatchNormalization nodes after each ReLU, the network as trained. ONNX Runtime
    /// cannot fold a batch norm that follows a ReLU itself (its Conv+BatchNormalization fusion needs the BN right after
    /// the Conv), so folded is the default: the graph the generated model runs, equal up to rounding (1e-5 relative).
    /// </summary>
    public bool FoldBatchNorm { get; init; } = true;
}

/// <summary>
/// Writes a CapsNet of any architecture of the family (<see cref="CapsNetArchitecture"/>) as a standard ONNX graph
/// (opset 17): input "image" [N, C, S, S] float; outputs "lengths" [N, classes] and, with the decoder, "capsules"
/// [N, classes, classDims] and "reconstruction" [N, C·S·S]. Every size comes from the weights' architecture.
/// </summary>
public static class CapsNetOnnxExporter
{
    public const string ImageName = "image", LengthsName = "lengths", CapsulesName = "capsules",
        ReconstructionName = "reconstruction";

    /// <summary>The ONNX model as bytes.</summary>
    public static byte[] Export(CapsNetWeights weights, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        options ??= new OnnxExportOptions();
        return OnnxCapsuleLayers.Write(BuildGraph(weights, options), weights, options.IncludeDecoder,
            ("capsnet.onnx.capsule_transform", options.CapsuleTransform.ToString()),
            $"CapsNet (Sabour, Frosst, Hinton 2017): {weights.Architecture}");
    }

    /// <summary>The graph itself, for tests that look at its structure.</summary>
    public static OnnxGraph BuildGraph(CapsNetWeights weights, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(options);
        var a = weights.Architecture;
        int grid = a.PrimaryGridSize, cells = grid * grid, capsules = a.PrimaryCapsules;
        int classes = a.Classes, classDims = a.ClassDims, primaryDims = a.PrimaryDims;
        var g = new OnnxGraph("capsnet");

        string image = g.Input(ImageName, OnnxElementType.Float, null, a.InputChannels, a.InputSize, a.InputSize);

        // conv1 + ReLU (§4).
        string conv1W = g.Floats("conv1.weight", weights.Conv1Weight, a.Conv1Channels, a.InputChannels, a.Conv1Kernel, a.Conv1Kernel);
        string conv1B = g.Floats("conv1.bias", weights.Conv1Bias, a.Conv1Channels);
        string conv1 = g.Node("Conv", [image, conv1W, conv1B], "conv1",
            Ints("kernel_shape", a.Conv1Kernel, a.Conv1Kernel), Ints("strides", a.Conv1Stride, a.Conv1Stride));
        string relu = g.Node("Relu", [conv1], "conv1_relu");

        // Primary capsules: conv, then channel k = type·dims + d and cell (y, x) regroup into capsule
        // i = type·grid² + y·grid + x, dimension d (docs/WEIGHTS.md): [N, T, D, G²] → [N, T, G², D] → [N, I, D].
        string primaryW = g.Floats("primary_caps.weight", weights.PrimaryWeight, a.PrimaryChannels, a.Conv1Channels, a.PrimaryKernel, a.PrimaryKernel);
        string primaryB = g.Floats("primary_caps.bias", weights.PrimaryBias, a.PrimaryChannels);
        string primary = g.Node("Conv", [relu, primaryW, primaryB], "primary_conv",
            Ints("kernel_shape", a.PrimaryKernel, a.PrimaryKernel), Ints("strides", a.PrimaryStride, a.PrimaryStride));
        string byType = g.Node("Reshape", [primary, g.Int64s("shape_types", 0, a.PrimaryTypes, primaryDims, cells)], "primary_by_type");
        string byCell = g.Node("Transpose", [byType], "primary_by_cell", Ints("perm", 0, 1, 3, 2));
        string preSquash = g.Node("Reshape", [byCell, g.Int64s("shape_capsules", 0, capsules, primaryDims)], "primary_pre_squash");
        string axisLast = g.Int64s("axis_last", -1);
        string one = g.Floats("one", [1f]);
        string u = Squash(g, preSquash, one, "primary");

        // û_{j|i} = W_ij u_i (eq. 2) → [N, I, J, Dc].
        string uHat = CapsuleTransform(g, weights, u, options.CapsuleTransform);

        // Routing by agreement (Procedure 1), unrolled r times. b_ij starts at 0 for every image, so it is a
        // [1, I, J] constant that broadcasts until the first agreement gives it the batch dimension.
        string logits = g.Floats("routing_logits_0", new float[capsules * classes], 1, capsules, classes);
        string axisCapsules = g.Int64s("axis_capsules", 1);
        string axisIn = g.Int64s("axis_i", 1); // unsqueeze v_j [N, J, Dc] to [N, 1, J, Dc] against û [N, I, J, Dc]
        string v = "";
        for (int r = 1; r <= a.RoutingIterations; r++)
        {
            string c = g.Node("Softmax", [logits], $"routing{r}_coupling", Int("axis", -1)); // eq. 3, softmax over j
            string cExpanded = g.Node("Unsqueeze", [c, axisLast], $"routing{r}_coupling_expanded");
            string weighted = g.Node("Mul", [cExpanded, uHat], $"routing{r}_weighted");
            string s = g.Node("ReduceSum", [weighted, axisCapsules], $"routing{r}_s", Int("keepdims", 0)); // s_j = Σ_i c_ij û_{j|i}
            v = Squash(g, s, one, $"routing{r}"); // v_j = squash(s_j), eq. 1
            if (r == a.RoutingIterations) break; // the last agreement would not be read
            string vExpanded = g.Node("Unsqueeze", [v, axisIn], $"routing{r}_v_expanded");
            string products = g.Node("Mul", [uHat, vExpanded], $"routing{r}_products");
            string agreement = g.Node("ReduceSum", [products, axisLast], $"routing{r}_agreement", Int("keepdims", 0)); // û_{j|i}·v_j
            logits = g.Node("Add", [logits, agreement], $"routing{r}_logits");
        }

        // |v_j|: the class probabilities.
        string lengths = OnnxCapsuleLayers.Lengths(g, v);
        g.Output(lengths, LengthsName, OnnxElementType.Float, null, classes);
        if (!options.IncludeDecoder) return g;

        // Mask (§4.1) by the longest capsule, then the decoder.
        g.Output(v, CapsulesName, OnnxElementType.Float, null, classes, classDims);
        string reconstruction = OnnxCapsuleLayers.MaskedDecoder(g, weights, v, lengths, classes, classDims, a.DecoderHidden1,
            a.DecoderHidden2, a.DecoderOutput);
        g.Output(reconstruction, ReconstructionName, OnnxElementType.Float, null, a.DecoderOutput);
        return g;
    }

    /// <summary>
    /// Squash (eq. 1) along the last axis: v = s · |s|/(1 + |s|²), the reference model's form (0 for s = 0).
    /// Unlike the reference it does not rescale first when |s|² overflows float; trained networks stay far below.
    /// </summary>
    private static string Squash(OnnxGraph g, string s, string one, string prefix)
    {
        string squared = g.Node("ReduceSumSquare", [s], $"{prefix}_squared_norm", Ints("axes", -1), Int("keepdims", 1));
        string norm = g.Node("Sqrt", [squared], $"{prefix}_norm");
        string denominator = g.Node("Add", [squared, one], $"{prefix}_one_plus_squared");
        string scale = g.Node("Div", [norm, denominator], $"{prefix}_squash_scale");
        return g.Node("Mul", [s, scale], $"{prefix}_squashed");
    }

    private static string CapsuleTransform(OnnxGraph g, CapsNetWeights weights, string u, CapsuleTransformFormulation formulation)
    {
        var a = weights.Architecture;
        int capsules = a.PrimaryCapsules, classes = a.Classes, classDims = a.ClassDims, primaryDims = a.PrimaryDims;
        string ShapeOut() => g.Int64s("shape_predictions", 0, capsules, classes, classDims);
        switch (formulation)
        {
            case CapsuleTransformFormulation.PerImageMatMul:
            {
                // digit_caps.weight [I, J, Dc, Dp] read as [I, J·Dc, Dp] (same bytes).
                string w = g.Floats("digit_caps.weight", weights.DigitWeight, capsules, classes * classDims, primaryDims);
                string column = g.Node("Unsqueeze", [u, g.Int64s("axis_column", 3)], "primary_columns"); // [N, I, Dp, 1]
                string product = g.Node("MatMul", [w, column], "predictions_columns"); // [N, I, J·Dc, 1]
                return g.Node("Reshape", [product, ShapeOut()], "uHat");
            }
            case CapsuleTransformFormulation.PerCapsuleMatMul:
            {
                string w = g.Floats("digit_caps.weight", weights.DigitWeight, capsules, classes * classDims, primaryDims);
                string perCapsule = g.Node("Transpose", [u], "primary_per_capsule", Ints("perm", 1, 2, 0)); // [I, Dp, N]
                string product = g.Node("MatMul", [w, perCapsule], "predictions_per_capsule"); // [I, J·Dc, N]
                string perImage = g.Node("Transpose", [product], "predictions_per_image", Ints("perm", 2, 0, 1)); // [N, I, J·Dc]
                return g.Node("Reshape", [perImage, ShapeOut()], "uHat");
            }
            case CapsuleTransformFormulation.Einsum:
            {
                string w = g.Floats("digit_caps.weight", weights.DigitWeight, capsules, classes, classDims, primaryDims);
                return g.Node("Einsum", [u, w], "uHat", new OnnxAttribute("equation", Text: "nip,ijdp->nijd"));
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(formulation), formulation, "unknown formulation of û");
        }
    }

    private static OnnxAttribute Int(string name, long value) => OnnxCapsuleLayers.Int(name, value);

    private static OnnxAttribute Ints(string name, params long[] values) => OnnxCapsuleLayers.Ints(name, values);
}
