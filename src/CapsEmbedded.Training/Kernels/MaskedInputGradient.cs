using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CapsEmbedded.Kernels;

namespace CapsEmbedded.Training.Kernels;

/// <summary>
/// The primary conv's input gradient, computed only where conv1's ReLU lets it through:
/// dA1[g][y][x][c] = Σ over (oy, ox, ky, kx) with y = oy·s + ky, x = ox·s + kx of dZ2[g][oy][ox][·] · W2[·][ky][kx][c]
/// where A1[g][y][x][c] &gt; 0, and 0 elsewhere. That is col2im(dZ2·W2) followed by the ReLU's backward pass (the dense
/// path: one GEMM, <see cref="Layers.Patches.ToHwc"/>, the mask), without the products the mask throws away; with trained
/// MNIST weights 85–87 % of conv1's outputs are zero (their biases keep every pixel partly alive, so whole GEMM tiles
/// are almost never zero and the skipping has to happen per value).
/// </summary>
/// <remarks>
/// Each kept value is a sum of dot products over the C2 output channels: a row of dZ2 with a row of W2ᵀ, taken
/// from the weight the forward GEMM packed (<see cref="TrainingGemm.PackB{T}(bool, ReadOnlySpan{T}, int, int, int, Span{T})"/>
/// of W2 transposed; <see cref="TrainingGemm.PackedRow{T}"/> says where a row lies). First, each pixel's positive
/// channels are listed once (<see cref="ListLiveChannels{T}"/>; every list serves all the patches that read the pixel).
/// Loop order: kernel offset (ky, kx), whose W2ᵀ rows are first copied out of the packing into contiguous rows (in the
/// packing a row's pieces lie one k block apart, 16 KB in the paper network, so they all fall into one L1 set) and then
/// reused by every position of every image of the group; then each position, whose dZ2 row is dotted with the rows of
/// the channels listed for the pixel it reads there, four rows at a time so that the loads of the dZ2 row are shared
/// and eight sums are in flight. Sums run in a fixed order, so the result is deterministic; it differs from the dense
/// path's only in rounding (another order). Timings against the dense path: bench/RESULTS-training.md.
/// </remarks>
public static class MaskedInputGradient
{
    /// <summary>Whether the kernel takes C2 output channels (those that the packed weight holds in one column block).</summary>
    public static bool Supports(int outputChannels) => outputChannels > 0 && outputChannels <= TrainingGemm.BlockN;

    /// <summary>
    /// The largest share of positive activations for which this kernel is used rather than the dense path: the dense
    /// path's time does not depend on the share, this kernel's grows with it, and they meet near 50 % (the measurements
    /// are in bench/RESULTS-training.md).
    /// </summary>
    public const double MaxLiveShare = 0.45;

    /// <summary>Length of the live-channel lists: one list of up to C1 channels and its count per pixel.</summary>
    public static long ListLength(int pixels, int channels) => (long)pixels * (channels + 1);

    /// <summary>
    /// Lists, for each of <paramref name="pixels"/> pixels of <paramref name="activations"/> [pixel][channels], the
    /// channels that are positive (list [pixel][channels], counts after all lists), for <see cref="Compute{T}"/>; returns
    /// how many there are in all. Every pixel's list serves each of the ~(k/s)² patches that read it.
    /// </summary>
    public static long ListLiveChannels<T>(ReadOnlySpan<T> activations, int pixels, int channels, Span<int> lists)
        where T : unmanaged, INumberBase<T>, IComparisonOperators<T, T, bool>
    {
        if (pixels < 0 || channels < 1) throw new ArgumentOutOfRangeException(nameof(pixels), $"bad shape: {pixels} pixels of {channels} channels");
        if (activations.Length < (long)pixels * channels) throw new ArgumentException($"activations has {activations.Length} values, needs {(long)pixels * channels}", nameof(activations));
        if (lists.Length < ListLength(pixels, channels)) throw new ArgumentException($"lists has {lists.Length} values, needs {ListLength(pixels, channels)}", nameof(lists));
        var counts = lists.Slice(pixels * channels, pixels);
        long total = 0;
        for (int pixel = 0; pixel < pixels; pixel++)
        {
            var a = activations.Slice(pixel * channels, channels);
            var list = lists.Slice(pixel * channels, channels);
            int live = 0;
            for (int c = 0; c < channels; c++)
            {
                list[live] = c; // branch-free: every channel is written, the count moves past the positive ones
                live += a[c] > T.Zero ? 1 : 0;
            }
            counts[pixel] = live;
            total += live;
        }
        return total;
    }

    /// <summary>
    /// Overwrites <paramref name="gradient"/> [images][inputSize²][channels] with dA1 from <paramref name="outputGradient"/>
    /// dZ2 [images][gridSize²][outputChannels], the packed W2ᵀ and <paramref name="liveChannels"/>, the lists
    /// <see cref="ListLiveChannels{T}"/> made of conv1's ReLU output (images·inputSize² pixels).
    /// <paramref name="weightRows"/>: scratch for one kernel offset's W2ᵀ rows, channels·outputChannels values.
    /// </summary>
    public static void Compute<T>(int images, int inputSize, int channels, int kernel, int stride, int gridSize, int outputChannels,
        ReadOnlySpan<T> outputGradient, ReadOnlySpan<T> packedWeight, ReadOnlySpan<int> liveChannels, Span<T> gradient, Span<T> weightRows)
        where T : unmanaged, INumberBase<T>
    {
        if (images < 0 || inputSize < 1 || channels < 1 || kernel < 1 || stride < 1 || gridSize < 1)
            throw new ArgumentOutOfRangeException(nameof(images), $"bad geometry: images {images}, input {inputSize}, channels {channels}, kernel {kernel}, stride {stride}, grid {gridSize}");
        if (!Supports(outputChannels))
            throw new ArgumentOutOfRangeException(nameof(outputChannels), outputChannels, $"output channels must be 1..{TrainingGemm.BlockN}");
        if ((gridSize - 1) * stride + kernel > inputSize)
            throw new ArgumentException($"a {gridSize}x{gridSize} grid of {kernel}x{kernel} patches at stride {stride} does not fit a {inputSize}x{inputSize} input");
        int p1 = inputSize * inputSize, p2 = gridSize * gridSize, k2 = kernel * kernel * channels;
        long inputLength = (long)images * p1 * channels;
        if (outputGradient.Length < (long)images * p2 * outputChannels) throw new ArgumentException($"output gradient has {outputGradient.Length} values, needs {(long)images * p2 * outputChannels}", nameof(outputGradient));
        if (packedWeight.Length < TrainingGemm.PackedLength<T>(outputChannels, k2)) throw new ArgumentException($"packed weight has {packedWeight.Length} values, needs {TrainingGemm.PackedLength<T>(outputChannels, k2)}", nameof(packedWeight));
        if (liveChannels.Length < ListLength(images * p1, channels)) throw new ArgumentException($"live-channel lists have {liveChannels.Length} values, need {ListLength(images * p1, channels)}", nameof(liveChannels));
        if (gradient.Length < inputLength) throw new ArgumentException($"gradient has {gradient.Length} values, needs {inputLength}", nameof(gradient));
        if (weightRows.Length < channels * outputChannels) throw new ArgumentException($"weight rows has {weightRows.Length} values, needs {channels * outputChannels}", nameof(weightRows));
        var lists = liveChannels.Slice(0, (int)inputLength);
        var counts = liveChannels.Slice((int)inputLength, images * p1);
        // The lists index W2ᵀ and the gradient unchecked below: every count and listed channel is checked here first.
        for (int pixel = 0; pixel < counts.Length; pixel++)
        {
            int count = counts[pixel];
            if ((uint)count > (uint)channels) throw new ArgumentException($"a live-channel count of {count} for {channels} channels (lists not made by ListLiveChannels?)", nameof(liveChannels));
            foreach (int channel in lists.Slice(pixel * channels, count))
                if ((uint)channel >= (uint)channels) throw new ArgumentException($"a live channel {channel} of {channels} (lists not made by ListLiveChannels?)", nameof(liveChannels));
        }

        gradient.Slice(0, (int)inputLength).Clear();
        ref T dz = ref MemoryMarshal.GetReference(outputGradient);
        ref T da = ref MemoryMarshal.GetReference(gradient);
        ref T rows = ref MemoryMarshal.GetReference(weightRows);
        ref int listBase = ref MemoryMarshal.GetReference(lists);
        int width = Vector<T>.Count, nr = 2 * width, vectors = outputChannels / width;
        for (int ky = 0; ky < kernel; ky++)
            for (int kx = 0; kx < kernel; kx++)
            {
                // This kernel offset's W2ᵀ rows (ky, kx, c), copied out of the packing into rows of their own: in the
                // packing a row's 2-vector pieces lie one k block apart (16 KB in the paper network), all in one L1 set.
                int firstRow = (ky * kernel + kx) * channels;
                for (int c = 0; c < channels; c++)
                {
                    var (start, panelStride) = TrainingGemm.PackedRow<T>(outputChannels, k2, firstRow + c);
                    var row = weightRows.Slice(c * outputChannels, outputChannels);
                    for (int o = 0; o < outputChannels; o += nr)
                        packedWeight.Slice(start + o / nr * panelStride, Math.Min(nr, outputChannels - o)).CopyTo(row.Slice(o));
                }
                for (int g = 0; g < images; g++)
                    for (int oy = 0; oy < gridSize; oy++)
                        for (int ox = 0; ox < gridSize; ox++)
                        {
                            int pixel = g * p1 + (oy * stride + ky) * inputSize + ox * stride + kx;
                            int live = counts[pixel];
                            if (live == 0) continue;
                            ref T x = ref Unsafe.Add(ref dz, (g * p2 + oy * gridSize + ox) * outputChannels);
                            ref int list = ref Unsafe.Add(ref listBase, pixel * channels);
                            ref T daPixel = ref Unsafe.Add(ref da, pixel * channels);
                            int last = live - 1;
                            for (int i = 0; i < live; i += 4) // four rows against one dZ2 row: the loads of x shared, four sums in flight
                            {
                                // The last four may be one to three: the missing rows repeat the last one and are not written.
                                int c0 = Unsafe.Add(ref list, i), c1 = Unsafe.Add(ref list, Math.Min(i + 1, last)),
                                    c2 = Unsafe.Add(ref list, Math.Min(i + 2, last)), c3 = Unsafe.Add(ref list, Math.Min(i + 3, last));
                                Dot4(ref x, ref rows, (nint)c0 * outputChannels, (nint)c1 * outputChannels, (nint)c2 * outputChannels, (nint)c3 * outputChannels,
                                    vectors, out T d0, out T d1, out T d2, out T d3);
                                for (int o = vectors * width; o < outputChannels; o++) // the columns past the last whole vector
                                {
                                    T xo = Unsafe.Add(ref x, o);
                                    d0 += xo * Unsafe.Add(ref rows, c0 * outputChannels + o);
                                    d1 += xo * Unsafe.Add(ref rows, c1 * outputChannels + o);
                                    d2 += xo * Unsafe.Add(ref rows, c2 * outputChannels + o);
                                    d3 += xo * Unsafe.Add(ref rows, c3 * outputChannels + o);
                                }
                                Unsafe.Add(ref daPixel, c0) += d0;
                                if (i + 1 < live) Unsafe.Add(ref daPixel, c1) += d1;
                                if (i + 2 < live) Unsafe.Add(ref daPixel, c2) += d2;
                                if (i + 3 < live) Unsafe.Add(ref daPixel, c3) += d3;
                            }
                        }
            }
    }

    /// <summary>
    /// Four dot products of x[0..vectors·width) with four rows at <paramref name="rows"/> + <paramref name="o0"/>… (one
    /// pointer moves, the four offsets stay in registers: each step loads x once and runs four FMAs reading W from memory).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4<T>(ref T x, ref T rows, nint o0, nint o1, nint o2, nint o3, int vectors,
        out T d0, out T d1, out T d2, out T d3) where T : unmanaged, INumberBase<T>
    {
        nint width = Vector<T>.Count;
        Vector<T> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, e0 = default, e1 = default;
        ref T xp = ref x, w = ref rows;
        int v = 0;
        for (; v + 1 < vectors; v += 2) // two vectors a step: eight independent sums
        {
            var x0 = Load(ref xp);
            var x1 = Load(ref Unsafe.Add(ref xp, width));
            a0 = VectorMath.MultiplyAdd(x0, Load(ref Unsafe.Add(ref w, o0)), a0); a1 = VectorMath.MultiplyAdd(x1, Load(ref Unsafe.Add(ref w, o0 + width)), a1);
            b0 = VectorMath.MultiplyAdd(x0, Load(ref Unsafe.Add(ref w, o1)), b0); b1 = VectorMath.MultiplyAdd(x1, Load(ref Unsafe.Add(ref w, o1 + width)), b1);
            c0 = VectorMath.MultiplyAdd(x0, Load(ref Unsafe.Add(ref w, o2)), c0); c1 = VectorMath.MultiplyAdd(x1, Load(ref Unsafe.Add(ref w, o2 + width)), c1);
            e0 = VectorMath.MultiplyAdd(x0, Load(ref Unsafe.Add(ref w, o3)), e0); e1 = VectorMath.MultiplyAdd(x1, Load(ref Unsafe.Add(ref w, o3 + width)), e1);
            xp = ref Unsafe.Add(ref xp, 2 * width);
            w = ref Unsafe.Add(ref w, 2 * width);
        }
        if (v < vectors)
        {
            var x0 = Load(ref xp);
            a0 = VectorMath.MultiplyAdd(x0, Load(ref Unsafe.Add(ref w, o0)), a0);
            b0 = VectorMath.MultiplyAdd(x0, Load(ref Unsafe.Add(ref w, o1)), b0);
            c0 = VectorMath.MultiplyAdd(x0, Load(ref Unsafe.Add(ref w, o2)), c0);
            e0 = VectorMath.MultiplyAdd(x0, Load(ref Unsafe.Add(ref w, o3)), e0);
        }
        d0 = Vector.Sum(a0 + a1); d1 = Vector.Sum(b0 + b1); d2 = Vector.Sum(c0 + c1); d3 = Vector.Sum(e0 + e1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Load<T>(ref T at) where T : unmanaged, INumberBase<T> => Unsafe.ReadUnaligned<Vector<T>>(ref Unsafe.As<T, byte>(ref at));
}
