using CapsEmbedded.Kernels;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// For <c>capsnet bench</c>: how much of an image's primary-capsule GEMM the compiled model skips (conv1's ReLU output,
/// the A of that GEMM, has k columns that are zero in a whole register tile; PackedGemm.ZeroColumns.cs), and the
/// worst-case input, an image searched to leave as little to skip as it can, so that the bound is measured, not guessed.
/// The count runs conv1 and the channels-last im2col here with the public kernels and asks
/// <see cref="PackedGemm.CountZeroColumns"/>, the kernels' own scan, what it would skip.
/// </summary>
internal sealed class PrimaryZeroColumns
{
    private readonly CapsNetArchitecture _a;
    private readonly float[] _conv1Weight;
    private readonly float[] _conv1Bias;
    private readonly CapsNetWeights _weights;
    private readonly float[] _patches;
    private readonly float[] _conv1;
    private readonly float[] _primaryA;
    private readonly int _k;
    private readonly int _positions;

    public PrimaryZeroColumns(CapsNetWeights weights)
    {
        (_a, _weights) = (weights.Architecture, weights);
        int conv1K = _a.InputChannels * _a.Conv1Kernel * _a.Conv1Kernel;
        _conv1Weight = new float[PackedGemm.PackedLength(_a.Conv1Channels, conv1K)];
        PackedGemm.Pack(weights.Conv1Weight, _a.Conv1Channels, conv1K, _conv1Weight);
        _conv1Bias = weights.Conv1Bias;
        int pixels = _a.Conv1OutSize * _a.Conv1OutSize;
        _patches = new float[pixels * conv1K];
        _conv1 = new float[pixels * _a.Conv1Channels];
        _positions = _a.PrimaryGridSize * _a.PrimaryGridSize;
        _k = _a.Conv1Channels * _a.PrimaryKernel * _a.PrimaryKernel;
        _primaryA = new float[_positions * _k];
    }

    /// <summary>What the primary GEMM of <paramref name="image"/> skips on <paramref name="tier"/>, and how many conv1 outputs are zero.</summary>
    public (ZeroColumnCount Columns, int Conv1Zeros, int Conv1Outputs) Count(ReadOnlySpan<float> image, SimdTier tier)
    {
        int conv1K = _a.InputChannels * _a.Conv1Kernel * _a.Conv1Kernel;
        int pixels = _a.Conv1OutSize * _a.Conv1OutSize;
        Im2Col.Run(image, _a.InputChannels, _a.InputSize, _a.InputSize, _a.Conv1Kernel, _a.Conv1Stride, _patches);
        PackedGemm.Multiply(_patches, pixels, conv1K, _conv1Weight, _a.Conv1Channels, _conv1Bias, Activation.Relu, _conv1, tier);
        Im2Col.RunChannelsLast(_conv1, _a.Conv1Channels, _a.Conv1OutSize, _a.Conv1OutSize, _a.PrimaryKernel, _a.PrimaryStride, _primaryA);
        return (PackedGemm.CountZeroColumns(_primaryA, _positions, _k, tier), _conv1.AsSpan().Count(0f), _conv1.Length);
    }

    /// <summary>
    /// The worst-case input, built by a deterministic search: starting from a blank image, each pixel in turn (row-major,
    /// a few sweeps) is switched between 0 and 1 when that raises the number of the primary GEMM's tile-columns (a
    /// grid row of 6 positions × one k column) with a non-zero conv1 output, until a sweep changes nothing. conv1's
    /// pre-activations are updated in place per switch (81 × channels multiply-adds), so a sweep costs well under a
    /// second. The caller prints the kernels' own count for the result, so how close it comes to "nothing skipped" is
    /// seen, not assumed.
    /// </summary>
    public (float[] Image, ZeroColumnCount Columns, int Conv1Zeros, int Sweeps) WorstCase(SimdTier tier)
    {
        if (_a.InputChannels != 1 || _a.Conv1Stride != 1)
            throw new InvalidOperationException($"the worst-case search is written for one input channel and stride 1; {_a} has {_a.InputChannels} and {_a.Conv1Stride}");
        int size = _a.InputSize, outSize = _a.Conv1OutSize, kernel = _a.Conv1Kernel, channels = _a.Conv1Channels;
        // w[ky][kx][c]: one tap of every channel contiguous, for the in-place update of all channels at once.
        var w = new float[kernel * kernel * channels];
        for (int c = 0; c < channels; c++)
            for (int tap = 0; tap < kernel * kernel; tap++)
                w[tap * channels + c] = _weights.Conv1Weight[c * kernel * kernel + tap];
        // z[y][x][c] = conv1 before ReLU; a blank image leaves the bias.
        var z = new float[outSize * outSize * channels];
        for (int p = 0; p < outSize * outSize; p++) _conv1Bias.CopyTo(z, p * channels);
        var image = new float[_a.InputLength];
        long score = Score(z);
        int sweeps = 0;
        for (bool changed = true; changed && sweeps < MaxSweeps; sweeps++)
        {
            changed = false;
            for (int pixel = 0; pixel < image.Length; pixel++)
            {
                float delta = image[pixel] == 0f ? 1f : -1f;
                Switch(z, w, pixel / size, pixel % size, delta);
                long next = Score(z);
                if (next > score)
                {
                    (score, changed) = (next, true);
                    image[pixel] += delta;
                }
                else
                {
                    Switch(z, w, pixel / size, pixel % size, -delta);
                }
            }
        }

        var count = Count(image, tier);
        return (image, count.Columns, count.Conv1Zeros, sweeps);
    }

    private const int MaxSweeps = 6;

    /// <summary>z += delta · (the conv1 taps that read input pixel (iy, ix)), for every output pixel that reads it.</summary>
    private void Switch(float[] z, float[] w, int iy, int ix, float delta)
    {
        int outSize = _a.Conv1OutSize, kernel = _a.Conv1Kernel, channels = _a.Conv1Channels;
        for (int y = Math.Max(0, iy - kernel + 1); y <= Math.Min(outSize - 1, iy); y++)
        {
            for (int x = Math.Max(0, ix - kernel + 1); x <= Math.Min(outSize - 1, ix); x++)
            {
                var target = z.AsSpan((y * outSize + x) * channels, channels);
                var taps = w.AsSpan(((iy - y) * kernel + (ix - x)) * channels, channels);
                for (int c = 0; c < channels; c++) target[c] += delta * taps[c];
            }
        }
    }

    /// <summary>
    /// Tile-columns of the primary GEMM (one grid row of positions, one (ky, kx, c) column) where some position's conv1
    /// output is positive: the tile of grid row py reads conv1 row 2py + ky at x = kx, kx + 2, … .
    /// </summary>
    private long Score(float[] z)
    {
        int outSize = _a.Conv1OutSize, kernel = _a.PrimaryKernel, stride = _a.PrimaryStride, grid = _a.PrimaryGridSize;
        int channels = _a.Conv1Channels;
        long score = 0;
        for (int py = 0; py < grid; py++)
        {
            for (int ky = 0; ky < kernel; ky++)
            {
                int y = py * stride + ky;
                for (int kx = 0; kx < kernel; kx++)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        for (int px = 0; px < grid; px++)
                        {
                            if (z[(y * outSize + px * stride + kx) * channels + c] > 0f)
                            {
                                score++;
                                break;
                            }
                        }
                    }
                }
            }
        }

        return score;
    }
}
