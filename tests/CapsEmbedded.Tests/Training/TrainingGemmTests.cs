using CapsEmbedded.Training.Kernels;

namespace CapsEmbedded.Tests.Training;

/// <summary>The packed GEMM against a plain triple loop, every transpose case, odd sizes crossing every block edge.</summary>
public class TrainingGemmTests
{
    public static TheoryData<bool, bool, int, int, int> Cases()
    {
        var data = new TheoryData<bool, bool, int, int, int>();
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 17, 5), (13, 33, 300), (100, 1030, 9), (6, 16, 256) })
                    data.Add(ta, tb, m, n, k);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float_and_double_match_the_naive_product(bool transposeA, bool transposeB, int m, int n, int k)
    {
        var random = new DeterministicRandom((ulong)(m * 131 + n * 7 + k));
        int lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 1, ldc = n + 2;
        var a = new double[(transposeA ? k : m) * lda];
        var b = new double[(transposeB ? n : k) * ldb];
        var c0 = new double[m * ldc];
        for (int i = 0; i < a.Length; i++) a[i] = random.NextUniform(-1, 1);
        for (int i = 0; i < b.Length; i++) b[i] = random.NextUniform(-1, 1);
        for (int i = 0; i < c0.Length; i++) c0[i] = random.NextUniform(-1, 1);
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
            var cd = (double[])c0.Clone();
            TrainingGemm.Multiply<double>(transposeA, transposeB, m, n, k, a, lda, b, ldb, cd, ldc, accumulate, new GemmWorkspace<double>());
            var cf = Array.ConvertAll(c0, x => (float)x);
            TrainingGemm.Multiply<float>(transposeA, transposeB, m, n, k, Array.ConvertAll(a, x => (float)x), lda,
                Array.ConvertAll(b, x => (float)x), ldb, cf, ldc, accumulate, new GemmWorkspace<float>());
            var cp = (double[])c0.Clone();
            var packed = new double[TrainingGemm.PackedLength<double>(n, k)];
            TrainingGemm.PackB<double>(transposeB, b, ldb, n, k, packed);
            TrainingGemm.MultiplyPacked<double>(transposeA, m, n, k, a, lda, packed, cp, ldc, accumulate, new GemmWorkspace<double>());
            Assert.Equal(cd, cp); // the same blocks in the same order: the same bits
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(cd[i] - expected[i]) <= 1e-12 * (k + 1), $"double C[{i}] {cd[i]} vs {expected[i]}");
                // float: k products of |x| ≤ 1 rounded at ~6e-8 each.
                Assert.True(Math.Abs(cf[i] - expected[i]) <= 1e-6 * (k + 1), $"float C[{i}] {cf[i]} vs {expected[i]}");
            }
        }
    }
}
