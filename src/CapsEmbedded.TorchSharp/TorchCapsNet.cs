using CapsEmbedded.Training;
using CapsEmbedded.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// The CapsNet family of <see cref="CapsNetArchitecture"/> as a TorchSharp module. Its parameter names and layouts are the
/// project's weight-file names (conv1.weight, primary_caps.weight [out][in][k][k], digit_caps.weight [i][j][d][p],
/// decoder.fc1.weight …), so <c>state_dict()</c> is the safetensors file. Forward returns the capsule lengths;
/// <see cref="Loss(Tensor, Tensor)"/> is the C# trainer's loss: margin (eq. 4) + <see cref="ReconstructionWeight"/> × Σ (r − x)², mean over the batch.
/// </summary>
public sealed class TorchCapsNet : nn.Module<Tensor, Tensor>
{
    // Field names are the tensor-name prefixes (RegisterComponents uses them).
#pragma warning disable IDE1006
    private readonly Conv2d conv1;
    private readonly Conv2d primary_caps;
    private readonly DigitCaps digit_caps;
    private readonly Decoder decoder;
#pragma warning restore IDE1006

    public TorchCapsNet(CapsNetWeights weights, Device device) : base(nameof(TorchCapsNet))
    {
        var a = weights.Architecture;
        if (a.Validate() is { } problem) throw new ArgumentException($"architecture: {problem}");
        Architecture = a;
        conv1 = nn.Conv2d(a.InputChannels, a.Conv1Channels, a.Conv1Kernel, stride: a.Conv1Stride);
        primary_caps = nn.Conv2d(a.Conv1Channels, a.PrimaryChannels, a.PrimaryKernel, stride: a.PrimaryStride);
        digit_caps = new DigitCaps(a);
        decoder = new Decoder(a.DecoderInput, a.DecoderHidden1, a.DecoderHidden2, a.DecoderOutput);
        RegisterComponents();
        this.to(device);
        Device = device;
        Load(weights);
    }

    public CapsNetArchitecture Architecture { get; }
    public Device Device { get; }
    /// <summary>Weight of the reconstruction loss (the paper's 0.0005, §4.1; 0: the decoder gets no gradient).</summary>
    public double ReconstructionWeight { get; init; } = TrainingOptions.PaperReconstructionWeight;

    /// <summary>The parameters in weight-file order (the order of <see cref="CapsNetArchitecture.Tensors"/>).</summary>
    public IReadOnlyList<(string Name, Parameter Tensor)> Tensors
    {
        get
        {
            var byName = named_parameters().ToDictionary(p => p.name, p => p.parameter);
            return Architecture.Tensors.Select(s => byName.TryGetValue(s.Name, out var p) ? (s.Name, p)
                : throw new InvalidOperationException($"the module has no parameter {s.Name}")).ToList();
        }
    }

    /// <summary>Copies weights (same architecture) into the parameters.</summary>
    public void Load(CapsNetWeights weights)
    {
        if (weights.Architecture != Architecture) throw new ArgumentException($"the weights are for {weights.Architecture}, the module for {Architecture}");
        using var _ = no_grad();
        foreach (var (name, p) in Tensors)
        {
            using var source = tensor(weights[name], p.shape);
            p.copy_(source);
        }
    }

    /// <summary>The parameters as a weight file's tensors (PyTorch layout, float32).</summary>
    public CapsNetWeights ToWeights(IReadOnlyDictionary<string, string>? metadata = null)
    {
        var weights = new CapsNetWeights(Architecture, metadata);
        foreach (var (name, p) in Tensors) CopyOut(p, weights[name]);
        return weights;
    }

    /// <summary>Copies a float32 tensor (any device) into <paramref name="destination"/>.</summary>
    public static void CopyOut(Tensor t, float[] destination)
    {
        using var cpu = t.detach().cpu().contiguous();
        var data = cpu.data<float>();
        if ((long)data.Count != destination.Length) throw new ArgumentException($"tensor has {data.Count} values, destination {destination.Length}");
        data.CopyTo(destination, 0);
    }

    /// <summary>Digit capsules v [B][J][D] of images x [B][C][S][S]: conv1, primary capsules, û = W u (eq. 2), routing.</summary>
    public Tensor Capsules(Tensor x)
    {
        var a = Architecture;
        long b = x.shape[0];
        using var scope = NewDisposeScope();
        var a1 = conv1.forward(x).relu();
        var z2 = primary_caps.forward(a1);
        // Capsule i = type·grid² + position, dimension = channel % dims (as the weight file and the C# trainer).
        int g = a.PrimaryGridSize;
        var u = Squash(z2.view(b, a.PrimaryTypes, a.PrimaryDims, g, g).permute(0, 1, 3, 4, 2).reshape(b, a.PrimaryCapsules, a.PrimaryDims));
        var uHat = digit_caps.forward(u);
        return Routing(uHat, a.RoutingIterations).MoveToOuterDisposeScope();
    }

    /// <summary>Capsule lengths [B][J] (the class is the longest).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Length(Capsules(x)).MoveToOuterDisposeScope();
    }

    /// <summary>Loss of one batch: (mean loss, Σ margin, Σ reconstruction, lengths). Images x are also the targets.</summary>
    public (Tensor Loss, Tensor MarginSum, Tensor ReconstructionSum, Tensor Lengths) Loss(Tensor x, Tensor labels)
    {
        var a = Architecture;
        long b = x.shape[0];
        using var scope = NewDisposeScope();
        var v = Capsules(x);
        var lengths = Length(v);
        var target = nn.functional.one_hot(labels, a.Classes).to_type(ScalarType.Float32);
        // Eq. 4: T_k max(0, m⁺ − |v_k|)² + λ (1 − T_k) max(0, |v_k| − m⁻)², m⁺ 0.9, m⁻ 0.1, λ 0.5, summed over k.
        var margin = Margin(lengths, target);
        // Decoder on the true class's capsule only (§4.1).
        var masked = (v * target.unsqueeze(-1)).reshape(b, a.Classes * a.ClassDims);
        var reconstruction = decoder.forward(masked);
        var reconLoss = (float)ReconstructionWeight * (reconstruction - x.reshape(b, a.InputLength)).square().sum(1);
        var loss = (margin + reconLoss).mean();
        return (loss.MoveToOuterDisposeScope(), margin.sum().detach().MoveToOuterDisposeScope(),
            reconLoss.sum().detach().MoveToOuterDisposeScope(), lengths.detach().MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Loss of a batch of images with several true classes each (MultiMNIST, §6): labels [B][T], reconstruction targets
    /// [B][T][input]. The margin loss has T_k = 1 for every true class; the decoder runs once per true class on that
    /// capsule alone against its own target, the squared-error sums added. Returns as <see cref="Loss(Tensor, Tensor)"/>.
    /// </summary>
    public (Tensor Loss, Tensor MarginSum, Tensor ReconstructionSum, Tensor Lengths) Loss(Tensor x, Tensor labels, Tensor reconstructionTargets)
    {
        var a = Architecture;
        long b = x.shape[0], t = labels.shape[1];
        using var scope = NewDisposeScope();
        var v = Capsules(x);
        var lengths = Length(v);
        var perTarget = nn.functional.one_hot(labels, a.Classes).to_type(ScalarType.Float32); // [B][T][J]
        var target = perTarget.sum(1);
        var margin = Margin(lengths, target);
        var masked = (v.unsqueeze(1) * perTarget.unsqueeze(-1)).reshape(b * t, a.Classes * a.ClassDims);
        var reconstruction = decoder.forward(masked);
        var reconLoss = ((float)ReconstructionWeight * (reconstruction - reconstructionTargets.reshape(b * t, a.InputLength)).square().sum(1))
            .reshape(b, t).sum(1);
        var loss = (margin + reconLoss).mean();
        return (loss.MoveToOuterDisposeScope(), margin.sum().detach().MoveToOuterDisposeScope(),
            reconLoss.sum().detach().MoveToOuterDisposeScope(), lengths.detach().MoveToOuterDisposeScope());
    }

    /// <summary>Eq. 1: v = |s|²/(1+|s|²) · s/|s| over the last axis. q is floored at 1e-30 only so that the gradient of √q is
    /// finite at s = 0 (the C# trainer defines it as 0 there); no real capsule is that short.</summary>
    public static Tensor Squash(Tensor s)
    {
        using var scope = NewDisposeScope();
        var q = s.square().sum(-1, keepdim: true);
        return (s * (q.clamp_min(1e-30).sqrt() / (1 + q))).MoveToOuterDisposeScope();
    }

    /// <summary>Capsule lengths |v| over the last axis (|v|² floored at 1e-30 for a finite gradient, as <see cref="Squash"/>).</summary>
    internal static Tensor Length(Tensor v) => v.square().sum(-1).clamp_min(1e-30).sqrt();

    /// <summary>Eq. 4 per image, summed over the classes: T_k max(0, m⁺ − |v_k|)² + λ (1 − T_k) max(0, |v_k| − m⁻)², m⁺ 0.9, m⁻ 0.1, λ 0.5.</summary>
    internal static Tensor Margin(Tensor lengths, Tensor target) =>
        (target * (0.9f - lengths).relu().square() + 0.5f * (1f - target) * (lengths - 0.1f).relu().square()).sum(1);

    /// <summary>Procedure 1: b = 0; c = softmax_j(b), s_j = Σ_i c_ij û_j|i, v = squash(s), b += û·v; gradients flow through
    /// every iteration (no stop-gradient), as the authors' code and the C# trainer.</summary>
    private static Tensor Routing(Tensor uHat, int iterations)
    {
        using var scope = NewDisposeScope();
        var logits = zeros(uHat.shape[0], uHat.shape[1], uHat.shape[2], device: uHat.device);
        Tensor v = null!;
        for (int r = 0; r < iterations; r++)
        {
            var c = logits.softmax(2);
            var s = einsum("bnj,bnjd->bjd", c, uHat);
            v = Squash(s);
            if (r < iterations - 1) logits = logits + einsum("bnjd,bjd->bnj", uHat, v);
        }
        return v.MoveToOuterDisposeScope();
    }

    /// <summary>û_j|i = W_ij u_i with W [N][J][D][P] (eq. 2).</summary>
    private sealed class DigitCaps : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        private readonly Parameter weight;
#pragma warning restore IDE1006
        private readonly CapsNetArchitecture _a;

        public DigitCaps(CapsNetArchitecture a) : base("digit_caps")
        {
            _a = a;
            weight = nn.Parameter(zeros(a.PrimaryCapsules, a.Classes, a.ClassDims, a.PrimaryDims));
            RegisterComponents();
        }

        public override Tensor forward(Tensor u)
        {
            long b = u.shape[0];
            var a = _a;
            using var scope = NewDisposeScope();
            // One batched GEMM per capsule i ([J·D][P]·[P][B]), not a broadcast over the batch: W is neither copied
            // B times forward nor reduced over B copies backward.
            var w = weight.view(a.PrimaryCapsules, a.Classes * a.ClassDims, a.PrimaryDims);
            return bmm(w, u.permute(1, 2, 0)).permute(2, 0, 1)
                .reshape(b, a.PrimaryCapsules, a.Classes, a.ClassDims).MoveToOuterDisposeScope();
        }
    }

    /// <summary>FC ReLU → FC ReLU → FC sigmoid (§4.1; Efficient-CapsNet's decoder is the same).</summary>
    internal sealed class Decoder : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        private readonly Linear fc1, fc2, fc3;
#pragma warning restore IDE1006

        public Decoder(int input, int hidden1, int hidden2, int output) : base("decoder")
        {
            fc1 = nn.Linear(input, hidden1);
            fc2 = nn.Linear(hidden1, hidden2);
            fc3 = nn.Linear(hidden2, output);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return fc3.forward(fc2.forward(fc1.forward(x).relu()).relu()).sigmoid().MoveToOuterDisposeScope();
        }
    }
}
