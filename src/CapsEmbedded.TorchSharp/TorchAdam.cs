using CapsEmbedded.Training;
using TorchSharp;
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

    // Every Scalar an update uses is held here or in a using: TorchSharp 0.107 hands a Scalar's native handle to libtorch
    // without keeping the object alive, so an implicit temporary (alpha: 1 − β1, add_(ε), whose alpha is an implicit 1)
    // can be finalized, and its memory reused, while the call still reads it.
    private readonly Scalar _one = 1.0, _beta1 = AdamOptimizer<float>.Beta1, _beta2 = AdamOptimizer<float>.Beta2;
    private readonly Scalar _oneMinusBeta1 = 1 - AdamOptimizer<float>.Beta1, _oneMinusBeta2 = 1 - AdamOptimizer<float>.Beta2;
    private readonly Scalar _epsilon = AdamOptimizer<float>.Epsilon;

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
        using Scalar correction1 = 1 / (1 - Math.Pow(b1, step)), correction2 = 1 / (1 - Math.Pow(b2, step)), rate = learningRate;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        for (int k = 0; k < _parameters.Length; k++)
        {
            var (name, p) = _parameters[k];
            var g = p.grad ?? throw new InvalidOperationException($"{name} has no gradient");
            First[k].mul_(_beta1).add_(g, alpha: _oneMinusBeta1);
            Second[k].mul_(_beta2).addcmul_(g, g, value: _oneMinusBeta2);
            var update = First[k].mul(correction1).mul_(rate).div_(Second[k].mul(correction2).sqrt_().add_(_epsilon, _one));
            p.sub_(update);
        }
    }

    public void Dispose()
    {
        foreach (var t in First.Concat(Second)) t.Dispose();
        foreach (var s in new[] { _one, _beta1, _beta2, _oneMinusBeta1, _oneMinusBeta2, _epsilon }) s.Dispose();
    }
}
