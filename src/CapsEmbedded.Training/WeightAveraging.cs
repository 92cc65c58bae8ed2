using CapsEmbedded.Weights;

namespace CapsEmbedded.Training;

/// <summary>
/// Stochastic weight averaging (Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima and Better
/// Generalization"): the element-wise mean w = (1/n) Σᵢ wᵢ of n weight files of one architecture, typically the weights
/// at the end of each of a run's last epochs. CapsNet has no batch normalisation, so the mean needs no statistics pass.
/// </summary>
public static class WeightAveraging
{
    /// <summary>Metadata key of the averaged file: the sources, in order, with their SHA-256.</summary>
    public const string AveragedFromKey = "capsnet.averaged_from";

    /// <summary>
    /// The mean of <paramref name="inputs"/>, summed in double and rounded to float once. Metadata: the last input's
    /// (its training run's provenance and class names), less the keys that describe that one file's test result, plus
    /// <see cref="AveragedFromKey"/> = <paramref name="sourceNote"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than two inputs, or two of them differ in architecture or class names
    /// (the message names them).</exception>
    public static CapsNetWeights Average(IReadOnlyList<(string Name, CapsNetWeights Weights)> inputs, string sourceNote)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count < 2) throw new ArgumentException($"averaging needs at least 2 weight files, got {inputs.Count}");
        var (firstName, first) = inputs[0];
        foreach (var (name, weights) in inputs)
        {
            if (weights.Architecture != first.Architecture)
                throw new ArgumentException($"{name} holds {weights.Architecture}, but {firstName} holds {first.Architecture}: only one architecture can be averaged");
            if (!weights.ClassNames.SequenceEqual(first.ClassNames, StringComparer.Ordinal))
                throw new ArgumentException($"{name} names its classes {string.Join(",", weights.ClassNames)}, but {firstName} {string.Join(",", first.ClassNames)}");
        }

        var last = inputs[^1].Weights;
        var metadata = new Dictionary<string, string>(last.Metadata, StringComparer.Ordinal);
        metadata.Remove("training.test_error"); // the last epoch's, not the average's: measure it with capsnet eval
        metadata.Remove("training.test_images");
        metadata[AveragedFromKey] = sourceNote;
        var average = new CapsNetWeights(first.Architecture, metadata);
        double scale = 1.0 / inputs.Count;
        foreach (var spec in first.Architecture.Tensors)
        {
            float[] result = average[spec.Name];
            var sum = new double[result.Length];
            foreach (var (_, weights) in inputs)
            {
                float[] tensor = weights[spec.Name];
                for (int k = 0; k < sum.Length; k++) sum[k] += tensor[k];
            }
            for (int k = 0; k < result.Length; k++) result[k] = (float)(sum[k] * scale);
        }
        return average;
    }
}
