using CapsEmbedded.Weights;

namespace CapsEmbedded.Training;

/// <summary>One tensor's place in the trainer's flat parameter vector.</summary>
public readonly record struct ParameterSegment(string Name, int Offset, int Length);

/// <summary>
/// All parameters of a CapsNet in one flat vector (so Adam, the gradient reduction and checkpoints are single loops),
/// tensors in <see cref="CapsNetArchitecture.Tensors"/> order. Two tensors are kept in a training layout and converted
/// at the edges: primary_caps.weight as [out][ky][kx][in] (PyTorch [out][in][ky][kx]) to match the channel-last patches,
/// and digit_caps.weight as [i][j][p][d] (PyTorch [i][j][d][p]) so û and its gradients are vector operations over d.
/// </summary>
public sealed class ParameterLayout
{
    public ParameterLayout(CapsNetArchitecture architecture)
    {
        Architecture = architecture;
        var segments = new List<ParameterSegment>();
        long offset = 0;
        foreach (var spec in architecture.Tensors)
        {
            segments.Add(new ParameterSegment(spec.Name, (int)offset, (int)spec.ElementCount));
            offset += spec.ElementCount;
        }
        if (offset > int.MaxValue) throw new ArgumentException($"{offset} parameters do not fit one array", nameof(architecture));
        Segments = segments;
        Count = (int)offset;
    }

    public CapsNetArchitecture Architecture { get; }
    public IReadOnlyList<ParameterSegment> Segments { get; }
    public int Count { get; }

    public ParameterSegment this[string name]
    {
        get
        {
            foreach (var s in Segments) if (s.Name == name) return s;
            throw new KeyNotFoundException($"no parameter tensor named '{name}'");
        }
    }

    /// <summary>Copies one tensor from PyTorch layout into the training layout.</summary>
    public void FromPyTorch<T>(string name, ReadOnlySpan<float> source, Span<T> destination) where T : System.Numerics.INumberBase<T> =>
        Convert(name, source, destination, toPyTorch: false);

    /// <summary>Copies one tensor from the training layout back into PyTorch layout.</summary>
    public void ToPyTorch<T>(string name, ReadOnlySpan<T> source, Span<float> destination) where T : System.Numerics.INumberBase<T> =>
        Convert(name, source, destination, toPyTorch: true);

    private void Convert<TFrom, TTo>(string name, ReadOnlySpan<TFrom> source, Span<TTo> destination, bool toPyTorch)
        where TFrom : System.Numerics.INumberBase<TFrom> where TTo : System.Numerics.INumberBase<TTo>
    {
        var a = Architecture;
        switch (name)
        {
            case CapsNetArchitecture.PrimaryWeight:
                Permute(source, destination, a.PrimaryChannels, a.Conv1Channels, a.PrimaryKernel * a.PrimaryKernel, toPyTorch);
                break;
            case CapsNetArchitecture.DigitWeight:
                Permute(source, destination, a.PrimaryCapsules * a.Classes, a.ClassDims, a.PrimaryDims, toPyTorch);
                break;
            default:
                for (int k = 0; k < source.Length; k++) destination[k] = TTo.CreateTruncating(source[k]);
                break;
        }
    }

    /// <summary>
    /// Transposes the last two axes of [blocks][rows][cols] (PyTorch side) ↔ [blocks][cols][rows] (training side).
    /// </summary>
    private static void Permute<TFrom, TTo>(ReadOnlySpan<TFrom> source, Span<TTo> destination, int blocks, int rows, int cols, bool toPyTorch)
        where TFrom : System.Numerics.INumberBase<TFrom> where TTo : System.Numerics.INumberBase<TTo>
    {
        for (int b = 0; b < blocks; b++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                {
                    int pyTorch = (b * rows + r) * cols + c, training = (b * cols + c) * rows + r;
                    if (toPyTorch) destination[pyTorch] = TTo.CreateTruncating(source[training]);
                    else destination[training] = TTo.CreateTruncating(source[pyTorch]);
                }
    }

    /// <summary>Fills <paramref name="parameters"/> from weights in PyTorch layout.</summary>
    public void Import<T>(CapsNetWeights weights, Span<T> parameters) where T : System.Numerics.INumberBase<T>
    {
        if (weights.Architecture != Architecture)
            throw new ArgumentException($"weights are for {weights.Architecture}, the trainer for {Architecture}", nameof(weights));
        foreach (var s in Segments) FromPyTorch(s.Name, weights[s.Name], parameters.Slice(s.Offset, s.Length));
    }

    /// <summary>The parameters as new weights in PyTorch layout.</summary>
    public CapsNetWeights ToWeights<T>(ReadOnlySpan<T> parameters, IReadOnlyDictionary<string, string>? metadata = null)
        where T : System.Numerics.INumberBase<T>
    {
        var weights = new CapsNetWeights(Architecture, metadata);
        Export(parameters, weights);
        return weights;
    }

    /// <summary>Writes <paramref name="parameters"/> into <paramref name="weights"/> in PyTorch layout.</summary>
    public void Export<T>(ReadOnlySpan<T> parameters, CapsNetWeights weights) where T : System.Numerics.INumberBase<T>
    {
        foreach (var s in Segments) ToPyTorch(s.Name, parameters.Slice(s.Offset, s.Length), weights[s.Name]);
    }
}
