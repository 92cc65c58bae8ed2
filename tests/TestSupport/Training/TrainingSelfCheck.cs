using System.Numerics;
using System.Runtime.InteropServices;
using CapsEmbedded.Reference;
using CapsEmbedded.Training;
using CapsEmbedded.Training.Kernels;

namespace CapsEmbedded.TierProbe;

/// <summary>
/// The trainer's vector code at this process's <see cref="Vector{T}"/> width (8 floats with AVX2; 4 with SSE only, with
/// NEON, or with no hardware intrinsics at all), against oracles that do not depend on that width: the packed GEMM against
/// a plain loop, and whole training steps of small networks whose sizes put every vector path to work — the double
/// gradient against central finite differences, the float gradient (masked and dense dA1) against the double one, the
/// float forward pass against the reference model.
/// One source compiled into the xunit tests (which run it at the machine's width) and into CapsEmbedded.TierProbe (which
/// runs it at the widths the DOTNET_Enable* switches leave, and on linux-arm64 under qemu in CI).
/// </summary>
internal static class TrainingSelfCheck
{
    /// <summary>Floats per <see cref="Vector{T}"/> here: what the trainer's register tiles and û loops are built from.</summary>
    public static int FloatLanes => Vector<float>.Count;

    /// <summary>
    /// How many checks <see cref="RunAll"/> runs where <see cref="Vector{T}"/> holds <paramref name="floatLanes"/> floats:
    /// 64 GEMM cases (4 transposes × 4 shapes × dense/sparse, float and double) and one network per distinct class capsule
    /// width (two float vectors, two double vectors, the paper's 16): 66 with 8 lanes, 67 with 4.
    /// </summary>
    public static int ExpectedChecks(int floatLanes) => 64 + new[] { 2 * floatLanes, floatLanes, 16 }.Distinct().Count();

    /// <summary>Runs every check and returns how many ran; throws <see cref="KernelCheckException"/> on the first failure.</summary>
    public static int RunAll()
    {
        int checks = 0;
        foreach (var (transposeA, transposeB, m, n, k, zeroPercent) in GemmCases())
        {
            Gemm<float>(transposeA, transposeB, m, n, k, zeroPercent, tolerancePerStep: 1e-6);
            Gemm<double>(transposeA, transposeB, m, n, k, zeroPercent, tolerancePerStep: 1e-12);
            checks += 2;
        }
        foreach (var architecture in Networks())
        {
            Network(architecture);
            checks++;
        }
        return checks;
    }

    /// <summary>
    /// Both transposes; m off and on the 6-row tile; n below one two-vector panel, on it, past it; k within one block,
    /// across the 256 block edge; A dense and with half its k steps all zero (the listed-steps loop).
    /// </summary>
    private static IEnumerable<(bool, bool, int, int, int, int)> GemmCases()
    {
        int panel = 2 * FloatLanes;
        foreach (bool transposeA in new[] { false, true })
            foreach (bool transposeB in new[] { false, true })
                foreach (var (m, n, k) in new[] { (1, 1, 1), (7, panel - 1, 5), (6, panel, 31), (13, 2 * panel + 3, 300) })
                    foreach (int zeroPercent in new[] { 0, 50 })
                        yield return (transposeA, transposeB, m, n, k, zeroPercent);
    }

    /// <summary>C = op(A)·op(B) and C += op(A)·op(B), plain and through a packed B, against a double loop; skipping zero steps changes no bit.</summary>
    private static void Gemm<T>(bool transposeA, bool transposeB, int m, int n, int k, int zeroPercent, double tolerancePerStep)
        where T : unmanaged, INumberBase<T>
    {
        var random = new DeterministicRandom((ulong)(m * 131 + n * 7 + k + zeroPercent));
        int lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 1, ldc = n + 2;
        var a = Uniform(random, (transposeA ? k : m) * lda);
        var b = Uniform(random, (transposeB ? n : k) * ldb);
        var c0 = Uniform(random, m * ldc);
        for (int p = 0; p < k; p++)
            if (random.NextInt(100) < zeroPercent)
                for (int i = 0; i < m; i++) a[transposeA ? p * lda + i : i * lda + p] = 0;
        T[] at = Narrow<T>(a), bt = Narrow<T>(b), ct = Narrow<T>(c0);
        string shape = $"{typeof(T).Name} GEMM m={m} n={n} k={k} transposeA={transposeA} transposeB={transposeB} zero steps {zeroPercent}%";
        foreach (bool accumulate in new[] { false, true })
        {
            var skipping = Multiply(transposeA, transposeB, m, n, k, at, lda, bt, ldb, ct, ldc, accumulate, skipZeroSteps: true, packed: false);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double expected = accumulate ? c0[i * ldc + j] : 0;
                    for (int p = 0; p < k; p++)
                        expected += (transposeA ? a[p * lda + i] : a[i * lda + p]) * (transposeB ? b[j * ldb + p] : b[p * ldb + j]);
                    double actual = double.CreateChecked(skipping[i * ldc + j]);
                    if (!(Math.Abs(actual - expected) <= tolerancePerStep * (k + 1)))
                        throw new KernelCheckException($"{shape} accumulate={accumulate}: C[{i},{j}] = {actual:G9}, expected {expected:G9}");
                }
            foreach (var (skip, packed) in new[] { (false, false), (true, true), (false, true) })
            {
                var other = Multiply(transposeA, transposeB, m, n, k, at, lda, bt, ldb, ct, ldc, accumulate, skip, packed);
                if (!MemoryMarshal.AsBytes(other.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(skipping.AsSpan())))
                    throw new KernelCheckException($"{shape} accumulate={accumulate}: skipZeroSteps={skip} packed={packed} changed bits");
            }
        }
    }

    /// <summary>
    /// C = (accumulate ? C0 : 0) + op(A)·op(B) through <see cref="TrainingGemm.Multiply{T}"/>, or through a B packed by
    /// <see cref="TrainingGemm.PackB{T}"/> and <see cref="TrainingGemm.MultiplyPacked{T}"/>; returns C (C0 is kept).
    /// </summary>
    public static T[] Multiply<T>(bool transposeA, bool transposeB, int m, int n, int k, T[] a, int lda, T[] b, int ldb, T[] c0, int ldc,
        bool accumulate, bool skipZeroSteps, bool packed) where T : unmanaged, INumberBase<T>
    {
        var c = (T[])c0.Clone();
        var workspace = new GemmWorkspace<T> { SkipZeroSteps = skipZeroSteps };
        if (packed)
        {
            var packedB = new T[TrainingGemm.PackedLength<T>(n, k)];
            TrainingGemm.PackB<T>(transposeB, b, ldb, n, k, packedB);
            TrainingGemm.MultiplyPacked<T>(transposeA, m, n, k, a, lda, packedB, c, ldc, accumulate, workspace);
        }
        else TrainingGemm.Multiply<T>(transposeA, transposeB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, workspace);
        return c;
    }

    /// <summary>
    /// 12×12 input; conv1 11 channels 3×3 (11 = two groups of four and a remainder of three for the masked dA1's dot
    /// products); primary 5 types × 8D, 3×3 stride 2 → 4×4 grid (40 output channels: past one two-vector panel at either
    /// width); class capsules 3 × D for D = two float vectors and two double vectors (the fast û loops of each type) and
    /// the paper's 16.
    /// </summary>
    private static IEnumerable<CapsNetArchitecture> Networks()
    {
        var small = new CapsNetArchitecture
        {
            InputSize = 12, Conv1Channels = 11, Conv1Kernel = 3, PrimaryTypes = 5, PrimaryDims = 8, PrimaryKernel = 3,
            PrimaryStride = 2, Classes = 3, DecoderHidden1 = 8, DecoderHidden2 = 16,
        };
        return new[] { 2 * Vector<float>.Count, 2 * Vector<double>.Count, 16 }.Distinct().Select(d => small with { ClassDims = d });
    }

    /// <summary>
    /// One training step of three images. Double: the masked and dense dA1 paths agree to rounding, and 6 elements of each
    /// tensor's gradient match central differences (h = 1e-6; 1e-6 + 1e-4·|numeric|, as GradientCheckTests). Float: the
    /// forward pass within 2e-5 of the reference model's double pass, and each tensor's gradient, masked and dense,
    /// within 1e-4 of that tensor's largest double gradient (float rounding through the step is ~1e-6 of it; one wrong
    /// or missing term is far more). Then the same for the two-target (MultiMNIST) loss, against its own targets.
    /// </summary>
    private static void Network(CapsNetArchitecture architecture)
    {
        Network(architecture, targets: 1);
        Network(architecture, targets: 2);
    }

    private static void Network(CapsNetArchitecture architecture, int targets)
    {
        string name = $"network with {architecture.ClassDims}D class capsules, {targets} target(s)";
        var layout = new ParameterLayout(architecture);
        var weights = TrainingInit.Create(architecture, seed: 31, digitSigma: 0.5);
        var random = new DeterministicRandom(32);
        var images = new float[3 * architecture.InputLength];
        for (int k = 0; k < images.Length; k++) images[k] = (float)random.NextDouble();
        var imagesDouble = Array.ConvertAll(images, x => (double)x);
        int[] labels = targets == 1 ? [0, 2, 1] : [0, 2, 2, 1, 1, 0];
        // One target: each image is its own; two: targets of their own, as MultiMNIST's un-merged digits.
        var reconstruction = images;
        if (targets > 1)
        {
            reconstruction = new float[3 * targets * architecture.InputLength];
            for (int k = 0; k < reconstruction.Length; k++) reconstruction[k] = (float)random.NextDouble();
        }
        var reconstructionDouble = Array.ConvertAll(reconstruction, x => (double)x);

        var parameters = new double[layout.Count];
        layout.Import(weights, parameters);
        var masked = Step(architecture, layout, parameters, imagesDouble, labels, targets, reconstructionDouble, maskedPath: true, name);
        var dense = Step(architecture, layout, parameters, imagesDouble, labels, targets, reconstructionDouble, maskedPath: false, name);
        for (int k = 0; k < layout.Count; k++)
            if (!(Math.Abs(dense.Gradients[k] - masked.Gradients[k]) <= 1e-12 * (1 + Math.Abs(dense.Gradients[k]))))
                throw new KernelCheckException($"{name}, double: gradient {k} masked {masked.Gradients[k]:G17}, dense {dense.Gradients[k]:G17}");
        var reference = masked.Gradients;
        // One worker for every loss below: it reads the parameters in place and packs W2 on each forward pass.
        var lossWorker = new CapsNetWorker<double>(architecture, layout, parameters, groupSize: 3, targets: targets);
        foreach (var spec in architecture.Tensors)
        {
            var segment = layout[spec.Name];
            for (int t = 0; t < 6; t++)
            {
                int k = segment.Offset + random.NextInt(segment.Length);
                double keep = parameters[k];
                parameters[k] = keep + 1e-6; double up = Loss(lossWorker, imagesDouble, labels, targets, reconstructionDouble);
                parameters[k] = keep - 1e-6; double down = Loss(lossWorker, imagesDouble, labels, targets, reconstructionDouble);
                parameters[k] = keep;
                double numeric = (up - down) / 2e-6;
                if (!(Math.Abs(reference[k] - numeric) <= 1e-6 + 1e-4 * Math.Abs(numeric)))
                    throw new KernelCheckException($"{name}, double: d loss / d {spec.Name}[{k - segment.Offset}] = {reference[k]:G10}, finite differences {numeric:G10}");
            }
        }

        var floatParameters = new float[layout.Count];
        layout.Import(weights, floatParameters);
        var forward = new CapsNetWorker<float>(architecture, layout, floatParameters, groupSize: 3);
        forward.Forward(images, 3, labels);
        for (int image = 0; image < 3 && targets == 1; image++) // the reference model decodes one class per image
        {
            var expected = ReferenceModel.Forward(weights, images.AsSpan(image * architecture.InputLength, architecture.InputLength),
                ReferencePrecision.Double, labels[image]);
            Near(forward.Lengths(image), expected.Lengths, $"{name}, float: lengths of image {image}");
            Near(forward.Capsules(image), expected.Capsules, $"{name}, float: capsules of image {image}");
            Near(forward.Reconstruction(image), expected.Reconstruction, $"{name}, float: reconstruction of image {image}");
        }
        foreach (bool maskedPath in new[] { true, false })
        {
            var worker = Step(architecture, layout, floatParameters, images, labels, targets, reconstruction, maskedPath, name);
            foreach (var spec in architecture.Tensors)
            {
                var segment = layout[spec.Name];
                double largest = 0;
                for (int k = segment.Offset; k < segment.Offset + segment.Length; k++) largest = Math.Max(largest, Math.Abs(reference[k]));
                if (largest == 0) throw new KernelCheckException($"{name}: {spec.Name}'s gradient is all zero: the step does not reach it");
                for (int k = segment.Offset; k < segment.Offset + segment.Length; k++)
                    if (!(Math.Abs(worker.Gradients[k] - reference[k]) <= 1e-5 * largest))
                        throw new KernelCheckException($"{name}, float ({(maskedPath ? "masked" : "dense")} dA1): d loss / d {spec.Name}[{k - segment.Offset}] = " +
                            $"{worker.Gradients[k]:G9}, double {reference[k]:G9} (largest {largest:G3})");
            }
        }
    }

    /// <summary>A worker that has run one training step of <paramref name="images"/>, its dA1 path checked to be the one asked for.</summary>
    private static CapsNetWorker<T> Step<T>(CapsNetArchitecture architecture, ParameterLayout layout, T[] parameters, T[] images,
        int[] labels, int targets, T[] reconstruction, bool maskedPath, string name) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The masked path runs whatever the random start's share of positive conv1 outputs (limit 1), or not at all.
        int count = labels.Length / targets;
        var worker = new CapsNetWorker<T>(architecture, layout, parameters, groupSize: count, targets: targets) { MaskedLiveShareLimit = maskedPath ? 1 : -1 };
        worker.TrainGroup(images, labels, targets, reconstruction, count, T.One / T.CreateChecked(count));
        if (worker.MaskedGroups != (maskedPath ? 1 : 0))
            throw new KernelCheckException($"{name}, {typeof(T).Name}: the {(maskedPath ? "masked" : "dense")} dA1 path did not run");
        return worker;
    }

    /// <summary>The mean loss of one step of <paramref name="images"/> (the worker's gradient sum grows; it is not read).</summary>
    private static double Loss(CapsNetWorker<double> worker, double[] images, int[] labels, int targets, double[] reconstruction)
    {
        int count = labels.Length / targets;
        var totals = worker.TrainGroup(images, labels, targets, reconstruction, count, 1.0 / count);
        return (totals.MarginLoss + totals.ReconstructionLoss) / count;
    }

    private static void Near(ReadOnlySpan<float> actual, float[] expected, string what)
    {
        if (actual.Length != expected.Length) throw new KernelCheckException($"{what}: {actual.Length} values, expected {expected.Length}");
        for (int k = 0; k < expected.Length; k++)
            if (!(Math.Abs(actual[k] - expected[k]) <= 2e-6))
                throw new KernelCheckException($"{what}[{k}]: {actual[k]:G9}, reference {expected[k]:G9}");
    }

    private static double[] Uniform(DeterministicRandom random, int length)
    {
        var x = new double[length];
        for (int k = 0; k < length; k++) x[k] = random.NextUniform(-1, 1);
        return x;
    }

    private static T[] Narrow<T>(double[] x) where T : INumberBase<T> => Array.ConvertAll(x, T.CreateChecked);
}
