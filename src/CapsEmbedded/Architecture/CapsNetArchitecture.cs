// This file is also compiled into the source generator (netstandard2.0): keep it free of
// APIs newer than netstandard2.0 (no Span, no ThrowIf helpers, no generic math).
using System;
using System.Collections.Generic;
using System.Globalization;

namespace CapsEmbedded;

/// <summary>
/// Every size of a CapsNet ("Dynamic Routing Between Capsules", Sabour, Frosst, Hinton 2017).
/// The defaults are the paper's MNIST network; a tiny model for tests, 36×36 MultiMNIST input or
/// Fashion-MNIST are the same code with other numbers.
/// </summary>
/// <remarks>
/// Data flow (paper §4): input [C_in, S, S] → conv1 (ReLU) [C1, S1, S1] → primary capsules conv
/// [types·dims, S2, S2] regrouped into types·S2² capsules of <see cref="CapsuleArchitecture.PrimaryDims"/> dims, squash (eq. 1)
/// → û_{j|i} = W_ij u_i (eq. 2) → routing by agreement (Procedure 1) → digit capsules [classes, classDims]
/// → class = longest capsule; decoder FC hidden1 ReLU → hidden2 ReLU → S²·C_in sigmoid.
/// </remarks>
public sealed record CapsNetArchitecture : CapsuleArchitecture
{
    public int Conv1Channels { get; init; } = 256;
    public int Conv1Kernel { get; init; } = 9;
    public int Conv1Stride { get; init; } = 1;
    public int PrimaryTypes { get; init; } = 32;
    public int PrimaryStride { get; init; } = 2;
    public int RoutingIterations { get; init; } = 3;

    public override CapsNetFamily Family => CapsNetFamily.Paper;

    /// <summary>The paper's MNIST network (28×28 input, 1152 primary capsules, 10 × 16D digit capsules).</summary>
    public static CapsNetArchitecture Paper { get; } = new();

    /// <summary>
    /// The paper's MultiMNIST network (§6): the MNIST network on a 36×36 canvas, conv1 → 28×28, a 10×10 primary grid,
    /// 3,200 primary capsules, decoder output 1,296.
    /// </summary>
    public static CapsNetArchitecture MultiMnist { get; } = new() { InputSize = 36 };

    /// <summary>
    /// A tiny network for unit tests: 10×10 input, conv1 4×3×3 → 8×8, primary 2 types × 4D, 3×3 stride 2 → 3×3,
    /// 18 primary capsules, 3 classes × 4D, decoder 12 → 8 → 16 → 100.
    /// </summary>
    public static CapsNetArchitecture Tiny { get; } = new()
    {
        InputSize = 10, Conv1Channels = 4, Conv1Kernel = 3, PrimaryTypes = 2, PrimaryDims = 4,
        PrimaryKernel = 3, PrimaryStride = 2, Classes = 3, ClassDims = 4, DecoderHidden1 = 8, DecoderHidden2 = 16,
    };

    /// <summary>The names <see cref="Named"/> accepts, as the CLI's <c>--arch</c> lists them.</summary>
    public static string[] Names => new[] { "paper", "multimnist", "tiny" };

    /// <summary>The architecture called <paramref name="name"/>: paper (28×28), multimnist (36×36) or tiny.</summary>
    public static CapsNetArchitecture Named(string name) => name switch
    {
        "paper" => Paper,
        "multimnist" => MultiMnist,
        "tiny" => Tiny,
        _ => throw new ArgumentException("unknown architecture '" + name + "': use " + string.Join(", ", Names), nameof(name)),
    };

    // ---- Derived sizes -------------------------------------------------------------------------------

    /// <summary>Side of conv1's output: (S − k1)/s1 + 1 (20 in the paper).</summary>
    public int Conv1OutSize => (InputSize - Conv1Kernel) / Conv1Stride + 1;

    /// <summary>Pixels of conv1's output, S1² (400 in the paper): the rows of its GEMM.</summary>
    public int Conv1Pixels => Conv1OutSize * Conv1OutSize;

    /// <summary>Length of one conv1 patch, C_in·k1² (81 in the paper): the depth of its GEMM.</summary>
    public int Conv1PatchLength => InputChannels * Conv1Kernel * Conv1Kernel;

    /// <summary>Side of the primary-capsule grid: (S1 − k2)/s2 + 1 (6 in the paper).</summary>
    public int PrimaryGridSize => (Conv1OutSize - PrimaryKernel) / PrimaryStride + 1;

    /// <summary>Positions of the primary-capsule grid, grid² (36 in the paper): the rows of the primary conv's GEMM.</summary>
    public int PrimaryPositions => PrimaryGridSize * PrimaryGridSize;

    /// <summary>Length of one primary-conv patch, conv1 channels·k2² (20,736 in the paper): the depth of its GEMM.</summary>
    public int PrimaryPatchLength => Conv1Channels * PrimaryKernel * PrimaryKernel;

    /// <summary>Output channels of the primary-capsule conv: types × dims (256 in the paper).</summary>
    public int PrimaryChannels => PrimaryTypes * PrimaryDims;

    /// <summary>Number of primary capsules i: types × grid² (1152 in the paper), index i = type·grid² + y·grid + x.</summary>
    public int PrimaryCapsules => PrimaryTypes * PrimaryGridSize * PrimaryGridSize;

    // ---- Tensors (PyTorch layouts: conv [out,in,kh,kw], linear [out,in]) ---------------------------

    public const string Conv1Weight = "conv1.weight";
    public const string Conv1Bias = "conv1.bias";
    public const string PrimaryWeight = "primary_caps.weight";
    public const string PrimaryBias = "primary_caps.bias";
    public const string DigitWeight = "digit_caps.weight";
    public const string Fc1Weight = "decoder.fc1.weight";
    public const string Fc1Bias = "decoder.fc1.bias";
    public const string Fc2Weight = "decoder.fc2.weight";
    public const string Fc2Bias = "decoder.fc2.bias";
    public const string Fc3Weight = "decoder.fc3.weight";
    public const string Fc3Bias = "decoder.fc3.bias";

    public override IReadOnlyList<TensorSpec> Tensors => new[]
    {
        new TensorSpec(Conv1Weight, new[] { Conv1Channels, InputChannels, Conv1Kernel, Conv1Kernel }),
        new TensorSpec(Conv1Bias, new[] { Conv1Channels }),
        new TensorSpec(PrimaryWeight, new[] { PrimaryChannels, Conv1Channels, PrimaryKernel, PrimaryKernel }),
        new TensorSpec(PrimaryBias, new[] { PrimaryChannels }),
        new TensorSpec(DigitWeight, new[] { PrimaryCapsules, Classes, ClassDims, PrimaryDims }),
        new TensorSpec(Fc1Weight, new[] { DecoderHidden1, DecoderInput }),
        new TensorSpec(Fc1Bias, new[] { DecoderHidden1 }),
        new TensorSpec(Fc2Weight, new[] { DecoderHidden2, DecoderHidden1 }),
        new TensorSpec(Fc2Bias, new[] { DecoderHidden2 }),
        new TensorSpec(Fc3Weight, new[] { DecoderOutput, DecoderHidden2 }),
        new TensorSpec(Fc3Bias, new[] { DecoderOutput }),
    };

    public override IReadOnlyList<LayerCost> LayerCosts
    {
        get
        {
            long s1 = Conv1OutSize, g = PrimaryGridSize;
            long conv1 = (long)Conv1Channels * s1 * s1 * InputChannels * Conv1Kernel * Conv1Kernel;
            long primary = (long)PrimaryChannels * g * g * Conv1Channels * PrimaryKernel * PrimaryKernel;
            long uhat = (long)PrimaryCapsules * Classes * ClassDims * PrimaryDims;
            // Per iteration: s_j = Σ c_ij û (N·J·D) and the agreement û·v (N·J·D, skipped on the last one).
            long routing = (long)PrimaryCapsules * Classes * ClassDims * (2L * RoutingIterations - 1);
            long decoder = (long)DecoderInput * DecoderHidden1 + (long)DecoderHidden1 * DecoderHidden2
                + (long)DecoderHidden2 * DecoderOutput;
            return new[]
            {
                new LayerCost("conv1", conv1),
                new LayerCost("primary_caps", primary),
                new LayerCost("u_hat", uhat),
                new LayerCost("routing", routing),
                new LayerCost("decoder", decoder),
            };
        }
    }

    // ---- Validation and metadata --------------------------------------------------------------------

    public override string? Validate()
    {
        if (InputSize < 1 || InputChannels < 1 || Conv1Channels < 1 || Conv1Kernel < 1 || Conv1Stride < 1
            || PrimaryTypes < 1 || PrimaryDims < 1 || PrimaryKernel < 1 || PrimaryStride < 1 || Classes < 1
            || ClassDims < 1 || RoutingIterations < 1 || DecoderHidden1 < 1 || DecoderHidden2 < 1)
            return "every size must be at least 1";
        const int limit = 1 << 14;
        foreach (var (name, value) in Fields())
            if (value > limit) return $"{name} = {value} is larger than the supported {limit}";
        if (Conv1Kernel > InputSize) return $"conv1 kernel {Conv1Kernel} is larger than the input {InputSize}";
        if (PrimaryKernel > Conv1OutSize)
            return $"primary kernel {PrimaryKernel} is larger than conv1's output {Conv1OutSize}";
        // Derived sizes are ints: check them in long before anything multiplies them.
        long grid = PrimaryGridSize;
        if ((long)PrimaryTypes * grid * grid > int.MaxValue / 4 || (long)Classes * ClassDims > int.MaxValue / 4
            || (long)InputSize * InputSize * InputChannels > int.MaxValue / 4)
            return "the derived sizes (primary capsules, decoder input or output) are too large";
        foreach (var t in Tensors)
            if (t.ElementCount > int.MaxValue / 4) return $"tensor {t.Name} has more than {int.MaxValue / 4} elements";
        return null;
    }

    /// <summary>Metadata key prefix used in the safetensors <c>__metadata__</c> block.</summary>
    public const string MetadataPrefix = "capsnet.";

    /// <summary>The architecture as (key, value) pairs, each an integer field, with invariant formatting.</summary>
    public IEnumerable<(string Name, int Value)> Fields()
    {
        yield return ("input_size", InputSize);
        yield return ("input_channels", InputChannels);
        yield return ("conv1_channels", Conv1Channels);
        yield return ("conv1_kernel", Conv1Kernel);
        yield return ("conv1_stride", Conv1Stride);
        yield return ("primary_types", PrimaryTypes);
        yield return ("primary_dims", PrimaryDims);
        yield return ("primary_kernel", PrimaryKernel);
        yield return ("primary_stride", PrimaryStride);
        yield return ("classes", Classes);
        yield return ("class_dims", ClassDims);
        yield return ("routing_iterations", RoutingIterations);
        yield return ("decoder_hidden1", DecoderHidden1);
        yield return ("decoder_hidden2", DecoderHidden2);
    }

    public override Dictionary<string, string> ToMetadata()
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in Fields())
            metadata[MetadataPrefix + name] = value.ToString(CultureInfo.InvariantCulture);
        return metadata;
    }

    /// <summary>
    /// Reads <c>capsnet.*</c> entries; absent keys keep the paper's value, so a file without metadata is the paper
    /// network. Returns null and sets <paramref name="error"/> for a malformed or invalid value.
    /// </summary>
    public static CapsNetArchitecture? FromMetadata(IReadOnlyDictionary<string, string>? metadata, out string? error)
    {
        error = null;
        var a = Paper;
        if (metadata is null) return a;
        int Get(string key, int fallback, ref string? err)
        {
            if (err is not null || !metadata.TryGetValue(MetadataPrefix + key, out var text)) return fallback;
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            {
                err = $"metadata {MetadataPrefix}{key} = \"{IO.UntrustedText.Quote(text)}\" is not a non-negative integer";
                return fallback;
            }
            return value;
        }
        a = new CapsNetArchitecture
        {
            InputSize = Get("input_size", a.InputSize, ref error),
            InputChannels = Get("input_channels", a.InputChannels, ref error),
            Conv1Channels = Get("conv1_channels", a.Conv1Channels, ref error),
            Conv1Kernel = Get("conv1_kernel", a.Conv1Kernel, ref error),
            Conv1Stride = Get("conv1_stride", a.Conv1Stride, ref error),
            PrimaryTypes = Get("primary_types", a.PrimaryTypes, ref error),
            PrimaryDims = Get("primary_dims", a.PrimaryDims, ref error),
            PrimaryKernel = Get("primary_kernel", a.PrimaryKernel, ref error),
            PrimaryStride = Get("primary_stride", a.PrimaryStride, ref error),
            Classes = Get("classes", a.Classes, ref error),
            ClassDims = Get("class_dims", a.ClassDims, ref error),
            RoutingIterations = Get("routing_iterations", a.RoutingIterations, ref error),
            DecoderHidden1 = Get("decoder_hidden1", a.DecoderHidden1, ref error),
            DecoderHidden2 = Get("decoder_hidden2", a.DecoderHidden2, ref error),
        };
        if (error is not null) return null;
        error = a.Validate();
        return error is null ? a : null;
    }

    /// <summary>One line such as "28×28×1 → conv1 256@9×9/1 → 32×8D caps @9×9/2 (1152) → 10×16D, r=3 → 512-1024".</summary>
    public override string ToString() => string.Format(CultureInfo.InvariantCulture,
        "{0}x{0}x{1} -> conv1 {2}@{3}x{3}/{4} -> {5}x{6}D caps @{7}x{7}/{8} ({9}) -> {10}x{11}D, r={12} -> decoder {13}-{14}-{15}",
        InputSize, InputChannels, Conv1Channels, Conv1Kernel, Conv1Stride, PrimaryTypes, PrimaryDims, PrimaryKernel,
        PrimaryStride, PrimaryCapsules, Classes, ClassDims, RoutingIterations, DecoderHidden1, DecoderHidden2,
        DecoderOutput);
}

/// <summary>A named tensor and its shape (row-major, last index fastest).</summary>
public sealed class TensorSpec : IEquatable<TensorSpec>
{
    public TensorSpec(string name, int[] shape)
    {
        Name = name;
        Shape = shape;
    }

    public string Name { get; }
    public IReadOnlyList<int> Shape { get; }

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }

    public string ShapeText => "[" + string.Join(",", Shape) + "]";

    public bool Equals(TensorSpec? other)
    {
        if (other is null || other.Name != Name || other.Shape.Count != Shape.Count) return false;
        for (int i = 0; i < Shape.Count; i++)
            if (other.Shape[i] != Shape[i]) return false;
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as TensorSpec);

    public override int GetHashCode()
    {
        int h = Name.GetHashCode();
        foreach (int d in Shape) h = h * 31 + d;
        return h;
    }

    public override string ToString() => Name + " " + ShapeText;
}

/// <summary>Multiply-adds of one layer for one image.</summary>
public readonly record struct LayerCost(string Layer, long MultiplyAdds);
