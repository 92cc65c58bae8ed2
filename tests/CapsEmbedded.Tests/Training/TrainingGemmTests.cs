using System.Numerics;
using System.Runtime.InteropServices;
using CapsEmbedded.TierProbe;

namespace CapsEmbedded.Tests.Training;

/// <summary>
/// The packed GEMM against a plain triple loop, every transpose case, odd sizes crossing every block edge; with sparse A
/// (random zeros, whole zero k steps, all zero) the zero-step skipping against the dense loop, bit for bit.
/// </summary>
public class TrainingGemmTests
{
    /// <summary>How A's zeros are laid out: none, a share of random elements, or a share of whole k steps (op(A)[:, p] = 0).</summary>
    public enum Zeros { None, Elements, Steps }

    public static TheoryData<bool, bool, int, int, int, Zeros, int> Cases()
    {
        var data = new TheoryData<bool, bool, int, int, int, Zeros, int>();
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 17, 5), (13, 33, 300), (100, 1030, 9), (6, 16, 256) })
                    data.Add(ta, tb, m, n, k, Zeros.None, 0);
        // Sparse A: m off and on the 6-row tile and the 96-row block, n past one B panel (the lists are used only then),
        // k in one block, two blocks, and with a tail.
        foreach (bool ta in new[] { false, true })
            foreach (var (m, n, k) in new[] { (7, 40, 5), (13, 33, 300), (100, 70, 9), (96, 48, 256), (97, 35, 600) })
                foreach (var (zeros, percent) in new[] { (Zeros.Elements, 50), (Zeros.Elements, 90), (Zeros.Elements, 100), (Zeros.Steps, 50), (Zeros.Steps, 90) })
                    data.Add(ta, !ta, m, n, k, zeros, percent);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float_and_double_match_the_naive_product(bool transposeA, bool transposeB, int m, int n, int k, Zeros zeros, int zeroPercent)
    {
        var random = new DeterministicRandom((ulong)(m * 131 + n * 7 + k + zeroPercent));
        int lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 1, ldc = n + 2;
        var a = new double[(transposeA ? k : m) * lda];
        var b = new double[(transposeB ? n : k) * ldb];
        var c0 = new double[m * ldc];
        for (int i = 0; i < a.Length; i++) a[i] = random.NextUniform(-1, 1);
        for (int i = 0; i < b.Length; i++) b[i] = random.NextUniform(-1, 1);
        for (int i = 0; i < c0.Length; i++) c0[i] = random.NextUniform(-1, 1);
        MakeZeros(a, transposeA, m, k, lda, zeros, zeroPercent, random);
        foreach (bool accumulate in new[] { false, true })
        {
            var expected = (double[])c0.Clone();
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = accumulate ? c0[i * ldc + j] : 0;
                    for (int p = 0; p < k; p++)
                        s += (transposeA ? a[p * lda + i] : a[i * lda + p]) * (transposeB ? b[j * ldb + p] : b[p * ldb + j]);
                    expected[i * ldc + j] = s;
                }
            var cd = Run(transposeA, transposeB, m, n, k, a, lda, b, ldb, c0, ldc, accumulate, skipZeroSteps: true, packed: false);
            var cf = Run(transposeA, transposeB, m, n, k, Array.ConvertAll(a, x => (float)x), lda, Array.ConvertAll(b, x => (float)x), ldb,
                Array.ConvertAll(c0, x => (float)x), ldc, accumulate, skipZeroSteps: true, packed: false);
            var cp = Run(transposeA, transposeB, m, n, k, a, lda, b, ldb, c0, ldc, accumulate, skipZeroSteps: true, packed: true);
            Assert.Equal(Bits(cd), Bits(cp)); // the same blocks in the same order: the same bits
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(cd[i] - expected[i]) <= 1e-12 * (k + 1), $"double C[{i}] {cd[i]} vs {expected[i]}");
                // float: k products of |x| ≤ 1 rounded at ~6e-8 each.
                Assert.True(Math.Abs(cf[i] - expected[i]) <= 1e-6 * (k + 1), $"float C[{i}] {cf[i]} vs {expected[i]}");
            }
            // Stepping over zero steps of A changes no bit, in both precisions and both entry points.
            foreach (bool packed in new[] { false, true })
            {
                Assert.Equal(Bits(Run(transposeA, transposeB, m, n, k, a, lda, b, ldb, c0, ldc, accumulate, skipZeroSteps: false, packed)), Bits(cd));
                var cfDense = Run(transposeA, transposeB, m, n, k, Array.ConvertAll(a, x => (float)x), lda, Array.ConvertAll(b, x => (float)x), ldb,
                    Array.ConvertAll(c0, x => (float)x), ldc, accumulate, skipZeroSteps: false, packed);
                var cfSkip = packed ? Run(transposeA, transposeB, m, n, k, Array.ConvertAll(a, x => (float)x), lda, Array.ConvertAll(b, x => (float)x), ldb,
                    Array.ConvertAll(c0, x => (float)x), ldc, accumulate, skipZeroSteps: true, packed) : cf;
                Assert.Equal(Bits(cfDense), Bits(cfSkip));
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Zero_steps_are_skipped_and_only_they(bool transposeA)
    {
        // NaN in B's rows where op(A)'s column is all zero: the dense loop turns 0·NaN into NaN, the skipping one never
        // reads them — proof that it skips — and still matches the naive sum over the other steps.
        const int m = 13, n = 40, k = 64;
        var random = new DeterministicRandom(5);
        int lda = transposeA ? m : k;
        var a = new double[m * k];
        var b = new double[k * n];
        for (int i = 0; i < a.Length; i++) a[i] = random.NextUniform(-1, 1);
        for (int i = 0; i < b.Length; i++) b[i] = random.NextUniform(-1, 1);
        for (int p = 0; p < k; p += 2)
            for (int i = 0; i < m; i++)
            {
                a[transposeA ? p * lda + i : i * lda + p] = 0;
                b[p * n + i % n] = double.NaN;
            }
        var c0 = new double[m * n];
        var skipped = Run(transposeA, false, m, n, k, a, lda, b, n, c0, n, false, skipZeroSteps: true, packed: false);
        var dense = Run(transposeA, false, m, n, k, a, lda, b, n, c0, n, false, skipZeroSteps: false, packed: false);
        Assert.Contains(dense, double.IsNaN);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 1; p < k; p += 2) s += (transposeA ? a[p * lda + i] : a[i * lda + p]) * b[p * n + j];
                Assert.True(Math.Abs(skipped[i * n + j] - s) <= 1e-12 * k, $"C[{i},{j}] {skipped[i * n + j]} vs {s}");
            }
    }

    [Fact]
    public void Negative_zero_in_A_counts_as_zero_and_NaN_as_not_zero()
    {
        const int m = 6, n = 40, k = 16;
        var a = new float[m * k];
        var b = new float[k * n];
        b.AsSpan().Fill(1);
        for (int i = 0; i < m; i++) a[i * k + 3] = -0f;
        a[2 * k + 5] = float.NaN; // step 5: one NaN among zeros is not a zero step
        a[4 * k + 9] = 2;
        var c = Run(false, false, m, n, k, a, k, b, n, new float[m * n], n, false, skipZeroSteps: true, packed: false);
        for (int j = 0; j < n; j++)
        {
            Assert.True(float.IsNaN(c[2 * n + j]));
            Assert.Equal(2f, c[4 * n + j]);
            Assert.Equal(0, BitConverter.SingleToInt32Bits(c[0 * n + j])); // +0: the −0 step skipped, the sum of +0s kept
        }
    }

    private static void MakeZeros(double[] a, bool transposeA, int m, int k, int lda, Zeros zeros, int percent, DeterministicRandom random)
    {
        if (zeros == Zeros.Elements)
        {
            for (int i = 0; i < a.Length; i++) if (random.NextInt(100) < percent) a[i] = 0;
        }
        else if (zeros == Zeros.Steps)
        {
            for (int p = 0; p < k; p++)
                if (random.NextInt(100) < percent)
                    for (int i = 0; i < m; i++) a[transposeA ? p * lda + i : i * lda + p] = 0;
        }
    }

    private static T[] Run<T>(bool transposeA, bool transposeB, int m, int n, int k, T[] a, int lda, T[] b, int ldb, T[] c0, int ldc,
        bool accumulate, bool skipZeroSteps, bool packed) where T : unmanaged, INumberBase<T> =>
        TrainingSelfCheck.Multiply(transposeA, transposeB, m, n, k, a, lda, b, ldb, c0, ldc, accumulate, skipZeroSteps, packed);

    private static byte[] Bits<T>(T[] values) where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
