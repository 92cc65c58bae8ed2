// This file is also meant to be compiled into the source generator (netstandard2.0): keep it free of
// APIs newer than netstandard2.0 (no Span, no ThrowIf helpers, no generic math).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using CapsEmbedded.IO;

namespace CapsEmbedded;

/// <summary>One convolution of the Efficient-CapsNet stem: <c>Conv(kernel, stride, valid) → ReLU → BatchNorm</c>.</summary>
public readonly record struct EfficientStemLayer(int Channels, int Kernel, int Stride);

/// <summary>
/// Every size of an Efficient-CapsNet ("Efficient-CapsNet: capsule network with self-attention routing", Mazzia,
/// Salvetti, Chiaberge, Scientific Reports 2021). <see cref="Mnist"/> is the authors' MNIST network.
/// </summary>
/// <remarks>
/// Data flow (the authors' code order): input [C_in, S, S] → stem: per layer Conv (valid) → ReLU → BatchNorm (BN after
/// the ReLU) → depthwise primary conv K×K (one filter per channel, bias) [C, P, P] flattened channel-major and regrouped
/// into N capsules of D dims, Efficient squash → FC-caps self-attention routing (one pass) → digit capsules
/// [classes, classDims] → class = longest capsule; decoder FC hidden1 ReLU → hidden2 ReLU → S²·C_in sigmoid.
/// </remarks>
public sealed record EfficientCapsNetArchitecture : CapsuleArchitecture
{
    public override CapsNetFamily Family => CapsNetFamily.Efficient;

    /// <summary>The stem convolutions in order (MNIST: 32@5×5/1, 64@3×3/1, 64@3×3/1, 128@3×3/2).</summary>
    public IReadOnlyList<EfficientStemLayer> Stem { get; init; } = new[]
    {
        new EfficientStemLayer(32, 5, 1), new EfficientStemLayer(64, 3, 1),
        new EfficientStemLayer(64, 3, 1), new EfficientStemLayer(128, 3, 2),
    };

    /// <summary>
    /// N, the number of primary capsules (of <see cref="CapsuleArchitecture.PrimaryDims"/> = D dims each); their kernel,
    /// <see cref="CapsuleArchitecture.PrimaryKernel"/>, is depthwise, stride 1, valid.
    /// </summary>
    public int PrimaryCapsules { get; init; } = 16;

    /// <summary>ε of every batch norm, y = γ (x − μ)/√(σ² + ε) + β: Keras' default 0.001 (the authors' code).</summary>
    public float BatchNormEps { get; init; } = 0.001f;

    /// <summary>The authors' MNIST network: 28×28 input, 16 × 8D primary capsules, 10 × 16D digit capsules.</summary>
    public static EfficientCapsNetArchitecture Mnist { get; } = new();

    /// <summary>
    /// A tiny network for unit tests: 12×12 input, stem 4@3×3/1 → 10×10, 8@3×3/2 → 4×4, depthwise 3×3 → 2×2,
    /// 8 channels × 4 positions = 4 capsules × 8D, 3 classes × 4D, decoder 12 → 8 → 16 → 144.
    /// </summary>
    public static EfficientCapsNetArchitecture Tiny { get; } = new()
    {
        InputSize = 12, Stem = new[] { new EfficientStemLayer(4, 3, 1), new EfficientStemLayer(8, 3, 2) },
        PrimaryKernel = 3, PrimaryCapsules = 4, PrimaryDims = 8, Classes = 3, ClassDims = 4,
        DecoderHidden1 = 8, DecoderHidden2 = 16,
    };

    // ---- Derived sizes -------------------------------------------------------------------------------

    /// <summary>Side of stem layer <paramref name="layer"/>'s input (the image for layer 0).</summary>
    public int StemInputSize(int layer) => layer == 0 ? InputSize : StemOutputSize(layer - 1);

    /// <summary>
    /// Side of stem layer <paramref name="layer"/>'s output, ⌊(n − k)/s⌋ + 1, floored as PyTorch and Keras "valid" do:
    /// when s does not divide n − k the last (n − k) mod s rows and columns of the input are never read
    /// (MNIST's conv4: 20 → 9, row and column 19 unused).
    /// </summary>
    public int StemOutputSize(int layer) => (StemInputSize(layer) - Stem[layer].Kernel) / Stem[layer].Stride + 1;

    /// <summary>Channels into stem layer <paramref name="layer"/> (the image's for layer 0).</summary>
    public int StemInputChannels(int layer) => layer == 0 ? InputChannels : Stem[layer - 1].Channels;

    /// <summary>
    /// Whether stem conv <paramref name="layer"/> runs as Winograd F(2×2, 3×3) (a 3×3 stride-1 conv after stem.0 with an even
    /// output side; the runtime's <c>WinogradConvolution.Fits</c>): the one rule that the weight packing and the generated
    /// forward pass both follow.
    /// </summary>
    public bool StemIsWinograd(int layer) =>
        layer > 0 && Stem[layer].Kernel == 3 && Stem[layer].Stride == 1 && StemOutputSize(layer) % 2 == 0;

    /// <summary>C, the channels of the last stem layer: the depthwise primary conv has one filter per channel.</summary>
    public int PrimaryChannels => Stem[Stem.Count - 1].Channels;

    /// <summary>P, the side of the depthwise output (1 for MNIST): last stem side − K + 1.</summary>
    public int PrimaryGridSize => StemOutputSize(Stem.Count - 1) - PrimaryKernel + 1;

    // ---- Tensors (PyTorch layouts and state_dict names) ---------------------------------------------

    /// <summary>The depthwise primary conv, [C, 1, K, K] (PyTorch's layout for groups = C).</summary>
    public const string PrimaryWeight = CapsNetArchitecture.PrimaryWeight;

    /// <summary>The depthwise primary conv's bias, [C].</summary>
    public const string PrimaryBias = CapsNetArchitecture.PrimaryBias;

    /// <summary>FC-caps W, [j, i, d_in, d_out] (the authors' layout; not the paper network's [i, j, d_out, d_in]).</summary>
    public const string DigitWeight = CapsNetArchitecture.DigitWeight;

    /// <summary>FC-caps b, [j, i]: added to the coupling coefficients after the softmax.</summary>
    public const string DigitBias = "digit_caps.bias";

    // The decoder's tensors have the paper network's names (CapsNetArchitecture.Fc1Weight, ...).

    /// <summary><c>stem.{layer}.conv.weight</c>, [out, in, k, k].</summary>
    public static string StemConvWeight(int layer) => StemTensor(layer, "conv.weight");

    /// <summary><c>stem.{layer}.conv.bias</c>, [out].</summary>
    public static string StemConvBias(int layer) => StemTensor(layer, "conv.bias");

    /// <summary><c>stem.{layer}.bn.weight</c>, γ [out].</summary>
    public static string StemBnWeight(int layer) => StemTensor(layer, "bn.weight");

    /// <summary><c>stem.{layer}.bn.bias</c>, β [out].</summary>
    public static string StemBnBias(int layer) => StemTensor(layer, "bn.bias");

    /// <summary><c>stem.{layer}.bn.running_mean</c>, μ [out].</summary>
    public static string StemBnMean(int layer) => StemTensor(layer, "bn.running_mean");

    /// <summary><c>stem.{layer}.bn.running_var</c>, σ² [out].</summary>
    public static string StemBnVariance(int layer) => StemTensor(layer, "bn.running_var");

    /// <summary>
    /// <c>stem.{layer}.bn.num_batches_tracked</c>: PyTorch's I64 scalar counter in every BatchNorm's state_dict. A file may
    /// hold it (the reader accepts and ignores an I64 of shape []); it is never written and takes no part in the maths.
    /// </summary>
    public static string StemBnBatchesTracked(int layer) => StemTensor(layer, "bn.num_batches_tracked");

    private static string StemTensor(int layer, string tail) => "stem." + layer.ToString(CultureInfo.InvariantCulture) + "." + tail;

    public override IReadOnlyList<TensorSpec> Tensors
    {
        get
        {
            var specs = new List<TensorSpec>();
            for (int k = 0; k < Stem.Count; k++)
            {
                int c = Stem[k].Channels, kernel = Stem[k].Kernel;
                specs.Add(new TensorSpec(StemConvWeight(k), new[] { c, StemInputChannels(k), kernel, kernel }));
                specs.Add(new TensorSpec(StemConvBias(k), new[] { c }));
                specs.Add(new TensorSpec(StemBnWeight(k), new[] { c }));
                specs.Add(new TensorSpec(StemBnBias(k), new[] { c }));
                specs.Add(new TensorSpec(StemBnMean(k), new[] { c }));
                specs.Add(new TensorSpec(StemBnVariance(k), new[] { c }));
            }
            specs.Add(new TensorSpec(PrimaryWeight, new[] { PrimaryChannels, 1, PrimaryKernel, PrimaryKernel }));
            specs.Add(new TensorSpec(PrimaryBias, new[] { PrimaryChannels }));
            specs.Add(new TensorSpec(DigitWeight, new[] { Classes, PrimaryCapsules, PrimaryDims, ClassDims }));
            specs.Add(new TensorSpec(DigitBias, new[] { Classes, PrimaryCapsules }));
            specs.Add(new TensorSpec(CapsNetArchitecture.Fc1Weight, new[] { DecoderHidden1, DecoderInput }));
            specs.Add(new TensorSpec(CapsNetArchitecture.Fc1Bias, new[] { DecoderHidden1 }));
            specs.Add(new TensorSpec(CapsNetArchitecture.Fc2Weight, new[] { DecoderHidden2, DecoderHidden1 }));
            specs.Add(new TensorSpec(CapsNetArchitecture.Fc2Bias, new[] { DecoderHidden2 }));
            specs.Add(new TensorSpec(CapsNetArchitecture.Fc3Weight, new[] { DecoderOutput, DecoderHidden2 }));
            specs.Add(new TensorSpec(CapsNetArchitecture.Fc3Bias, new[] { DecoderOutput }));
            return specs;
        }
    }

    /// <summary>Multiply-adds of one forward pass per layer (a FLOP count is twice this); batch norm is not counted
    /// since it folds into the next convolution. <see cref="CapsuleArchitecture.ParameterCount"/> does count the batch
    /// norms' running statistics (stored values).</summary>
    public override IReadOnlyList<LayerCost> LayerCosts
    {
        get
        {
            var costs = new List<LayerCost>();
            for (int k = 0; k < Stem.Count; k++)
            {
                long side = StemOutputSize(k), kernel = Stem[k].Kernel;
                costs.Add(new LayerCost("stem." + k.ToString(CultureInfo.InvariantCulture),
                    Stem[k].Channels * side * side * StemInputChannels(k) * kernel * kernel));
            }
            long p = PrimaryGridSize;
            costs.Add(new LayerCost("primary_caps", PrimaryChannels * p * p * PrimaryKernel * PrimaryKernel));
            long predictions = (long)Classes * PrimaryCapsules * PrimaryDims * ClassDims;
            costs.Add(new LayerCost("u_hat", predictions));
            // Agreement u_{j|i}·Σ_k u_{j|k} and s_j = Σ_i c_ji u_{j|i}: each J·N·D_out.
            costs.Add(new LayerCost("routing", 2L * Classes * PrimaryCapsules * ClassDims));
            costs.Add(new LayerCost("decoder", (long)DecoderInput * DecoderHidden1 + (long)DecoderHidden1 * DecoderHidden2
                + (long)DecoderHidden2 * DecoderOutput));
            return costs;
        }
    }

    // ---- Validation ---------------------------------------------------------------------------------

    public override string? Validate()
    {
        const int limit = 1 << 14;
        if (Stem is null || Stem.Count < 1 || Stem.Count > 16) return "the stem must have 1 to 16 convolutions";
        foreach (var (name, value) in Fields())
        {
            if (value < 1) return name + " = " + Text(value) + ": every size must be at least 1";
            if (value > limit) return name + " = " + Text(value) + " is larger than the supported " + Text(limit);
        }
        if (float.IsNaN(BatchNormEps) || float.IsInfinity(BatchNormEps) || BatchNormEps <= 0)
            return "batchnorm_eps = " + BatchNormEps.ToString("R", CultureInfo.InvariantCulture) + " must be a finite number above 0";
        for (int k = 0; k < Stem.Count; k++)
        {
            int side = StemInputSize(k);
            if (Stem[k].Kernel > side)
                return "stem." + Text(k) + " kernel " + Text(Stem[k].Kernel) + " is larger than its " + Text(side) + "x"
                    + Text(side) + " input";
        }
        int last = StemOutputSize(Stem.Count - 1);
        if (PrimaryKernel > last)
            return "primary kernel " + Text(PrimaryKernel) + " is larger than the stem's " + Text(last) + "x" + Text(last) + " output";
        long grid = PrimaryGridSize;
        if ((long)PrimaryChannels * grid * grid != (long)PrimaryCapsules * PrimaryDims)
            return "the depthwise output " + Text(PrimaryChannels) + "x" + Text(grid) + "x" + Text(grid) + " = "
                + Text((long)PrimaryChannels * grid * grid) + " values cannot be " + Text(PrimaryCapsules) + " primary capsules x "
                + Text(PrimaryDims) + " dims = " + Text((long)PrimaryCapsules * PrimaryDims);
        if ((long)InputSize * InputSize * InputChannels > int.MaxValue / 4 || (long)Classes * ClassDims > int.MaxValue / 4)
            return "the derived sizes (decoder input or output) are too large";
        foreach (var t in Tensors)
            if (t.ElementCount > int.MaxValue / 4) return "tensor " + t.Name + " has more than " + Text(int.MaxValue / 4) + " elements";
        return null;
    }

    // The integer sizes, named as their metadata keys (the stem's lists by layer).
    private IEnumerable<(string Name, int Value)> Fields()
    {
        yield return ("input_size", InputSize);
        yield return ("input_channels", InputChannels);
        for (int k = 0; k < Stem.Count; k++)
        {
            yield return ("stem_channels[" + Text(k) + "]", Stem[k].Channels);
            yield return ("stem_kernels[" + Text(k) + "]", Stem[k].Kernel);
            yield return ("stem_strides[" + Text(k) + "]", Stem[k].Stride);
        }
        yield return ("primary_kernel", PrimaryKernel);
        yield return ("primary_capsules", PrimaryCapsules);
        yield return ("primary_dims", PrimaryDims);
        yield return ("classes", Classes);
        yield return ("class_dims", ClassDims);
        yield return ("decoder_hidden1", DecoderHidden1);
        yield return ("decoder_hidden2", DecoderHidden2);
    }

    // ---- Metadata -----------------------------------------------------------------------------------

    /// <summary>
    /// The metadata keys (without <c>capsnet.</c>) an efficient file must hold, each as a string: the integers, the stem's
    /// three comma-separated lists, and <c>batchnorm_eps</c>.
    /// </summary>
    public static IReadOnlyList<string> MetadataKeys { get; } = new[]
    {
        "input_size", "input_channels", "stem_channels", "stem_kernels", "stem_strides", "primary_kernel",
        "primary_capsules", "primary_dims", "classes", "class_dims", "decoder_hidden1", "decoder_hidden2", "batchnorm_eps",
    };

    /// <summary>Writes the architecture as <c>capsnet.*</c> metadata, <c>capsnet.family = "efficient"</c> included.</summary>
    public override Dictionary<string, string> ToMetadata()
    {
        string List(Func<EfficientStemLayer, int> field) => string.Join(",", Stem.Select(l => Text(field(l))));
        var values = new[]
        {
            Text(InputSize), Text(InputChannels), List(l => l.Channels), List(l => l.Kernel), List(l => l.Stride),
            Text(PrimaryKernel), Text(PrimaryCapsules), Text(PrimaryDims), Text(Classes), Text(ClassDims),
            Text(DecoderHidden1), Text(DecoderHidden2), BatchNormEps.ToString("R", CultureInfo.InvariantCulture),
        };
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [CapsNetFamilyMetadata.Key] = CapsNetFamily.Efficient.Name(),
        };
        for (int k = 0; k < values.Length; k++) metadata[CapsNetArchitecture.MetadataPrefix + MetadataKeys[k]] = values[k];
        return metadata;
    }

    /// <summary>
    /// Reads the <c>capsnet.*</c> entries of an efficient file. Unlike the paper's network every key of
    /// <see cref="MetadataKeys"/> is required (there are no older files to stay compatible with, and a missing
    /// <c>batchnorm_eps</c> would silently change every output). Returns null and sets <paramref name="error"/> for a
    /// missing, malformed or inconsistent value; does not check <c>capsnet.family</c> (see <see cref="CapsNetFamily"/>).
    /// </summary>
    public static EfficientCapsNetArchitecture? FromMetadata(IReadOnlyDictionary<string, string>? metadata, out string? error)
    {
        error = null;
        var text = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string key in MetadataKeys)
        {
            if (metadata is null || !metadata.TryGetValue(CapsNetArchitecture.MetadataPrefix + key, out string? value))
            {
                error = "metadata " + CapsNetArchitecture.MetadataPrefix + key + " is missing; an efficient file states every size ("
                    + string.Join(", ", MetadataKeys) + ")";
                return null;
            }
            text[key] = value;
        }
        int[]? Integers(string key, ref string? err)
        {
            if (err is not null) return null;
            string[] parts = text[key].Split(',');
            var values = new int[parts.Length];
            for (int k = 0; k < parts.Length; k++)
                if (!int.TryParse(parts[k], NumberStyles.None, CultureInfo.InvariantCulture, out values[k]))
                {
                    err = "metadata " + CapsNetArchitecture.MetadataPrefix + key + " = \"" + UntrustedText.Quote(text[key])
                        + "\" is not " + (key.StartsWith("stem_", StringComparison.Ordinal)
                            ? "a comma-separated list of non-negative integers" : "a non-negative integer");
                    return null;
                }
            return values;
        }
        int Integer(string key, ref string? err)
        {
            int[]? values = Integers(key, ref err);
            if (values is null) return 0;
            if (values.Length == 1) return values[0];
            err = "metadata " + CapsNetArchitecture.MetadataPrefix + key + " = \"" + UntrustedText.Quote(text[key])
                + "\" is not a non-negative integer";
            return 0;
        }
        int[]? channels = Integers("stem_channels", ref error), kernels = Integers("stem_kernels", ref error),
            strides = Integers("stem_strides", ref error);
        var a = new EfficientCapsNetArchitecture
        {
            InputSize = Integer("input_size", ref error),
            InputChannels = Integer("input_channels", ref error),
            PrimaryKernel = Integer("primary_kernel", ref error),
            PrimaryCapsules = Integer("primary_capsules", ref error),
            PrimaryDims = Integer("primary_dims", ref error),
            Classes = Integer("classes", ref error),
            ClassDims = Integer("class_dims", ref error),
            DecoderHidden1 = Integer("decoder_hidden1", ref error),
            DecoderHidden2 = Integer("decoder_hidden2", ref error),
        };
        if (error is not null) return null;
        if (channels!.Length != kernels!.Length || channels.Length != strides!.Length)
        {
            error = "the stem lists disagree: stem_channels has " + Text(channels.Length) + " entries, stem_kernels "
                + Text(kernels.Length) + ", stem_strides " + Text(strides!.Length);
            return null;
        }
        string epsText = text["batchnorm_eps"];
        if (!float.TryParse(epsText, NumberStyles.Float, CultureInfo.InvariantCulture, out float eps))
        {
            error = "metadata " + CapsNetArchitecture.MetadataPrefix + "batchnorm_eps = \"" + UntrustedText.Quote(epsText)
                + "\" is not a number";
            return null;
        }
        var stem = new EfficientStemLayer[channels.Length];
        for (int k = 0; k < stem.Length; k++) stem[k] = new EfficientStemLayer(channels[k], kernels[k], strides[k]);
        a = a with { Stem = stem, BatchNormEps = eps };
        error = a.Validate();
        return error is null ? a : null;
    }

    // ---- Equality (by value, the stem included) and text --------------------------------------------

    public bool Equals(EfficientCapsNetArchitecture? other) =>
        other is not null && InputSize == other.InputSize && InputChannels == other.InputChannels
        && Stem.SequenceEqual(other.Stem) && PrimaryKernel == other.PrimaryKernel && PrimaryCapsules == other.PrimaryCapsules
        && PrimaryDims == other.PrimaryDims && Classes == other.Classes && ClassDims == other.ClassDims
        && DecoderHidden1 == other.DecoderHidden1 && DecoderHidden2 == other.DecoderHidden2
        && BatchNormEps.Equals(other.BatchNormEps);

    public override int GetHashCode()
    {
        int h = BatchNormEps.GetHashCode();
        foreach (var (_, value) in Fields()) h = h * 31 + value;
        return h;
    }

    /// <summary>One line such as "28x28x1 -> stem 32@5x5/1 64@3x3/1 64@3x3/1 128@3x3/2 (9x9), BN eps 0.001 -> ...".</summary>
    public override string ToString() =>
        Text(InputSize) + "x" + Text(InputSize) + "x" + Text(InputChannels) + " -> stem "
        + string.Join(" ", Stem.Select(l => Text(l.Channels) + "@" + Text(l.Kernel) + "x" + Text(l.Kernel) + "/" + Text(l.Stride)))
        + " (" + Text(StemOutputSize(Stem.Count - 1)) + "x" + Text(StemOutputSize(Stem.Count - 1)) + "), BN eps "
        + BatchNormEps.ToString("R", CultureInfo.InvariantCulture) + " -> depthwise " + Text(PrimaryKernel) + "x" + Text(PrimaryKernel)
        + " -> " + Text(PrimaryCapsules) + "x" + Text(PrimaryDims) + "D caps -> " + Text(Classes) + "x" + Text(ClassDims)
        + "D, self-attention -> decoder " + Text(DecoderHidden1) + "-" + Text(DecoderHidden2) + "-" + Text(DecoderOutput);

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
