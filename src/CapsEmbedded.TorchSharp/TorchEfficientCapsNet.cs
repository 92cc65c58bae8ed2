using CapsEmbedded.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using W = CapsEmbedded.TorchSharp.EfficientWeightsWriter;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// Efficient-CapsNet (Mazzia, Salvetti, Chiaberge 2021; the authors' MNIST graph) as a TorchSharp module whose parameter
/// and buffer names are the weight file's (<see cref="EfficientWeightsWriter.Tensors"/>): a stem of four
/// conv → ReLU → batch norm blocks, depthwise 9×9 primary capsules (16 × 8D, Efficient squash), one pass of FC-caps
/// self-attention routing into 10 × 16D class capsules, lengths, and the masked decoder. Batch norm: ε 1e-3, momentum 0.01
/// (Keras' 0.99); <c>train()</c> normalises with the batch's statistics and updates the running ones, <c>eval()</c> uses them.
/// </summary>
public sealed class TorchEfficientCapsNet : nn.Module<Tensor, Tensor>
{
    /// <summary>PyTorch's momentum for Keras' BatchNormalization(momentum = 0.99): running = 0.99 running + 0.01 batch.</summary>
    public const double BatchNormMomentum = 0.01;
    /// <summary>The squash's ε (the authors' 10e-21).</summary>
    public const double SquashEps = 1e-20;

#pragma warning disable IDE1006 // field names are the tensor-name prefixes (RegisterComponents uses them)
    private readonly ModuleList<StemBlock> stem;
    private readonly Conv2d primary_caps;
    private readonly FcCaps digit_caps;
    private readonly TorchCapsNet.Decoder decoder;
#pragma warning restore IDE1006

    public TorchEfficientCapsNet(Device device) : base(nameof(TorchEfficientCapsNet))
    {
        var blocks = new List<StemBlock>();
        int channels = W.InputChannels;
        for (int k = 0; k < W.StemChannels.Length; k++)
        {
            blocks.Add(new StemBlock(channels, W.StemChannels[k], W.StemKernels[k], W.StemStrides[k]));
            channels = W.StemChannels[k];
        }
        stem = nn.ModuleList(blocks.ToArray());
        primary_caps = nn.Conv2d(channels, channels, W.PrimaryKernel, groups: channels);
        digit_caps = new FcCaps();
        decoder = new TorchCapsNet.Decoder(W.Classes * W.ClassDims, W.DecoderHidden1, W.DecoderHidden2, W.InputSize * W.InputSize * W.InputChannels);
        RegisterComponents();
        this.to(device);
        Device = device;
    }

    public Device Device { get; }
    /// <summary>Weight of the reconstruction loss (the authors' 0.392 × mean over 784 pixels = 0.0005 × Σ).</summary>
    public double ReconstructionWeight { get; init; } = TrainingOptions.PaperReconstructionWeight;

    /// <summary>Every tensor of the weight file, in the spec's order (parameters and batch-norm running statistics).</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> Tensors
    {
        get
        {
            var all = named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(named_buffers())
                .ToDictionary(p => p.Item1, p => p.Item2);
            return W.Tensors.Select(t => all.TryGetValue(t.Name, out var tensor) ? (t.Name, tensor)
                : throw new InvalidOperationException($"the module has no tensor {t.Name}")).ToList();
        }
    }

    /// <summary>The trained parameters, in the spec's order (Adam's list).</summary>
    public IReadOnlyList<(string Name, Parameter Tensor)> Parameters
    {
        get
        {
            var byName = named_parameters().ToDictionary(p => p.name, p => p.parameter);
            return W.Tensors.Where(t => t.Trained).Select(t => (t.Name, byName[t.Name])).ToList();
        }
    }

    /// <summary>
    /// The authors' initialisation from <paramref name="seed"/> (<see cref="DeterministicRandom"/>, tensors in the spec's
    /// order, so a seed gives the same weights everywhere): Keras he_normal (normal truncated at 2σ, σ = √(2/fan_in)/0.8796)
    /// for the stem convolutions, W (fan_in = 8·10·16, Keras' rule for a 4-D kernel) and fc1, fc2; glorot_normal for fc3;
    /// glorot_uniform (Conv2D's default) for the depthwise kernel, fan_in 81, fan_out 81·128; zero biases and b; batch
    /// norm γ 1, β 0, running mean 0, variance 1.
    /// </summary>
    public void Initialize(ulong seed)
    {
        var random = new DeterministicRandom(seed);
        using var _ = no_grad();
        foreach (var (name, t) in Tensors)
        {
            var shape = t.shape;
            long count = shape.Aggregate(1L, (a, b) => a * b);
            var values = new float[count];
            if (name.EndsWith(".bn.weight", StringComparison.Ordinal) || name.EndsWith(".running_var", StringComparison.Ordinal)) Array.Fill(values, 1f);
            else if (name == "primary_caps.weight")
            {
                long receptive = shape[2] * shape[3];
                double limit = Math.Sqrt(6.0 / (receptive * shape[1] + receptive * shape[0]));
                for (int k = 0; k < values.Length; k++) values[k] = (float)(limit * (2 * random.NextDouble() - 1));
            }
            else if (name.EndsWith(".weight", StringComparison.Ordinal) && !name.Contains(".bn.", StringComparison.Ordinal))
            {
                long fanIn = name switch
                {
                    "digit_caps.weight" => shape[2] * shape[0] * shape[1],
                    _ => shape.Skip(1).Aggregate(1L, (a, b) => a * b),
                };
                long fanOut = shape[0] * shape.Skip(2).Aggregate(1L, (a, b) => a * b);
                double sd = (name == "decoder.fc3.weight" ? Math.Sqrt(2.0 / (fanIn + fanOut)) : Math.Sqrt(2.0 / fanIn)) / 0.87962566103423978;
                for (int k = 0; k < values.Length; k++)
                {
                    double z;
                    do z = random.NextGaussian(); while (Math.Abs(z) > 2);
                    values[k] = (float)(sd * z);
                }
            }
            using var source = tensor(values, shape);
            t.copy_(source);
        }
    }

    /// <summary>Copies named float32 values (every spec tensor) into the module.</summary>
    public void Load(IReadOnlyDictionary<string, float[]> tensors)
    {
        using var _ = no_grad();
        foreach (var (name, t) in Tensors)
        {
            var values = tensors.TryGetValue(name, out var v) ? v : throw new ArgumentException($"tensor {name} is missing");
            using var source = tensor(values, t.shape);
            t.copy_(source);
        }
    }

    /// <summary>Every spec tensor's float32 values.</summary>
    public Dictionary<string, float[]> ToTensors() =>
        Tensors.ToDictionary(t => t.Name, t =>
        {
            var values = new float[t.Tensor.numel()];
            TorchCapsNet.CopyOut(t.Tensor, values);
            return values;
        });

    /// <summary>Class capsules v [B][10][16] of images x [B][1][28][28].</summary>
    public Tensor Capsules(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var block in stem) x = block.forward(x);
        var z = primary_caps.forward(x); // [B][128][1][1]: channel k is capsule k/8, dimension k%8 (the authors' reshape)
        var u = Squash(z.reshape(z.shape[0], W.PrimaryCapsules, W.PrimaryDims));
        return digit_caps.forward(u).MoveToOuterDisposeScope();
    }

    /// <summary>Capsule lengths [B][10] (the class is the longest; |v|² floored at 1e-30 as the paper network's).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return TorchCapsNet.Length(Capsules(x)).MoveToOuterDisposeScope();
    }

    /// <summary>Loss of one batch as <see cref="TorchCapsNet.Loss(Tensor, Tensor)"/>: margin (m⁺ 0.9, m⁻ 0.1, λ 0.5) +
    /// <see cref="ReconstructionWeight"/> × Σ (r − x)² with the decoder on the true class's capsule, mean over the batch.</summary>
    public (Tensor Loss, Tensor MarginSum, Tensor ReconstructionSum, Tensor Lengths) Loss(Tensor x, Tensor labels)
    {
        long b = x.shape[0];
        using var scope = NewDisposeScope();
        var v = Capsules(x);
        var lengths = TorchCapsNet.Length(v);
        var target = nn.functional.one_hot(labels, W.Classes).to_type(ScalarType.Float32);
        var margin = TorchCapsNet.Margin(lengths, target);
        var reconstruction = Reconstruct(v, labels);
        var reconLoss = (float)ReconstructionWeight * (reconstruction - x.reshape(b, -1)).square().sum(1);
        var loss = (margin + reconLoss).mean();
        return (loss.MoveToOuterDisposeScope(), margin.sum().detach().MoveToOuterDisposeScope(),
            reconLoss.sum().detach().MoveToOuterDisposeScope(), lengths.detach().MoveToOuterDisposeScope());
    }

    /// <summary>The decoder's reconstruction [B][784] from capsules masked to one class each.</summary>
    public Tensor Reconstruct(Tensor capsules, Tensor classes)
    {
        using var scope = NewDisposeScope();
        var mask = nn.functional.one_hot(classes, W.Classes).to_type(ScalarType.Float32).unsqueeze(-1);
        return decoder.forward((capsules * mask).reshape(capsules.shape[0], W.Classes * W.ClassDims)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The Efficient squash over the last axis: (1 − 1/(e^|s| + ε)) · s/(|s| + ε), ε = 1e-20. |s|² is floored at 1e-30 under the
    /// square root only so that its gradient is finite at s = 0 (no real capsule is that short).
    /// </summary>
    public static Tensor Squash(Tensor s)
    {
        using var scope = NewDisposeScope();
        var n = s.square().sum(-1, keepdim: true).clamp_min(1e-30).sqrt();
        return ((1 - 1 / (n.exp() + SquashEps)) * (s / (n + SquashEps))).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// FC-caps self-attention routing, one pass: û_{j|i} = Σ_d u_{i,d} W[j,i,d,:]; a_{j,i} = û_{j|i} · Σ_k û_{j|k} / √16;
    /// c = softmax over the classes j of a, then c += b[j,i]; s_j = Σ_i c_{j,i} û_{j|i}; v_j = squash(s_j).
    /// </summary>
    public static Tensor Routing(Tensor u, Tensor weight, Tensor bias)
    {
        using var scope = NewDisposeScope();
        var predictions = einsum("bid,jide->bjie", u, weight);                     // [B][J][I][E]
        var agreement = einsum("bjie,bje->bji", predictions, predictions.sum(2)) / Math.Sqrt(weight.shape[3]);
        var coupling = agreement.softmax(1) + bias;                                  // softmax over j, the class axis
        return Squash(einsum("bji,bjie->bje", coupling, predictions)).MoveToOuterDisposeScope();
    }

    /// <summary>Conv → ReLU → batch norm (after the ReLU, as the authors' Keras graph), valid padding.</summary>
    private sealed class StemBlock : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        private readonly Conv2d conv;
        private readonly BatchNorm2d bn;
#pragma warning restore IDE1006

        public StemBlock(int input, int output, int kernel, int stride) : base("stem")
        {
            conv = nn.Conv2d(input, output, kernel, stride: stride);
            bn = nn.BatchNorm2d(output, eps: W.BatchNormEps, momentum: BatchNormMomentum);
            // The momentum is fixed, so the batch counter is never read. Dropping it also drops TorchSharp's
            // num_batches_tracked.add_(1), whose implicit alpha Scalar can be finalized mid-call: after 126,600 steps the
            // Efficient-CapsNet run stopped with "For integral input tensors, argument alpha must not be a floating point number".
            bn.num_batches_tracked = null;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return bn.forward(conv.forward(x).relu()).MoveToOuterDisposeScope();
        }
    }

    /// <summary>The routing's parameters: weight W [J][I][D][E] (the authors' layout) and bias b [J][I].</summary>
    private sealed class FcCaps : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        private readonly Parameter weight, bias;
#pragma warning restore IDE1006

        public FcCaps() : base("digit_caps")
        {
            weight = nn.Parameter(zeros(W.Classes, W.PrimaryCapsules, W.PrimaryDims, W.ClassDims));
            bias = nn.Parameter(zeros(W.Classes, W.PrimaryCapsules));
            RegisterComponents();
        }

        public override Tensor forward(Tensor u) => Routing(u, weight, bias);
    }
}
