namespace CapsEmbedded.Quantization;

/// <summary>
/// The order in which the int8 model holds conv1's output channels: channels whose filters look alike (cosine of their
/// weights) side by side, 4 at a time, so that the 4-channel k groups the int8 GEMM skips when zero
/// (QuantizedGemm.ZeroGroups.cs) are zero more often. Similar filters fire on the same strokes: on 300 MNIST test digits
/// the 1-row tiles then compute 27.4 % of the dense groups instead of 33.3 % (src/CapsEmbedded/Kernels/Int8/README.md).
/// Taken from the weights alone, at load: no data, no change to the file. Any order gives the same bits, because conv1's
/// channels are computed independently and the primary conv's sums are exact integers.
/// </summary>
internal static class ChannelGrouping
{
    /// <summary>Channels per group: the int8 GEMM's k group, 4 bytes of A.</summary>
    private const int GroupSize = 4;

    /// <summary>
    /// order[i] = the channel held at position i. Greedy: each group starts at the unplaced channel with the largest bias
    /// (the most often active, so the busy channels share groups) and takes, three times, the unplaced channel whose filter
    /// has the largest summed cosine with the group's; ties go to the lowest channel, so the order is deterministic.
    /// </summary>
    public static int[] Conv1Order(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int channels)
    {
        int fanIn = channels == 0 ? 0 : weight.Length / channels;
        var norm = new double[channels];
        for (int c = 0; c < channels; c++) norm[c] = Math.Sqrt(Dot(weight, c, c, fanIn));
        var cosine = new double[channels * channels];
        for (int p = 0; p < channels; p++)
            for (int q = 0; q < channels; q++)
                cosine[p * channels + q] = norm[p] == 0 || norm[q] == 0 ? 0 : Dot(weight, p, q, fanIn) / (norm[p] * norm[q]);

        var order = new int[channels];
        var placed = new bool[channels];
        for (int position = 0; position < channels;)
        {
            int seed = -1;
            for (int c = 0; c < channels; c++)
                if (!placed[c] && (seed < 0 || bias[c] > bias[seed])) seed = c;
            int groupStart = position;
            placed[seed] = true;
            order[position++] = seed;
            while (position < channels && position - groupStart < GroupSize)
            {
                int best = -1;
                double bestScore = double.NegativeInfinity;
                for (int c = 0; c < channels; c++)
                {
                    if (placed[c]) continue;
                    double score = 0;
                    for (int m = groupStart; m < position; m++) score += cosine[order[m] * channels + c];
                    if (best < 0 || score > bestScore)
                    {
                        best = c;
                        bestScore = score;
                    }
                }

                placed[best] = true;
                order[position++] = best;
            }
        }

        return order;
    }

    private static double Dot(ReadOnlySpan<float> weight, int p, int q, int fanIn)
    {
        double sum = 0;
        for (int t = 0; t < fanIn; t++) sum += (double)weight[p * fanIn + t] * weight[q * fanIn + t];
        return sum;
    }
}
