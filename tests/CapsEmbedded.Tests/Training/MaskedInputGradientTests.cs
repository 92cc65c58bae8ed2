using System.Numerics;
using CapsEmbedded.Tests.Data;
using CapsEmbedded.Tests.Onnx;
using CapsEmbedded.Threading;
using CapsEmbedded.Training;
using CapsEmbedded.Training.Kernels;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Training;

/// <summary>
/// <see cref="MaskedInputGradient"/> against the definition (a naive transposed convolution masked by the ReLU, in
/// double), the packed-row addresses it reads against <see cref="TrainingGemm.PackB{T}(bool, ReadOnlySpan{T}, int, int, int, Span{T})"/>,
/// and the worker's masked path against its dense path.
/// </summary>
public class MaskedInputGradientTests
{
    [Theory]
    // images, input side, channels, kernel, stride, output channels
    [InlineData(2, 8, 20, 3, 2, 40)]   // a partial channel block (20 = 16 + 4), a partial last panel (40 = 2·16 + 8)
    [InlineData(1, 7, 50, 3, 2, 16)]   // k = 450: two blocks of 225 rows in the packing
    [InlineData(3, 10, 4, 3, 2, 8)]    // the Tiny network's primary conv: fewer output channels than a panel
    [InlineData(1, 20, 32, 9, 2, 72)]  // the paper's 9×9 stride 2 geometry, fewer channels
    [InlineData(2, 6, 17, 2, 1, 33)] // stride 1, overlapping patches summed in both directions
    public void Equals_the_masked_transposed_convolution(int images, int inputSize, int channels, int kernel, int stride, int outputChannels)
    {
        int grid = (inputSize - kernel) / stride + 1, p1 = inputSize * inputSize, p2 = grid * grid, k2 = kernel * kernel * channels;
        var random = new DeterministicRandom((ulong)(inputSize * 1000 + channels));
        var dz = new double[images * p2 * outputChannels];
        var w2 = new double[outputChannels * k2]; // [o][ky][kx][c]
        var a1 = new double[images * p1 * channels];
        for (int i = 0; i < dz.Length; i++) dz[i] = random.NextDouble() - 0.5;
        for (int i = 0; i < w2.Length; i++) w2[i] = random.NextDouble() - 0.5;
        for (int i = 0; i < a1.Length; i++) a1[i] = random.NextDouble() < 0.15 ? random.NextDouble() : 0; // 85 % zeros, as trained

        var expected = new double[a1.Length];
        for (int g = 0; g < images; g++)
            for (int oy = 0; oy < grid; oy++)
                for (int ox = 0; ox < grid; ox++)
                    for (int ky = 0; ky < kernel; ky++)
                        for (int kx = 0; kx < kernel; kx++)
                            for (int c = 0; c < channels; c++)
                            {
                                int at = (g * p1 + (oy * stride + ky) * inputSize + ox * stride + kx) * channels + c;
                                double sum = 0;
                                for (int o = 0; o < outputChannels; o++)
                                    sum += dz[(g * p2 + oy * grid + ox) * outputChannels + o] * w2[o * k2 + (ky * kernel + kx) * channels + c];
                                expected[at] += sum;
                            }
        for (int i = 0; i < a1.Length; i++) if (!(a1[i] > 0)) expected[i] = 0;
        Assert.Contains(expected, v => v != 0);

        var actual = Run(dz, w2, a1, images, inputSize, channels, kernel, stride, grid, outputChannels, fill: double.NaN);
        for (int i = 0; i < a1.Length; i++)
        {
            if (a1[i] > 0) Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-12 * (1 + Math.Abs(expected[i])), $"dA1[{i}]: {actual[i]} vs {expected[i]}");
            else Assert.Equal(0.0, actual[i]); // overwritten, not left as the NaN it held
        }

        var actualFloat = Run(Array.ConvertAll(dz, v => (float)v), Array.ConvertAll(w2, v => (float)v), Array.ConvertAll(a1, v => (float)v),
            images, inputSize, channels, kernel, stride, grid, outputChannels, fill: float.NaN);
        double scale = Math.Sqrt(outputChannels * kernel * kernel);
        for (int i = 0; i < a1.Length; i++)
            Assert.True(Math.Abs(actualFloat[i] - expected[i]) <= 1e-5 * scale, $"float dA1[{i}]: {actualFloat[i]} vs {expected[i]}");
    }

    private static T[] Run<T>(T[] dz, T[] w2, T[] a1, int images, int inputSize, int channels, int kernel, int stride, int grid, int outputChannels, T fill)
        where T : unmanaged, INumberBase<T>, IComparisonOperators<T, T, bool>
    {
        int k2 = kernel * kernel * channels;
        var packed = new T[TrainingGemm.PackedLength<T>(outputChannels, k2)];
        TrainingGemm.PackB(true, w2, k2, outputChannels, k2, packed);
        var gradient = new T[a1.Length];
        Array.Fill(gradient, fill);
        var lists = new int[MaskedInputGradient.ListLength(images * inputSize * inputSize, channels)];
        long live = MaskedInputGradient.ListLiveChannels<T>(a1, images * inputSize * inputSize, channels, lists);
        Assert.Equal(a1.Count(v => v > T.Zero), live);
        MaskedInputGradient.Compute<T>(images, inputSize, channels, kernel, stride, grid, outputChannels, dz, packed, lists, gradient,
            new T[channels * outputChannels]);
        return gradient;
    }

    [Theory]
    [InlineData(5, 7)]
    [InlineData(16, 256)]
    [InlineData(40, 300)]  // 2 k blocks of 150
    [InlineData(1024, 513)] // the most columns; 3 k blocks of 171
    public void Packed_rows_are_where_PackB_put_them(int n, int k)
    {
        CheckPackedRows<float>(n, k);
        CheckPackedRows<double>(n, k);
    }

    private static void CheckPackedRows<T>(int n, int k) where T : unmanaged, INumberBase<T>
    {
        var b = new T[n * k]; // op(B) = Bᵀ with B [n][k]: row r of op(B) is column r of B
        for (int i = 0; i < b.Length; i++) b[i] = T.CreateTruncating(i + 1);
        var packed = new T[TrainingGemm.PackedLength<T>(n, k)];
        TrainingGemm.PackB(true, b, k, n, k, packed);
        int nr = 2 * Vector<T>.Count;
        for (int row = 0; row < k; row++)
        {
            var (start, stride) = TrainingGemm.PackedRow<T>(n, k, row);
            for (int col = 0; col < n; col++)
                Assert.Equal(b[col * k + row], packed[start + col / nr * stride + col % nr]);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingGemm.PackedRow<T>(TrainingGemm.BlockN + 1, k, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingGemm.PackedRow<T>(n, k, k));
    }

    [Fact]
    public void Refuses_operands_that_are_too_short_a_grid_that_does_not_fit_or_lists_it_did_not_make()
    {
        var packed = new float[TrainingGemm.PackedLength<float>(8, 36)];
        var a1 = new float[2 * 64 * 4];
        a1[5] = 1;
        var dz = new float[2 * 9 * 8];
        var lists = new int[MaskedInputGradient.ListLength(128, 4)];
        var rows = new float[4 * 8];
        Assert.Equal(640, lists.Length);
        Assert.Equal(1, MaskedInputGradient.ListLiveChannels<float>(a1, 128, 4, lists));
        var e = Assert.Throws<ArgumentException>(() => MaskedInputGradient.ListLiveChannels<float>(a1, 128, 4, lists.AsSpan(1)));
        Assert.Contains("lists has 639 values, needs 640", e.Message);
        e = Assert.Throws<ArgumentException>(() => MaskedInputGradient.Compute<float>(2, 8, 4, 3, 2, 3, 8, dz, packed, lists, new float[10], rows));
        Assert.Contains("gradient has 10 values, needs 512", e.Message);
        e = Assert.Throws<ArgumentException>(() => MaskedInputGradient.Compute<float>(2, 8, 4, 3, 2, 3, 8, dz.AsSpan(1), packed, lists, a1, rows));
        Assert.Contains("output gradient has 143 values, needs 144", e.Message);
        e = Assert.Throws<ArgumentException>(() => MaskedInputGradient.Compute<float>(2, 8, 4, 3, 2, 4, 8, dz, packed, lists, a1, rows));
        Assert.Contains("does not fit a 8x8 input", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => MaskedInputGradient.Compute<float>(2, 8, 4, 3, 2, 3, TrainingGemm.BlockN + 1, dz, packed, lists, a1, rows));
        e = Assert.Throws<ArgumentException>(() => MaskedInputGradient.Compute<float>(2, 8, 4, 3, 2, 3, 8, dz, packed, lists, a1, rows.AsSpan(1)));
        Assert.Contains("weight rows has 31 values, needs 32", e.Message);
        // Lists are indices used unchecked in the loops: a count or a channel out of range is refused first.
        var badCount = (int[])lists.Clone();
        badCount[512 + 1] = 5;
        e = Assert.Throws<ArgumentException>(() => MaskedInputGradient.Compute<float>(2, 8, 4, 3, 2, 3, 8, dz, packed, badCount, a1, rows));
        Assert.Contains("a live-channel count of 5 for 4 channels", e.Message);
        var badChannel = (int[])lists.Clone();
        badChannel[4] = -1; // pixel 1's first (and only) live channel
        e = Assert.Throws<ArgumentException>(() => MaskedInputGradient.Compute<float>(2, 8, 4, 3, 2, 3, 8, dz, packed, badChannel, a1, rows));
        Assert.Contains("a live channel -1 of 4", e.Message);
    }

    /// <summary>The Tiny network at a random start (W_ij σ = 0.5, as the gradient checks), in double.</summary>
    private static (CapsNetArchitecture Arch, ParameterLayout Layout, double[] Parameters) TinyNetwork()
    {
        var (layout, parameters) = GradientCheckTests.StartingPoint(CapsNetArchitecture.Tiny, seed: 5);
        return (CapsNetArchitecture.Tiny, layout, parameters);
    }

    [Fact]
    public void The_workers_masked_and_dense_paths_give_the_same_gradient()
    {
        // Tiny network in double: every parameter's gradient, to rounding (GradientCheckTests judge the masked path
        // against finite differences; this ties the dense one to it).
        var (arch, layout, parameters) = TinyNetwork();
        var random = new DeterministicRandom(6);
        var images = new double[3 * arch.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = random.NextDouble();
        int[] labels = { 2, 0, 1 };
        var masked = new CapsNetWorker<double>(arch, layout, parameters, groupSize: 3);
        var dense = new CapsNetWorker<double>(arch, layout, parameters, groupSize: 3) { MaskedPrimaryInputGradient = false };
        masked.MaskedLiveShareLimit = 1; // whatever the random start's share of positive outputs, run the masked path
        Assert.True(masked.MaskedPrimaryInputGradient);
        masked.TrainGroup(images, labels, 3, 1.0 / 3);
        dense.TrainGroup(images, labels, 3, 1.0 / 3);
        Assert.Equal(1, masked.MaskedGroups);
        Assert.Equal(0, dense.MaskedGroups);
        var w1 = layout[CapsNetArchitecture.Conv1Weight];
        Assert.Contains(dense.Gradients.AsSpan(w1.Offset, w1.Length).ToArray(), v => v != 0); // dA1 reached conv1
        for (int k = 0; k < layout.Count; k++)
            Assert.True(Math.Abs(dense.Gradients[k] - masked.Gradients[k]) <= 1e-12 * (1 + Math.Abs(dense.Gradients[k])),
                $"gradient {k}: {dense.Gradients[k]} vs {masked.Gradients[k]}");
    }

    [Fact]
    public void The_dense_path_runs_where_the_share_of_positive_outputs_is_above_the_limit()
    {
        var (arch, layout, parameters) = TinyNetwork();
        var images = new double[arch.InputLength];
        Array.Fill(images, 1.0);
        var worker = new CapsNetWorker<double>(arch, layout, parameters, groupSize: 1) { MaskedLiveShareLimit = 0 };
        worker.TrainGroup(images, new[] { 1 }, 1, 1.0);
        Assert.Equal(0, worker.MaskedGroups);
    }

    [Fact]
    public void Paper_network_step_on_real_digits_with_trained_weights_agrees_with_the_dense_path()
    {
        // float, the shipped weights (conv1's output mostly zeros), 4 test digits: conv1's weight gradient, the one dA1
        // feeds, to float rounding of sums over thousands of terms.
        var arch = CapsNetArchitecture.Paper;
        var layout = new ParameterLayout(arch);
        var parameters = new float[layout.Count];
        layout.Import(CapsNetWeightsFile.Load(OnnxExportTests.FindRepositoryFile("weights", "mnist.safetensors")), parameters);
        const int count = 4;
        var images = new float[count * arch.InputLength];
        for (int i = 0; i < images.Length; i++) images[i] = DataFixtures.ImagesBytes[16 + i] / 255f;
        var labels = new int[count];
        for (int i = 0; i < count; i++) labels[i] = DataFixtures.LabelsBytes[8 + i];
        var masked = new CapsNetWorker<float>(arch, layout, parameters, groupSize: count);
        var dense = new CapsNetWorker<float>(arch, layout, parameters, groupSize: count) { MaskedPrimaryInputGradient = false };
        masked.TrainGroup(images, labels, count, 1f / count);
        dense.TrainGroup(images, labels, count, 1f / count);
        Assert.Equal(1, masked.MaskedGroups); // the trained weights' share of positive outputs is below the limit
        foreach (var name in new[] { CapsNetArchitecture.Conv1Weight, CapsNetArchitecture.Conv1Bias })
        {
            var s = layout[name];
            var d = dense.Gradients.AsSpan(s.Offset, s.Length).ToArray();
            var m = masked.Gradients.AsSpan(s.Offset, s.Length).ToArray();
            double largest = d.Max(v => Math.Abs(v));
            Assert.True(largest > 0, $"{name}: no gradient");
            for (int k = 0; k < d.Length; k++)
                Assert.True(Math.Abs(d[k] - m[k]) <= 1e-4 * largest, $"{name}[{k}]: dense {d[k]} vs masked {m[k]} (largest {largest})");
        }
    }
}
