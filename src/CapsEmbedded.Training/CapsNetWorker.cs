using System.Numerics;
using CapsEmbedded.Kernels;
using CapsEmbedded.Training.Kernels;
using CapsEmbedded.Training.Layers;

namespace CapsEmbedded.Training;

/// <summary>Loss sums and hits of the samples one worker processed (sums, not means: the caller divides).</summary>
public struct StepTotals
{
    public double MarginLoss;
    public double ReconstructionLoss;
    public int Correct;
    public int Samples;

    public void Add(in StepTotals other)
    {
        MarginLoss += other.MarginLoss;
        ReconstructionLoss += other.ReconstructionLoss;
        Correct += other.Correct;
        Samples += other.Samples;
    }
}

/// <summary>
/// One thread's forward and backward pass over groups of up to <see cref="GroupSize"/> images: the convolutions run
/// as GEMMs over the whole group (rows = images × positions), the capsule part image by image, the decoder as one row
/// per image and target (MultiMNIST: two). Every buffer, the gradient included, is allocated here once; <see cref="TrainGroup(ReadOnlySpan{T}, ReadOnlySpan{int}, int, ReadOnlySpan{T}, int, T, bool)"/> adds this group's gradient of the batch-mean loss
/// into <see cref="Gradients"/>. Generic over T: float trains, double runs the gradient checks through the same code.
/// </summary>
public sealed class CapsNetWorker<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly CapsNetArchitecture _a;
    private readonly T[] _p;
    private readonly GemmWorkspace<T> _gemm = new();
    // Sizes: positions (P), patch columns (K), channels (C) of both convs; capsules N×Dp → J×D.
    private readonly int _p1, _k1, _c1, _p2, _k2, _c2, _n, _dp, _j, _d, _r, _h1, _h2, _o, _in;
    private readonly ParameterLayout _layout;
    private readonly bool _ownsPacking;
    private readonly T[] _packedW2;
    private readonly ParameterSegment _w1, _b1, _w2, _b2, _wd, _f1w, _f1b, _f2w, _f2b, _f3w, _f3b;

    private readonly T[] _patches1, _a1, _patches2, _z2, _sRaw, _u, _uHat, _logits, _coupling, _s, _v, _lengths,
        _decIn, _h1a, _h2a, _rec;
    private readonly T[] _dRec, _dH2, _dH1, _dDecIn, _dLengths, _dv, _dUHat, _du, _dsRaw, _dz2, _da1,
        _dLogits, _dLogitsNext, _dvR, _dsR, _dc;
    // dW2ᵀ [K2][C2]: the primary conv's weight gradient summed in the orientation whose A (patches2ᵀ) is sparse;
    // folded into Gradients (transposed) by FoldPrimaryWeightGradient. Pending: groups summed since the last fold.
    private readonly T[] _dw2T;
    // MaskedInputGradient's lists of the channels conv1 left positive, per pixel of the group, and its copy of one kernel
    // offset's W2ᵀ rows.
    private readonly int[] _liveChannels;
    private readonly T[] _maskedWeightRows;
    private bool _dw2TPending;

    /// <param name="architecture">Every size of the network.</param>
    /// <param name="layout">Where each tensor lies in <paramref name="parameters"/>.</param>
    /// <param name="parameters">The flat parameter vector (training layout); read, never written, here.</param>
    /// <param name="groupSize">Most images per call; buffers are sized for it.</param>
    /// <param name="sharedPackedPrimary">
    /// primary_caps.weight packed for the GEMM (<see cref="PackPrimaryWeight"/>), kept current by the owner after every
    /// update; null: this worker packs it itself at the start of every forward pass.
    /// </param>
    /// <param name="reconstructionWeight">Weight of the reconstruction loss, weight × Σ (r − x)² per image (the paper's
    /// 0.0005, §4.1); 0 leaves the decoder without gradient.</param>
    /// <param name="targets">Most true classes per image (1; MultiMNIST: 2): the decoder's buffers hold one row per image and target.</param>
    public CapsNetWorker(CapsNetArchitecture architecture, ParameterLayout layout, T[] parameters, int groupSize, T[]? sharedPackedPrimary = null,
        double reconstructionWeight = TrainingOptions.PaperReconstructionWeight, int targets = 1)
    {
        if (groupSize < 1) throw new ArgumentOutOfRangeException(nameof(groupSize), "group size must be at least 1");
        if (targets < 1 || targets > architecture.Classes) throw new ArgumentOutOfRangeException(nameof(targets), $"targets per image must be in 1..{architecture.Classes}, got {targets}");
        Targets = targets;
        if (TrainingOptions.ReconstructionWeightProblem(reconstructionWeight) is { } problem) throw new ArgumentOutOfRangeException(nameof(reconstructionWeight), problem);
        ReconstructionWeight = reconstructionWeight;
        if (parameters.Length != layout.Count) throw new ArgumentException($"{parameters.Length} parameters, layout has {layout.Count}", nameof(parameters));
        _a = architecture; _p = parameters; GroupSize = groupSize;
        var a = architecture;
        _p1 = a.Conv1OutSize * a.Conv1OutSize; _k1 = a.InputChannels * a.Conv1Kernel * a.Conv1Kernel; _c1 = a.Conv1Channels;
        _p2 = a.PrimaryGridSize * a.PrimaryGridSize; _k2 = a.PrimaryKernel * a.PrimaryKernel * a.Conv1Channels; _c2 = a.PrimaryChannels;
        _n = a.PrimaryCapsules; _dp = a.PrimaryDims; _j = a.Classes; _d = a.ClassDims; _r = a.RoutingIterations;
        _h1 = a.DecoderHidden1; _h2 = a.DecoderHidden2; _o = a.DecoderOutput; _in = a.InputLength;
        _w1 = layout[CapsNetArchitecture.Conv1Weight]; _b1 = layout[CapsNetArchitecture.Conv1Bias];
        _w2 = layout[CapsNetArchitecture.PrimaryWeight]; _b2 = layout[CapsNetArchitecture.PrimaryBias];
        _wd = layout[CapsNetArchitecture.DigitWeight];
        _f1w = layout[CapsNetArchitecture.Fc1Weight]; _f1b = layout[CapsNetArchitecture.Fc1Bias];
        _f2w = layout[CapsNetArchitecture.Fc2Weight]; _f2b = layout[CapsNetArchitecture.Fc2Bias];
        _f3w = layout[CapsNetArchitecture.Fc3Weight]; _f3b = layout[CapsNetArchitecture.Fc3Bias];
        int g = groupSize, rows = groupSize * targets; // decoder rows
        _layout = layout;
        _ownsPacking = sharedPackedPrimary is null;
        _packedW2 = sharedPackedPrimary ?? new T[PackedPrimaryLength(architecture)];
        if (_packedW2.Length < PackedPrimaryLength(architecture)) throw new ArgumentException("the shared packed weight is too short", nameof(sharedPackedPrimary));
        Gradients = new T[layout.Count];
        _patches1 = new T[g * _p1 * _k1]; _a1 = new T[g * _p1 * _c1];
        _patches2 = new T[g * _p2 * _k2]; _z2 = new T[g * _p2 * _c2];
        _sRaw = new T[g * _n * _dp]; _u = new T[g * _n * _dp]; _uHat = new T[g * _n * _j * _d];
        _logits = new T[_n * _j]; _coupling = new T[g * _r * _n * _j]; _s = new T[g * _r * _j * _d]; _v = new T[g * _r * _j * _d];
        _lengths = new T[g * _j]; _decIn = new T[rows * _j * _d]; _h1a = new T[rows * _h1]; _h2a = new T[rows * _h2]; _rec = new T[rows * _o];
        _dRec = new T[rows * _o]; _dH2 = new T[rows * _h2]; _dH1 = new T[rows * _h1]; _dDecIn = new T[rows * _j * _d];
        _dLengths = new T[_j]; _dv = new T[_j * _d]; _dUHat = new T[g * _n * _j * _d]; _du = new T[g * _n * _dp]; _dsRaw = new T[_n * _dp];
        _dz2 = new T[g * _p2 * _c2]; _da1 = new T[g * _p1 * _c1]; _dw2T = new T[_k2 * _c2];
        _liveChannels = new int[MaskedInputGradient.ListLength(g * _p1, _c1)];
        _maskedWeightRows = new T[_c1 * _c2];
        MaskedPrimaryInputGradient = true;
        _dLogits = new T[_n * _j]; _dLogitsNext = new T[_n * _j]; _dvR = new T[_j * _d]; _dsR = new T[_j * _d]; _dc = new T[_j];
    }

    public int GroupSize { get; }

    /// <summary>Most true classes per image this worker is sized for (decoder rows per image).</summary>
    public int Targets { get; }

    /// <summary>Whether this worker's GEMMs step over all-zero k steps of A (the default; the same bits either way).</summary>
    internal bool SkipZeroSteps { get => _gemm.SkipZeroSteps; set => _gemm.SkipZeroSteps = value; }

    /// <summary>
    /// Whether dA1 (the primary conv's input gradient through conv1's ReLU) is computed only where the ReLU passes it
    /// (<see cref="MaskedInputGradient"/>, the default where it applies) or densely (a GEMM, col2im, the mask; the
    /// reference for tests and measurements). The two differ in rounding only.
    /// </summary>
    internal bool MaskedPrimaryInputGradient
    {
        get => _maskedPrimaryInputGradient;
        set => _maskedPrimaryInputGradient = value && MaskedInputGradient.Supports(_c2);
    }

    private bool _maskedPrimaryInputGradient;

    /// <summary>
    /// The masked path runs for a group whose share of positive conv1 outputs is at most this
    /// (<see cref="MaskedInputGradient.MaxLiveShare"/>; the dense path is faster above it, as at the random start).
    /// </summary>
    internal double MaskedLiveShareLimit { get; set; } = MaskedInputGradient.MaxLiveShare;

    /// <summary>Groups whose dA1 the masked path computed (tests check that it ran).</summary>
    internal long MaskedGroups { get; private set; }

    /// <summary>A-panel k steps this worker's GEMMs stepped over so far.</summary>
    internal long SkippedZeroSteps => _gemm.SkippedSteps;

    /// <summary>Weight of the reconstruction loss in the trained loss (0.0005 in the paper).</summary>
    public double ReconstructionWeight { get; }

    /// <summary>Length of the packed primary_caps.weight (the forward GEMM's B, shared by all workers of a trainer).</summary>
    public static int PackedPrimaryLength(CapsNetArchitecture a) =>
        TrainingGemm.PackedLength<T>(a.PrimaryChannels, a.PrimaryKernel * a.PrimaryKernel * a.Conv1Channels);

    /// <summary>Packs primary_caps.weight ([out][ky][kx][in], the GEMM's B transposed) from the parameters.</summary>
    public static void PackPrimaryWeight(CapsNetArchitecture a, ParameterLayout layout, ReadOnlySpan<T> parameters, Span<T> packed)
    {
        var w2 = layout[CapsNetArchitecture.PrimaryWeight];
        int k2 = a.PrimaryKernel * a.PrimaryKernel * a.Conv1Channels;
        TrainingGemm.PackB(true, parameters.Slice(w2.Offset, w2.Length), k2, a.PrimaryChannels, k2, packed);
    }

    /// <summary>This worker's gradient sum; the trainer reduces and clears it after each step.</summary>
    public T[] Gradients { get; }

    private Span<T> P(ParameterSegment s) => _p.AsSpan(s.Offset, s.Length);
    private Span<T> G(ParameterSegment s) => Gradients.AsSpan(s.Offset, s.Length);

    // ---- Results of the last forward pass, per image of the group ----------------------------------------------

    public ReadOnlySpan<T> Lengths(int image) => _lengths.AsSpan(image * _j, _j);
    /// <summary>Digit capsules v [J][D] after the last routing iteration.</summary>
    public ReadOnlySpan<T> Capsules(int image) => _v.AsSpan((image * _r + _r - 1) * _j * _d, _j * _d);
    /// <summary>Decoder output of row image·targets + target of the last forward pass (one target: row = image).</summary>
    public ReadOnlySpan<T> Reconstruction(int row) => _rec.AsSpan(row * _o, _o);
    public ReadOnlySpan<T> PrimaryCapsules(int image) => _u.AsSpan(image * _n * _dp, _n * _dp);
    public ReadOnlySpan<T> Coupling(int image) => _coupling.AsSpan((image * _r + _r - 1) * _n * _j, _n * _j);

    /// <summary>Index of the longest digit capsule (first on ties).</summary>
    public int Predicted(int image)
    {
        var l = Lengths(image);
        int best = 0;
        for (int k = 1; k < l.Length; k++) if (l[k] > l[best]) best = k;
        return best;
    }

    /// <summary>The <paramref name="classes"/>.Length longest digit capsules, longest first (the earlier class on ties).</summary>
    public void Top(int image, Span<int> classes) => TopClasses(Lengths(image), classes);

    /// <inheritdoc cref="Top"/>
    public static void TopClasses(ReadOnlySpan<T> lengths, Span<int> classes)
    {
        if (classes.Length > lengths.Length) throw new ArgumentException($"top {classes.Length} of {lengths.Length} classes", nameof(classes));
        for (int t = 0; t < classes.Length; t++)
        {
            int best = -1;
            for (int k = 0; k < lengths.Length; k++)
                if (classes[..t].IndexOf(k) < 0 && (best < 0 || lengths[k] > lengths[best])) best = k;
            classes[t] = best;
        }
    }

    /// <summary>
    /// The paper's test (§6 for two digits): the <paramref name="labels"/>.Length longest capsules are exactly the labels
    /// (one label: the longest capsule is it, first on ties, as <see cref="Predicted"/>).
    /// </summary>
    public static bool Recognised(ReadOnlySpan<T> lengths, ReadOnlySpan<int> labels)
    {
        // Label l is among the top |labels| when fewer than |labels| capsules rank before it (longer, or as long and earlier).
        foreach (int l in labels)
        {
            int before = 0;
            for (int k = 0; k < lengths.Length; k++)
                if (lengths[k] > lengths[l] || (lengths[k] == lengths[l] && k < l)) before++;
            if (before >= labels.Length) return false;
        }
        for (int a = 1; a < labels.Length; a++) if (labels[..a].IndexOf(labels[a]) >= 0) return false;
        return true;
    }

    /// <summary>
    /// Forward pass of <paramref name="count"/> images ([count][C][S][S]). With <paramref name="maskClasses"/> non-empty the
    /// decoder runs masked to those classes, [count][targets], one decoder row per entry (a negative entry: the longest
    /// capsule); empty skips the decoder.
    /// </summary>
    public void Forward(ReadOnlySpan<T> images, int count, ReadOnlySpan<int> maskClasses, int targets = 1)
    {
        if (count < 1 || count > GroupSize) throw new ArgumentOutOfRangeException(nameof(count), $"count {count} is outside 1..{GroupSize}");
        if (targets < 1 || targets > Targets) throw new ArgumentOutOfRangeException(nameof(targets), $"targets {targets} is outside 1..{Targets} (this worker's size)");
        if (images.Length < count * _in) throw new ArgumentException($"images has {images.Length} values, needs {count * _in}", nameof(images));
        var a = _a;
        // conv1 + ReLU: a1[(g, pos)][c1] = relu(patches1 · W1ᵀ + b1), channel-last.
        for (int g = 0; g < count; g++)
            Patches.FromChw<T>(images.Slice(g * _in, _in), a.InputChannels, a.InputSize, a.InputSize, a.Conv1Kernel, a.Conv1Stride,
                _patches1.AsSpan(g * _p1 * _k1, _p1 * _k1));
        TrainingGemm.Multiply<T>(false, true, count * _p1, _c1, _k1, _patches1, _k1, P(_w1), _k1, _a1, _c1, false, _gemm);
        AddBiasRelu(_a1.AsSpan(0, count * _p1 * _c1), P(_b1), relu: true);
        // Primary capsules conv: z2[(g, pos)][type·Dp + dim] = patches2 · W2ᵀ + b2.
        for (int g = 0; g < count; g++)
            Patches.FromHwc<T>(_a1.AsSpan(g * _p1 * _c1, _p1 * _c1), _c1, a.Conv1OutSize, a.Conv1OutSize, a.PrimaryKernel, a.PrimaryStride,
                _patches2.AsSpan(g * _p2 * _k2, _p2 * _k2));
        if (_ownsPacking) PackPrimaryWeight(a, _layout, _p, _packedW2);
        TrainingGemm.MultiplyPacked<T>(false, count * _p2, _c2, _k2, _patches2, _k2, _packedW2, _z2, _c2, false, _gemm);
        AddBiasRelu(_z2.AsSpan(0, count * _p2 * _c2), P(_b2), relu: false);
        for (int g = 0; g < count; g++)
        {
            var sRaw = _sRaw.AsSpan(g * _n * _dp, _n * _dp);
            Regroup(_z2.AsSpan(g * _p2 * _c2, _p2 * _c2), sRaw, toCapsules: true);
            var u = _u.AsSpan(g * _n * _dp, _n * _dp);
            SquashLayer.Forward<T>(sRaw, _n, _dp, u);
            var uHat = _uHat.AsSpan(g * _n * _j * _d, _n * _j * _d);
            CapsuleTransformLayer.Forward<T>(u, P(_wd), _n, _j, _d, _dp, uHat);
            RoutingLayer.Forward<T>(uHat, _n, _j, _d, _r, _logits,
                _coupling.AsSpan(g * _r * _n * _j, _r * _n * _j), _s.AsSpan(g * _r * _j * _d, _r * _j * _d), _v.AsSpan(g * _r * _j * _d, _r * _j * _d));
            MarginLoss.Lengths<T>(Capsules(g), _j, _d, _lengths.AsSpan(g * _j, _j));
        }
        if (maskClasses.IsEmpty) return;
        int rows = count * targets;
        if (maskClasses.Length < rows) throw new ArgumentException($"{maskClasses.Length} mask classes for {count} images of {targets} targets", nameof(maskClasses));
        // Decoder (§4.1, §6): per row all capsules but one masked to zero, flattened class-major → FC ReLU → FC ReLU →
        // FC sigmoid; an image of two digits has one row per digit, each decoded from its own capsule.
        _decIn.AsSpan(0, rows * _j * _d).Clear();
        for (int row = 0; row < rows; row++)
        {
            int g = row / targets, k = maskClasses[row] < 0 ? Predicted(g) : maskClasses[row];
            if (k >= _j) throw new ArgumentOutOfRangeException(nameof(maskClasses), $"class {k} is outside 0..{_j - 1}");
            Capsules(g).Slice(k * _d, _d).CopyTo(_decIn.AsSpan(row * _j * _d + k * _d, _d));
        }
        TrainingGemm.Multiply<T>(false, true, rows, _h1, _j * _d, _decIn, _j * _d, P(_f1w), _j * _d, _h1a, _h1, false, _gemm);
        AddBiasRelu(_h1a.AsSpan(0, rows * _h1), P(_f1b), relu: true);
        TrainingGemm.Multiply<T>(false, true, rows, _h2, _h1, _h1a, _h1, P(_f2w), _h1, _h2a, _h2, false, _gemm);
        AddBiasRelu(_h2a.AsSpan(0, rows * _h2), P(_f2b), relu: true);
        TrainingGemm.Multiply<T>(false, true, rows, _o, _h2, _h2a, _h2, P(_f3w), _h2, _rec, _o, false, _gemm);
        var rec = _rec.AsSpan(0, rows * _o);
        AddBiasRelu(rec, P(_f3b), relu: false);
        for (int k = 0; k < rec.Length; k++) rec[k] = T.One / (T.One + T.Exp(-rec[k]));
    }

    /// <summary>
    /// Forward and backward pass of <paramref name="count"/> labelled images, each its own reconstruction target; adds the
    /// gradient of (margin + reconstruction) × <paramref name="lossScale"/> (1/batch for the batch mean) into <see cref="Gradients"/>.
    /// </summary>
    /// <param name="images">[count][input] pixels in [0, 1].</param>
    /// <param name="labels">One class per image.</param>
    /// <param name="count">Images in this group (at most <see cref="GroupSize"/>).</param>
    /// <param name="lossScale">Factor on this group's loss (1/batch for the batch mean).</param>
    /// <param name="foldPrimaryWeightGradient">
    /// False leaves this group's primary-conv weight gradient in the transposed sum (cheaper over several groups); the
    /// caller then calls <see cref="FoldPrimaryWeightGradient"/> before it reads <see cref="Gradients"/>.
    /// </param>
    public StepTotals TrainGroup(ReadOnlySpan<T> images, ReadOnlySpan<int> labels, int count, T lossScale, bool foldPrimaryWeightGradient = true) =>
        TrainGroup(images, labels, 1, images, count, lossScale, foldPrimaryWeightGradient);

    /// <summary>
    /// Forward and backward pass of <paramref name="count"/> images of <paramref name="targets"/> true classes each (paper
    /// §6: MultiMNIST's two): the margin loss with T_c = 1 for every true class (eq. 4), and per true class the decoder fed
    /// that class's capsule alone against its own target image, the squared-error sums added, × the reconstruction weight.
    /// Adds the gradient of (margin + reconstruction) × <paramref name="lossScale"/> into <see cref="Gradients"/>.
    /// </summary>
    /// <param name="images">[count][input] pixels in [0, 1].</param>
    /// <param name="labels">[count][targets] classes, distinct within an image.</param>
    /// <param name="targets">True classes per image (at most <see cref="Targets"/>).</param>
    /// <param name="reconstructionTargets">[count][targets][input]: what each true capsule's reconstruction is compared with.</param>
    /// <param name="count">Images in this group (at most <see cref="GroupSize"/>).</param>
    /// <param name="lossScale">Factor on this group's loss (1/batch for the batch mean).</param>
    /// <param name="foldPrimaryWeightGradient">As in the one-target overload.</param>
    public StepTotals TrainGroup(ReadOnlySpan<T> images, ReadOnlySpan<int> labels, int targets, ReadOnlySpan<T> reconstructionTargets, int count,
        T lossScale, bool foldPrimaryWeightGradient = true)
    {
        int rows = count * targets;
        if (labels.Length < rows) throw new ArgumentException($"{labels.Length} labels for {count} images of {targets} targets", nameof(labels));
        if (reconstructionTargets.Length < rows * _o)
            throw new ArgumentException($"reconstruction targets have {reconstructionTargets.Length} values, need {rows * _o}", nameof(reconstructionTargets));
        Forward(images, count, labels, targets);
        var a = _a;
        var totals = new StepTotals { Samples = count };
        // Reconstruction loss w·Σ(r − x)² (w = 0.0005 in §4.1) and its gradient through the sigmoid: dz = scale·2w·(r − x)·r(1 − r).
        T reconScale = T.CreateTruncating(ReconstructionWeight);
        T gradScale = T.CreateTruncating(2 * ReconstructionWeight) * lossScale;
        for (int row = 0; row < rows; row++)
        {
            T sum = T.Zero;
            for (int k = 0; k < _o; k++)
            {
                T r = _rec[row * _o + k], diff = r - reconstructionTargets[row * _o + k];
                sum += diff * diff;
                _dRec[row * _o + k] = gradScale * diff * r * (T.One - r);
            }
            totals.ReconstructionLoss += double.CreateTruncating(reconScale * sum);
        }
        // Decoder backward over all rows: dW += dZᵀ·X, db += Σ dZ, dX = dZ·W, through the ReLUs.
        TrainingGemm.Multiply<T>(true, false, _o, _h2, rows, _dRec, _o, _h2a, _h2, G(_f3w), _h2, true, _gemm);
        SumRows(_dRec, rows, _o, G(_f3b));
        TrainingGemm.Multiply<T>(false, false, rows, _h2, _o, _dRec, _o, P(_f3w), _h2, _dH2, _h2, false, _gemm);
        ReluBackward(_h2a.AsSpan(0, rows * _h2), _dH2);
        TrainingGemm.Multiply<T>(true, false, _h2, _h1, rows, _dH2, _h2, _h1a, _h1, G(_f2w), _h1, true, _gemm);
        SumRows(_dH2, rows, _h2, G(_f2b));
        TrainingGemm.Multiply<T>(false, false, rows, _h1, _h2, _dH2, _h2, P(_f2w), _h1, _dH1, _h1, false, _gemm);
        ReluBackward(_h1a.AsSpan(0, rows * _h1), _dH1);
        TrainingGemm.Multiply<T>(true, false, _h1, _j * _d, rows, _dH1, _h1, _decIn, _j * _d, G(_f1w), _j * _d, true, _gemm);
        SumRows(_dH1, rows, _h1, G(_f1b));
        TrainingGemm.Multiply<T>(false, false, rows, _j * _d, _h1, _dH1, _h1, P(_f1w), _j * _d, _dDecIn, _j * _d, false, _gemm);

        for (int g = 0; g < count; g++)
        {
            var imageLabels = labels.Slice(g * targets, targets);
            var lengths = Lengths(g);
            totals.MarginLoss += double.CreateTruncating(MarginLoss.Forward(lengths, imageLabels, lossScale, _dLengths));
            if (Recognised(lengths, imageLabels)) totals.Correct++;
            var v = Capsules(g);
            MarginLoss.LengthsBackward<T>(v, lengths, _dLengths, _j, _d, _dv);
            // Each row's decoder saw only its own class's capsule (the mask is constant).
            for (int t = 0; t < targets; t++)
            {
                int label = imageLabels[t], row = g * targets + t;
                VectorMath.Add<T>(_dDecIn.AsSpan(row * _j * _d + label * _d, _d), _dv.AsSpan(label * _d, _d));
            }
            var uHat = _uHat.AsSpan(g * _n * _j * _d, _n * _j * _d);
            RoutingLayer.Backward<T>(uHat, _coupling.AsSpan(g * _r * _n * _j, _r * _n * _j), _s.AsSpan(g * _r * _j * _d, _r * _j * _d),
                _v.AsSpan(g * _r * _j * _d, _r * _j * _d), _dv, _n, _j, _d, _r, _dUHat.AsSpan(g * _n * _j * _d, _n * _j * _d),
                _dLogits, _dLogitsNext, _dvR, _dsR, _dc);
        }
        // û backward for the whole group at once: dW_ij is read and written once per group, not once per image.
        CapsuleTransformLayer.Backward<T>(_u, P(_wd), _dUHat, count, _n, _j, _d, _dp, G(_wd), _du);
        for (int g = 0; g < count; g++)
        {
            SquashLayer.Backward<T>(_sRaw.AsSpan(g * _n * _dp, _n * _dp), _du.AsSpan(g * _n * _dp, _n * _dp), _n, _dp, _dsRaw);
            Regroup(_dz2.AsSpan(g * _p2 * _c2, _p2 * _c2), _dsRaw, toCapsules: false);
        }
        // Primary conv backward: dW2ᵀ += patches2ᵀ·dZ2 (A = conv1's ReLU output as patches, mostly zeros: the GEMM steps
        // over its zero steps, which dW2 = dZ2ᵀ·patches2 could not), then dA1 through conv1's ReLU: only where it was
        // positive (MaskedInputGradient), or densely as dPatches = dZ2·W2 (into the patches buffer, no longer needed),
        // col2im, mask.
        int rows2 = count * _p2, rows1 = count * _p1;
        TrainingGemm.Multiply<T>(true, false, _k2, _c2, rows2, _patches2, _k2, _dz2, _c2, _dw2T, _c2, true, _gemm);
        _dw2TPending = true;
        SumRows(_dz2, rows2, _c2, G(_b2));
        if (MaskedPrimaryInputGradient
            && MaskedInputGradient.ListLiveChannels<T>(_a1, rows1, _c1, _liveChannels) <= MaskedLiveShareLimit * rows1 * _c1)
        {
            MaskedInputGradient.Compute<T>(count, a.Conv1OutSize, _c1, a.PrimaryKernel, a.PrimaryStride, a.PrimaryGridSize, _c2,
                _dz2, _packedW2, _liveChannels, _da1, _maskedWeightRows);
            MaskedGroups++;
        }
        else
        {
            TrainingGemm.Multiply<T>(false, false, rows2, _k2, _c2, _dz2, _c2, P(_w2), _k2, _patches2, _k2, false, _gemm);
            for (int g = 0; g < count; g++)
                Patches.ToHwc<T>(_patches2.AsSpan(g * _p2 * _k2, _p2 * _k2), _c1, a.Conv1OutSize, a.Conv1OutSize, a.PrimaryKernel, a.PrimaryStride,
                    _da1.AsSpan(g * _p1 * _c1, _p1 * _c1));
            ReluBackward(_a1.AsSpan(0, rows1 * _c1), _da1);
        }
        TrainingGemm.Multiply<T>(true, false, _c1, _k1, rows1, _da1, _c1, _patches1, _k1, G(_w1), _k1, true, _gemm);
        SumRows(_da1, rows1, _c1, G(_b1));
        if (foldPrimaryWeightGradient) FoldPrimaryWeightGradient();
        return totals;
    }

    /// <summary>
    /// Adds the primary-conv weight gradient summed since the last fold (dW2ᵀ, [K2][C2]) into <see cref="Gradients"/>
    /// ([C2][K2]) and clears that sum; a no-op when nothing is pending.
    /// </summary>
    public void FoldPrimaryWeightGradient()
    {
        if (!_dw2TPending) return;
        var g = G(_w2);
        const int Block = 64; // tiles of 64 × 64, so both the strided reads and the writes stay in cache
        for (int k0 = 0; k0 < _k2; k0 += Block)
            for (int c0 = 0; c0 < _c2; c0 += Block)
            {
                int kEnd = Math.Min(k0 + Block, _k2), cEnd = Math.Min(c0 + Block, _c2);
                for (int c = c0; c < cEnd; c++)
                {
                    var row = g.Slice(c * _k2, _k2);
                    for (int k = k0; k < kEnd; k++) row[k] += _dw2T[k * _c2 + c];
                }
            }
        Array.Clear(_dw2T);
        _dw2TPending = false;
    }

    /// <summary>Conv output [pos][type·Dp + dim] ↔ capsules [type·P + pos][dim] (capsule index is type-major).</summary>
    private void Regroup(Span<T> conv, Span<T> capsules, bool toCapsules)
    {
        for (int pos = 0; pos < _p2; pos++)
            for (int type = 0; type < _a.PrimaryTypes; type++)
            {
                var c = conv.Slice(pos * _c2 + type * _dp, _dp);
                var u = capsules.Slice((type * _p2 + pos) * _dp, _dp);
                if (toCapsules) c.CopyTo(u); else u.CopyTo(c);
            }
    }

    private static void AddBiasRelu(Span<T> rows, ReadOnlySpan<T> bias, bool relu)
    {
        int n = bias.Length;
        for (int start = 0; start < rows.Length; start += n)
        {
            var row = rows.Slice(start, n);
            VectorMath.Add(bias, row);
            if (relu) for (int k = 0; k < n; k++) row[k] = T.Max(row[k], T.Zero);
        }
    }

    /// <summary>dZ = dA where the ReLU output is positive, else 0.</summary>
    private static void ReluBackward(ReadOnlySpan<T> activations, Span<T> gradient)
    {
        for (int k = 0; k < activations.Length; k++)
            if (!(activations[k] > T.Zero)) gradient[k] = T.Zero;
    }

    /// <summary>bias gradient += Σ over rows.</summary>
    private static void SumRows(ReadOnlySpan<T> matrix, int rows, int cols, Span<T> sum)
    {
        for (int r = 0; r < rows; r++) VectorMath.Add(matrix.Slice(r * cols, cols), sum);
    }
}
