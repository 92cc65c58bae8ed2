using CapsEmbedded.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CapsEmbedded.TorchSharp;

/// <summary>
/// Adam with the C# trainer's formula (<see cref="AdamOptimizer{T}"/>: β1 0.9, β2 0.999, ε 1e-8,
/// p −= lr·m̂/(√v̂ + ε)) in tensor ops over a fixed list of parameters, its moments plain tensors for checkpoints.
/// Both TorchSharp trainers step with it.
/// </summary>
public sealed class TorchAdam : IDisposable
{
    private readonly (string Name, Parameter Tensor)[] _parameters;

    public TorchAdam(IEnumerable<(string Name, Parameter Tensor)> parameters)
    {
        _parameters = parameters.ToArray();
        First = _parameters.Select(p => zeros_like(p.Tensor).requires_grad_(false)).ToArray();
        Second = _parameters.Select(p => zeros_like(p.Tensor).requires_grad_(false)).ToArray();
    }

    /// <summary>m and v, in the parameters' order.</summary>
    public IReadOnlyList<Tensor> First { get; }
    public IReadOnlyList<Tensor> Second { get; }

    /// <summary>Step number <paramref name="step"/> (1-based, for the bias corrections) from each parameter's <c>.grad</c>.</summary>
    public void Apply(long step, double learningRate)
    {
        const double b1 = AdamOptimizer<float>.Beta1, b2 = AdamOptimizer<float>.Beta2;
        double correction1 = 1 / (1 - Math.Pow(b1, step)), correction2 = 1 / (1 - Math.Pow(b2, step));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        for (int k = 0; k < _parameters.Length; k++)
        {
            var (name, p) = _parameters[k];
            var g = p.grad ?? throw new InvalidOperationException($"{name} has no gradient");
            First[k].mul_(b1).add_(g, alpha: 1 - b1);
            Second[k].mul_(b2).addcmul_(g, g, value: 1 - b2);
            var update = First[k].mul(correction1).mul_(learningRate).div_(Second[k].mul(correction2).sqrt_().add_(AdamOptimizer<float>.Epsilon));
            p.sub_(update);
        }
    }

    public void Dispose()
    {
        foreach (var t in First.Concat(Second)) t.Dispose();
    }
}
