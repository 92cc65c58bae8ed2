using CapsEmbedded.Generator.Model;
using static CapsEmbedded.Generator.ModelSections;

namespace CapsEmbedded.Generator
{
    /// <summary>
    /// Writes the C# of an int8-quantised model (a file that QuantizedHeaderValidator accepted): <c>{Class}.Model.g.cs</c>
    /// with the float model's public surface (Weights, Workspace, Predict, Predict over a BatchContext, PredictBatch,
    /// Reconstruct, Session), whose conv1 → primary-capsule path runs on the int8 kernels (u7 codes, <c>QuantizedGemm</c>'s
    /// exact int32 sums, × s_a·s_w + bias) with every shape a constant; the sizes are in <c>{Class}.Constants.g.cs</c>. The
    /// weights are packed by the runtime's <c>QuantizedCapsNet</c>, and the layers call its kernels in its order on the same
    /// scratch layout, so the generated model returns its bits.
    /// </summary>
    internal static class Int8Emitter
    {
        /// <summary>The model file of <paramref name="spec"/>, an int8 file of architecture <paramref name="a"/>.</summary>
        public static string EmitModel(ModelSpec spec, CapsNetArchitecture a)
        {
            string model = spec.Target.ClassName;
            var w = OpenModelFile(spec, $$"""
                The int8-quantised CapsNet of <c>{{Escape(spec.Weights.FileName)}}</c> as fixed-shape code: conv1 in float32, its ReLU
                output as u7 codes, the primary-capsule conv as exact int32 sums on the int8 kernels, then squash, routing and
                lengths in float32. Thread-safe: one <see cref="Weights"/>, one <see cref="Workspace"/> per thread.
                """, "System", "System.Collections.Generic", "CapsEmbedded.Kernels", "CapsEmbedded.Kernels.Int8", "CapsEmbedded.Quantization",
                "CapsEmbedded.Runtime");
            w.Write("// ---- Quantisation ------------------------------------------------------------------------------");
            w.Line();
            Const(w, "string", "QuantizationScheme", Quote(global::CapsEmbedded.Quantization.QuantizedHeaderValidator.Scheme),
                "The file's capsnet.quantization: int8 weights per output channel, u7 activations.");
            Scratch(w, "// ---- Scratch (floats, each region 64-byte aligned; bytes and int32 sums reinterpret theirs) -----",
                global::CapsEmbedded.Runtime.ScratchLayout.Int8(a));
            w.Write($$"""
                // ---- API ----------------------------------------------------------------------------------------

                /// <summary>The int8 tier the primary-capsule conv uses on this machine.</summary>
                public static Int8Tier ActiveInt8Tier => Int8Tiers.Best;

                /// <summary>
                /// The model's weights, packed once by <see cref="QuantizedCapsNet"/> (float tensors for the float kernels, the
                /// primary conv's int8 weight for QuantizedGemm) in aligned native memory. Immutable once built: share one instance.
                /// </summary>
                public sealed class Weights : ModelWeights<QuantizedCapsNet>
                {
                    private static Weights? s_embedded;

                    private Weights(QuantizedCapsNet packed, IReadOnlyList<string> classNames) : base(packed, classNames)
                    {
                    }

                    /// <summary>The quantised file embedded in this assembly, validated (values included) and packed at first use.</summary>
                    public static Weights Embedded => Once(ref s_embedded, static () => FromWeights(
                        QuantizedWeightsFile.ReadEmbedded(typeof(Weights).Assembly, WeightsResourceName, WeightsFileLength), WeightsResourceName));

                    /// <summary>
                    /// Reads a quantised weight file of this model's architecture and packs it. Throws
                    /// <see cref="global::CapsEmbedded.Weights.WeightFormatException"/> naming the problem (a float file, another
                    /// architecture, a bad value).
                    /// </summary>
                    public static Weights Load(string path) => FromWeights(QuantizedWeightsFile.Load(path), path);

                    /// <summary>Packs quantised weights held in managed arrays; their architecture must be this model's.</summary>
                    public static Weights FromWeights(QuantizedCapsNetWeights weights, string? source = null)
                    {
                        ArgumentNullException.ThrowIfNull(weights);
                        PackedCapsNetWeights.ThrowIfArchitectureDiffers(weights.Architecture, Architecture, source ?? "weights");
                        return new Weights(QuantizedCapsNet.Create(weights), weights.Weights.ClassNames);
                    }
                }

                """);
            Workspace(w);
            PredictOverloads(w, """
                Classifies one image with the best float and int8 tiers: fills <paramref name="lengths"/> with |v_j| and returns
                the longest capsule's class. <paramref name="capsules"/> (classes·classDims) and <paramref name="reconstruction"/>
                are written only when non-empty. Allocation-free.
                """, "Workspace", "workspace", int8: true, """
                    CheckPredict(weights, image, lengths, capsules, reconstruction, tier, int8Tier);
                    ArgumentNullException.ThrowIfNull(workspace);
                    return Forward(weights.Packed, workspace.Scratch, image, lengths, capsules, reconstruction, tier, int8Tier);
                """);
            PredictOverloads(w, """
                Classifies one image with its work split over the context's workers (conv1 and its u7 codes by pixel rows, the
                int8 primary conv by grid positions, squash and û by capsules; routing on the caller): the same bits for any
                worker count. Allocation-free; one call at a time per context.
                """, "BatchContext", "context", int8: true, """
                    ModelArguments.CheckContext(context, ScratchLength);
                    CheckPredict(weights, image, lengths, capsules, reconstruction, tier, int8Tier);
                    context.RunParts(s_conv1Part, weights.Packed, image, tier, int8Tier);
                    context.RunParts(s_primaryConvPart, weights.Packed, image, tier, int8Tier);
                    context.RunParts(s_capsulesPart, weights.Packed, image, tier, int8Tier);
                    return DigitCapsules.Finish(Regions.Layout, context.ImageScratch, weights.Packed.Decoder, lengths, capsules,
                        reconstruction, tier);
                """);
            PredictBatch(w, "QuantizedCapsNet", int8: true);
            w.Write("""
                /// <summary>
                /// The decoder alone (paper §4.1, float32 on <paramref name="tier"/>) on <paramref name="capsules"/> with every
                /// capsule but <paramref name="keep"/> zeroed. Allocation-free.
                /// </summary>
                public static void Reconstruct(Weights weights, Workspace workspace, ReadOnlySpan<float> capsules, int keep,
                    Span<float> reconstruction, SimdTier tier)
                {
                    ArgumentNullException.ThrowIfNull(weights);
                    ArgumentNullException.ThrowIfNull(workspace);
                    DigitCapsules.Reconstruct(Regions.Layout, workspace.Scratch, weights.Packed.Decoder, capsules, keep, reconstruction, tier);
                }

                // The split Predict's layer parts, cached once so a call allocates no delegate.
                private static readonly ImagePartRunner<QuantizedCapsNet> s_conv1Part = Layers.Conv1;
                private static readonly ImagePartRunner<QuantizedCapsNet> s_primaryConvPart = Layers.PrimaryConv;
                private static readonly ImagePartRunner<QuantizedCapsNet> s_capsulesPart = Layers.Capsules;

                /// <summary>
                /// The forward pass for one image on one thread, the caller having checked the spans and the tiers: each part
                /// taken whole (part 0 of 1), so the same arithmetic as the split Predict and as QuantizedCapsNet.
                /// </summary>
                private static int Forward(QuantizedCapsNet weights, Span<float> scratch, ReadOnlySpan<float> image, Span<float> lengths,
                    Span<float> capsules, Span<float> reconstruction, SimdTier tier, Int8Tier int8Tier)
                {
                    Layers.Conv1(weights, scratch, image, 0, 1, tier, int8Tier);
                    Layers.PrimaryConv(weights, scratch, image, 0, 1, tier, int8Tier);
                    Layers.Capsules(weights, scratch, image, 0, 1, tier, int8Tier);
                    return DigitCapsules.Finish(Regions.Layout, scratch, weights.Decoder, lengths, capsules, reconstruction, tier);
                }

                private static void CheckPredict(Weights weights, ReadOnlySpan<float> image, Span<float> lengths, Span<float> capsules,
                    Span<float> reconstruction, SimdTier tier, Int8Tier int8Tier)
                {
                    ArgumentNullException.ThrowIfNull(weights);
                    ModelArguments.CheckTier(tier);
                    Int8Tiers.ThrowIfUnsupported(int8Tier);
                    ModelArguments.CheckImage(Architecture, image, lengths, capsules, reconstruction);
                }

                """);
            Session(w, model, int8: true);
            RegionsHolder(w, int8: true);
            w.Write($$"""
                /// <summary>
                /// The layers before routing, one method each, every size a constant: each takes a part of <c>parts</c>
                /// (<c>BatchContext.RunParts</c>) and computes only its share of independent outputs.
                /// </summary>
                {{GeneratedCode}}
                internal static class Layers
                {
                    /// <summary>
                    /// conv1 in float32: [{{a.InputChannels}}x{{a.InputSize}}x{{a.InputSize}}] → im2col · W^T + b, ReLU → [{{a.Conv1OutSize * a.Conv1OutSize}} pixels x {{a.Conv1Channels}}], then its
                    /// u7 codes; {{Grouped(a.LayerCosts[0].MultiplyAdds)}} multiply-adds. This part's pixel rows, cut at PackedGemm.RowGranule.
                    /// </summary>
                    internal static void Conv1(QuantizedCapsNet weights, Span<float> scratch, ReadOnlySpan<float> image, int part, int parts,
                        SimdTier tier, Int8Tier int8Tier)
                    {
                        var (first, end) = BatchContext.PartRange(Conv1Pixels, PackedGemm.RowGranule, part, parts);
                        int rows = end - first;
                        if (rows == 0) return;
                        Span<float> conv1 = scratch.Slice(ScratchConv1Offset + first * Conv1Channels, rows * Conv1Channels);
                        Im2Col.Run(image, InputChannels, InputSize, InputSize, Conv1Kernel, Conv1Stride,
                            scratch.Slice(ScratchPatchesOffset, Conv1Pixels * Conv1PatchLength), first, rows);
                        PackedGemm.Multiply(scratch.Slice(ScratchPatchesOffset + first * Conv1PatchLength, rows * Conv1PatchLength), rows,
                            Conv1PatchLength, weights.PackedConv1Weight, Conv1Channels, weights.Conv1Bias, Activation.Relu, conv1, tier);
                        QuantizeU7.Run(conv1, 1f / weights.PrimaryInputScale,
                            Regions.Layout.Codes!.Bytes(scratch, Conv1Pixels * Conv1Channels).Slice(first * Conv1Channels));
                    }

                    /// <summary>
                    /// Primary conv {{a.Conv1Channels}}→{{a.PrimaryChannels}} {{a.PrimaryKernel}}x{{a.PrimaryKernel}}/{{a.PrimaryStride}} in int8: byte im2col of the u7 codes, exact int32 sums,
                    /// × s_a·s_w[n] + bias[n]; {{Grouped(a.LayerCosts[1].MultiplyAdds)}} multiply-adds. This part's grid positions (rows of the int8 GEMM).
                    /// </summary>
                    internal static void PrimaryConv(QuantizedCapsNet weights, Span<float> scratch, ReadOnlySpan<float> image, int part,
                        int parts, SimdTier tier, Int8Tier int8Tier)
                    {
                        var (first, end) = BatchContext.PartRange(PrimaryPositions, 1, part, parts);
                        if (end == first) return;
                        Span<byte> patches = Regions.Layout.CodePatches!.Bytes(scratch, PrimaryPositions * PrimaryPatchLength);
                        Span<int> sums = Regions.Layout.Accumulators!.Ints(scratch);
                        Im2Col.RunChannelsLast<byte>(Regions.Layout.Codes!.Bytes(scratch, Conv1Pixels * Conv1Channels), Conv1Channels,
                            Conv1OutSize, Conv1OutSize, PrimaryKernel, PrimaryStride, patches, first, end - first);
                        QuantizedGemm.Multiply(patches, PrimaryPositions, PrimaryPatchLength, weights.PackedPrimaryWeight, PrimaryChannels,
                            sums, first, end, int8Tier);
                        Dequantise.Run(sums.Slice(first * PrimaryChannels, (end - first) * PrimaryChannels), end - first, PrimaryChannels,
                            weights.PrimaryMultiplier, weights.PrimaryBias,
                            scratch.Slice(ScratchPrimaryConvOffset + first * PrimaryChannels, (end - first) * PrimaryChannels));
                    }

                    /// <summary>
                    /// This part's capsules: regrouped from the primary conv's channels and squashed (eq. 1), then their predictions
                    /// û_{j|i} = W_ij u_i (eq. 2) [{{a.PrimaryCapsules}} x {{a.Classes}} x {{a.ClassDims}}]; {{Grouped(a.LayerCosts[2].MultiplyAdds)}} multiply-adds.
                    /// </summary>
                    internal static void Capsules(QuantizedCapsNet weights, Span<float> scratch, ReadOnlySpan<float> image, int part,
                        int parts, SimdTier tier, Int8Tier int8Tier)
                    {
                        var (first, end) = BatchContext.PartRange(PrimaryCapsules, 8, part, parts);
                        int count = end - first, predictions = Classes * ClassDims;
                        Span<float> primary = scratch.Slice(ScratchPrimaryOffset + first * PrimaryDims, count * PrimaryDims);
                        PrimaryCapsuleLayout.RegroupAndSquash(scratch.Slice(ScratchPrimaryConvOffset, PrimaryPositions * PrimaryChannels),
                            PrimaryPositions, PrimaryDims, first, end, primary, tier);
                        Span<float> uHat = scratch.Slice(ScratchUHatOffset + first * predictions, count * predictions);
                        weights.Transform(primary, first, count, uHat, tier); // W in the precision the model holds it
                    }
                }
                """);
            w.Close();
            CloseNamespace(w, spec);
            return w.ToString();
        }
    }
}
