using CapsEmbedded.Kernels.Int8;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Quantization;

/// <summary>
/// Which of conv1's channels have a non-zero u7 code, per pixel of conv1's output, over calibration images; and from
/// that an order of conv1's channels in which channels that are non-zero together share the primary conv's 4-channel
/// k groups. The int8 GEMM skips a group whose 4 codes are all zero (src/CapsEmbedded/Kernels/Int8/README.md, "Zero
/// groups"), so the fewer groups hold a non-zero code, the less it computes.
/// </summary>
/// <remarks>
/// Renumbering conv1's channels (its weight rows and biases, and the primary conv's input channels alike,
/// <see cref="Quantizer.Quantize(CapsNetWeights, float, string, ReadOnlySpan{int})"/>) changes no value the int8 model
/// computes: each conv1 channel is its own float sum, the codes are element-wise, and the primary conv's int32 sums are
/// exact in any order, so its outputs are the same bits in either order.
/// </remarks>
public sealed class Conv1ChannelGrouping
{
    /// <summary>Channels per k group of <see cref="QuantizedGemm"/> (4 bytes of A per 32-bit dot-product lane).</summary>
    public const int GroupSize = 4;

    private readonly ulong[] _masks; // [image][pixel][word]: bit c of word c/64 is set when channel c's code is non-zero
    private readonly int[] _windows; // per conv1 pixel: how many primary conv windows read it (its rows in the im2col)
    private readonly int _channels;
    private readonly int _words;

    private Conv1ChannelGrouping(ulong[] masks, int[] windows, int channels)
    {
        _masks = masks;
        _windows = windows;
        _channels = channels;
        _words = (channels + 63) / 64;
    }

    /// <summary>
    /// Runs conv1 + ReLU (float32, the runtime kernels) over <paramref name="count"/> images, quantised as the int8 model
    /// does (<see cref="QuantizeU7"/> with s_a = <paramref name="inputScale"/>), and keeps which codes are non-zero.
    /// </summary>
    public static Conv1ChannelGrouping Collect(CapsNetWeights weights, ReadOnlySpan<float> images, int count, float inputScale)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (!QuantizedCapsNetWeights.IsScale(inputScale)) throw new ArgumentOutOfRangeException(nameof(inputScale), inputScale, "s_a must be finite and > 0");
        var a = weights.Architecture;
        var conv1 = new Conv1Pass(weights, images, count);
        int pixels = a.Conv1Pixels, channels = a.Conv1Channels;
        int words = (channels + 63) / 64;
        var codes = new byte[pixels * channels];
        var masks = new ulong[(long)count * pixels * words];
        for (int n = 0; n < count; n++)
        {
            QuantizeU7.Run(conv1.Run(images, n), 1f / inputScale, codes);
            for (int p = 0; p < pixels; p++)
                for (int c = 0; c < channels; c++)
                    if (codes[p * channels + c] != 0) masks[((long)n * pixels + p) * words + c / 64] |= 1UL << (c % 64);
        }

        return new Conv1ChannelGrouping(masks, Windows(a), channels);
    }

    /// <summary>Per conv1 pixel, the primary conv windows (kernel, stride) that cover it.</summary>
    private static int[] Windows(CapsNetArchitecture a)
    {
        var windows = new int[a.Conv1Pixels];
        for (int gy = 0; gy < a.PrimaryGridSize; gy++)
            for (int gx = 0; gx < a.PrimaryGridSize; gx++)
                for (int ky = 0; ky < a.PrimaryKernel; ky++)
                    for (int kx = 0; kx < a.PrimaryKernel; kx++)
                        windows[(gy * a.PrimaryStride + ky) * a.Conv1OutSize + gx * a.PrimaryStride + kx]++;
        return windows;
    }

    private bool IsNonzero(long pixel, int channel) => (_masks[pixel * _words + channel / 64] >> (channel % 64) & 1) != 0;

    /// <summary>
    /// The share of the primary conv's 1-row k groups (im2col rows × groups, each conv1 pixel counted once per window that
    /// reads it) holding a non-zero code when conv1's channels are in <paramref name="order"/> (order[i]: the channel at
    /// place i): what the int8 GEMM's 1-row tiles compute of the dense product.
    /// </summary>
    public double NonzeroGroupShare(ReadOnlySpan<int> order)
    {
        CheckOrder(order, _channels);
        long nonzero = 0, all = 0;
        int pixels = _windows.Length;
        for (long q = 0; q < _masks.Length / _words; q++)
        {
            int weight = _windows[q % pixels];
            for (int g = 0; g < order.Length; g += GroupSize)
            {
                bool any = false;
                for (int i = g; i < Math.Min(g + GroupSize, order.Length); i++) any |= IsNonzero(q, order[i]);
                nonzero += any ? weight : 0;
                all += weight;
            }
        }

        return all == 0 ? 0 : (double)nonzero / all;
    }

    /// <summary>
    /// A channel order (order[i]: the channel at place i) that puts channels non-zero together into the same groups:
    /// greedily, the most often non-zero channel not yet placed opens a group, and each of the group's other places takes
    /// the channel whose non-zero pixels the group's channels cover most (mean co-occurrence minus its own count, both
    /// weighted by windows), so that a group's union of non-zero pixels grows least. Deterministic (ties: the lowest channel).
    /// </summary>
    public int[] GroupedOrder()
    {
        int c = _channels, pixels = _windows.Length;
        var alone = new long[c];
        var together = new long[c * c];
        Span<int> live = stackalloc int[c];
        for (long q = 0; q < _masks.Length / _words; q++)
        {
            int weight = _windows[q % pixels];
            int count = 0;
            for (int ch = 0; ch < c; ch++)
                if (IsNonzero(q, ch)) live[count++] = ch;
            for (int i = 0; i < count; i++)
            {
                alone[live[i]] += weight;
                for (int j = 0; j < count; j++) together[live[i] * c + live[j]] += weight;
            }
        }

        var placed = new bool[c];
        var order = new int[c];
        int[] byCount = [.. Enumerable.Range(0, c).OrderByDescending(ch => alone[ch]).ThenBy(ch => ch)];
        int next = 0;
        foreach (int seed in byCount)
        {
            if (placed[seed]) continue;
            int groupStart = next;
            order[next++] = seed;
            placed[seed] = true;
            while (next - groupStart < GroupSize && next < c)
            {
                int best = -1;
                double bestScore = double.NegativeInfinity;
                for (int candidate = 0; candidate < c; candidate++)
                {
                    if (placed[candidate]) continue;
                    double shared = 0;
                    for (int i = groupStart; i < next; i++) shared += together[order[i] * c + candidate];
                    double score = shared / (next - groupStart) - alone[candidate];
                    if (score > bestScore)
                    {
                        bestScore = score;
                        best = candidate;
                    }
                }

                order[next++] = best;
                placed[best] = true;
            }
        }

        return order;
    }

    /// <summary>Throws unless <paramref name="order"/> is a permutation of 0..channels−1.</summary>
    internal static void CheckOrder(ReadOnlySpan<int> order, int channels)
    {
        if (order.Length != channels) throw new ArgumentException($"the channel order has {order.Length} entries; conv1 has {channels} channels", nameof(order));
        var seen = new bool[channels];
        for (int i = 0; i < order.Length; i++)
        {
            int ch = order[i];
            if ((uint)ch >= (uint)channels || seen[ch])
                throw new ArgumentException($"the channel order is not a permutation of 0..{channels - 1}: entry {i} is {ch}", nameof(order));
            seen[ch] = true;
        }
    }
}
