using System;
using System.Collections.Generic;
using System.Globalization;
using CapsEmbedded.Generator.Model;
using static CapsEmbedded.Generator.ModelSections;

namespace CapsEmbedded.Generator
{
    /// <summary>
    /// Writes the C# of one float model from its <see cref="ModelSpec"/>: <c>{Class}.Model.g.cs</c> (sizes, weight-file
    /// offsets, scratch layout, weights, workspace, Predict, PredictBatch, Session) and <c>{Class}.Layers.g.cs</c> (the
    /// forward pass, one method per layer, every loop bound a constant). An int8 file goes to <see cref="Int8Emitter"/>.
    /// What does not depend on the shape (argmax, mask, decoder, regrouping, argument checks) is runtime code it calls.
    /// </summary>
    internal static class Emitter
    {
        public static IEnumerable<(string HintName, string Source)> Emit(ModelSpec spec)
        {
            if (spec.Weights.Efficient is not null)
            {
                yield return (HintPrefix(spec) + ".Model.g.cs", EfficientEmitter.EmitModel(spec));
                yield break;
            }
            yield return (HintPrefix(spec) + ".Constants.g.cs", ConstantsFile(spec));
            if (spec.Weights.IsQuantized)
            {
                yield return (HintPrefix(spec) + ".Model.g.cs", Int8Emitter.EmitModel(spec, spec.Weights.Architecture!));
                yield break;
            }
            yield return (HintPrefix(spec) + ".Model.g.cs", EmitModel(spec));
            yield return (HintPrefix(spec) + ".Layers.g.cs", EmitLayers(spec));
        }

        private static string EmitModel(ModelSpec spec)
        {
            var a = spec.Weights.Architecture!;
            var h = spec.Weights;
            string model = spec.Target.ClassName;
            var w = OpenModelFile(spec, $$"""
                The CapsNet of <c>{{Escape(h.FileName)}}</c> as fixed-shape code: every size is a constant and the weights are
                packed once for the SIMD kernels. Thread-safe: one <see cref="Weights"/>, one <see cref="Workspace"/> per thread.
                """, "System", "System.Collections.Generic", "CapsEmbedded.Kernels", "CapsEmbedded.Kernels.Int8",
                "CapsEmbedded.Runtime");
            w.Write("// ---- Weight file: where each tensor lies ------------------------------------------------------");
            w.Line();
            Const(w, "long", "WeightsDataOffset", N(8 + h.HeaderLength), "Start of the tensor data: 8-byte length prefix + JSON header.");
            var byName = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
            foreach (var t in h.Tensors) byName[t.Name] = t;
            var begins = new List<string>();
            var dtypes = new List<string>();
            foreach (var tensor in a.Tensors)
            {
                var t = byName[tensor.Name];
                string name = PascalName(t.Name);
                Const(w, "long", name + "FileOffset", N(8 + h.HeaderLength + t.Begin), $"{t.Name} {tensor.ShapeText}: byte offset in the weight file.");
                Const(w, "int", name + "Length", N(tensor.ElementCount), $"{t.Name} {tensor.ShapeText}: element count.");
                begins.Add(N(t.Begin));
                dtypes.Add(Quote(t.DType));
            }
            w.Write($$"""

                /// <summary>Byte offset of each tensor in the data area, in <see cref="CapsNetArchitecture.Tensors"/> order.</summary>
                private static ReadOnlySpan<long> TensorDataOffsets => new long[]
                {
                {{Rows(begins)}}
                };

                /// <summary>Each tensor's dtype in the file (F16 and BF16 are widened to float32 when packed), in the same order.</summary>
                private static string[] TensorDataTypes => new string[]
                {
                {{Rows(dtypes)}}
                };

                """);
            Scratch(w, "// ---- Scratch (floats, each region 64-byte aligned) ---------------------------------------------",
                global::CapsEmbedded.Runtime.ScratchLayout.Float(a, InPlace(spec)));
            w.Write($$"""
                // ---- API ----------------------------------------------------------------------------------------

                /// <summary>
                /// The model's weights, packed for the kernels in one 64-byte-aligned native allocation. Immutable once built:
                /// share one instance between threads.
                /// </summary>
                public sealed class Weights : ModelWeights<PackedCapsNetWeights>
                {
                    private static Weights? s_embedded;

                    private Weights(PackedCapsNetWeights packed, IReadOnlyList<string> classNames) : base(packed, classNames)
                    {
                    }

                {{EmbeddedProperty(spec)}}

                    /// <summary>
                    /// Reads a safetensors weight file of this model's architecture and packs it. Throws
                    /// <see cref="global::CapsEmbedded.Weights.WeightFormatException"/> naming the mismatch when the file holds
                    /// another architecture.
                    /// </summary>
                    public static Weights Load(string path) => FromWeights(global::CapsEmbedded.Weights.CapsNetWeightsFile.Load(path), path);

                    /// <summary>Packs weights held in managed arrays; their architecture must be this model's.</summary>
                    public static Weights FromWeights(global::CapsEmbedded.Weights.CapsNetWeights weights, string? source = null)
                    {
                        ArgumentNullException.ThrowIfNull(weights);
                        PackedCapsNetWeights.ThrowIfArchitectureDiffers(weights.Architecture, Architecture, source ?? "weights");
                        return new Weights(PackedCapsNetWeights.Pack(weights), weights.ClassNames);
                    }
                }

                """);
            Workspace(w);
            PredictOverloads(w, """
                Classifies one image with the best SIMD tier: fills <paramref name="lengths"/> with |v_j| and returns the
                longest capsule's class. <paramref name="capsules"/> (classes·classDims) and <paramref name="reconstruction"/>
                (the decoder's output for the predicted class) are written only when non-empty. Allocation-free.
                """, "Workspace", "workspace", int8: false, """
                    ArgumentNullException.ThrowIfNull(weights);
                    ArgumentNullException.ThrowIfNull(workspace);
                    ModelArguments.CheckTier(tier);
                    ModelArguments.CheckImage(Architecture, image, lengths, capsules, reconstruction);
                    return Forward(weights.Packed, workspace.Scratch, image, lengths, capsules, reconstruction, tier);
                """);
            PredictOverloads(w, """
                Classifies one image with its work split over the context's worker threads (conv1 by pixel rows, the primary
                capsules' implicit GEMM by output-channel panels, squash and û by capsules; routing on the caller).
                Every output is summed in the same order as by the one-thread overload, so the results are the same bits for any
                worker count. Allocation-free; one call at a time per context.
                """, "BatchContext", "context", int8: false, """
                    ArgumentNullException.ThrowIfNull(weights);
                    ModelArguments.CheckContext(context, ScratchLength);
                    ModelArguments.CheckTier(tier);
                    ModelArguments.CheckImage(Architecture, image, lengths, capsules, reconstruction);
                    context.RunParts(s_conv1Part, weights.Packed, image, tier);
                    context.RunParts(s_primaryConvPart, weights.Packed, image, tier);
                    context.RunParts(s_capsulesPart, weights.Packed, image, tier);
                    return Finish(weights.Packed, context.ImageScratch, lengths, capsules, reconstruction, tier);
                """);
            w.Write("""
                // The parallel Predict's layer parts, cached once so a call allocates no delegate.
                private static readonly ImagePartRunner s_conv1Part = Layers.Conv1;
                private static readonly ImagePartRunner s_primaryConvPart = Layers.PrimaryConv;
                private static readonly ImagePartRunner s_capsulesPart = Layers.Capsules;

                /// <summary>
                /// The decoder alone (paper §4.1): reconstructs an image from <paramref name="capsules"/> (classes·classDims,
                /// class-major, e.g. from Predict, then edited) with every capsule but <paramref name="keep"/> zeroed. Allocation-free.
                /// </summary>
                public static void Reconstruct(Weights weights, Workspace workspace, ReadOnlySpan<float> capsules, int keep,
                    Span<float> reconstruction)
                    => Reconstruct(weights, workspace, capsules, keep, reconstruction, SimdTiers.Best);

                /// <summary>As the other overload, with the SIMD tier forced.</summary>
                public static void Reconstruct(Weights weights, Workspace workspace, ReadOnlySpan<float> capsules, int keep,
                    Span<float> reconstruction, SimdTier tier)
                {
                    ArgumentNullException.ThrowIfNull(weights);
                    ArgumentNullException.ThrowIfNull(workspace);
                    DigitCapsules.Reconstruct(Regions.Layout, workspace.Scratch, weights.Packed.Decoder, capsules, keep, reconstruction, tier);
                }

                """);
            PredictBatch(w, "PackedCapsNetWeights", int8: false);
            Session(w, model, int8: false);
            RegionsHolder(w, int8: false, halfWeightsInPlace: InPlace(spec));
            w.Close();
            CloseNamespace(w, spec);
            return w.ToString();
        }

        private static string EmitLayers(ModelSpec spec)
        {
            var a = spec.Weights.Architecture!;
            var costs = a.LayerCosts;
            var w = new SourceWriter();
            Header(w, spec);
            OpenNamespace(w, spec, "System", "CapsEmbedded.Kernels", "CapsEmbedded.Runtime");
            w.Open($"{spec.Target.Accessibility} static partial class {spec.Target.ClassName}");
            w.Write("""
                /// <summary>The forward pass for one image on one thread; the caller has checked the spans and the tier.</summary>
                private static int Forward(PackedCapsNetWeights weights, Span<float> scratch, ReadOnlySpan<float> image, Span<float> lengths,
                    Span<float> capsules, Span<float> reconstruction, SimdTier tier)
                {
                    // The parallel Predict's parts, each taken whole (part 0 of 1): the same arithmetic, so the same bits.
                    Layers.Conv1(weights, scratch, image, 0, 1, tier);
                    Layers.PrimaryConv(weights, scratch, image, 0, 1, tier);
                    Layers.Capsules(weights, scratch, image, 0, 1, tier);
                    return Finish(weights, scratch, lengths, capsules, reconstruction, tier);
                }

                /// <summary>After û: routing, lengths, and what the caller asked for (capsules, reconstruction); one thread.</summary>
                """);
            w.Write($$"""
                private static int Finish(PackedCapsNetWeights weights, Span<float> scratch, Span<float> lengths, Span<float> capsules,
                    Span<float> reconstruction, SimdTier tier)
                    => DigitCapsules.Finish(Regions.Layout, scratch, weights.Decoder, lengths, capsules, reconstruction, tier);

                /// <summary>
                /// The layers, one method each, reading and writing the scratch regions. The layers before routing take a part of
                /// <c>parts</c> (<c>BatchContext.RunParts</c>) and compute only their share of independent outputs.
                /// Public overloads take a <see cref="Workspace"/> so benchmarks can time a layer alone (run the layers before it first).
                /// </summary>
                {{GeneratedCode}}
                """);
            w.Open("public static class Layers");
            w.Write($$"""
                /// <summary>
                /// conv1: [{{a.InputChannels}}x{{a.InputSize}}x{{a.InputSize}}] → im2col [{{a.Conv1OutSize * a.Conv1OutSize}} x {{a.InputChannels * a.Conv1Kernel * a.Conv1Kernel}}] · W^T + b, ReLU → [{{a.Conv1OutSize * a.Conv1OutSize}} pixels x {{a.Conv1Channels}}];
                /// {{Grouped(costs[0].MultiplyAdds)}} multiply-adds.
                /// </summary>
                public static void Conv1(Weights weights, Workspace workspace, ReadOnlySpan<float> image, SimdTier tier)
                    => Conv1(weights.Packed, workspace.Scratch, image, 0, 1, tier);

                /// <summary>This part's pixel rows of conv1 (im2col rows and GEMM rows), cut at PackedGemm.RowGranule.</summary>
                internal static void Conv1(PackedCapsNetWeights weights, Span<float> scratch, ReadOnlySpan<float> image, int part, int parts,
                    SimdTier tier)
                {
                    var (first, end) = BatchContext.PartRange(Conv1Pixels, PackedGemm.RowGranule, part, parts);
                    int rows = end - first;
                    if (rows == 0) return;
                    Im2Col.Run(image, InputChannels, InputSize, InputSize, Conv1Kernel, Conv1Stride,
                        scratch.Slice(ScratchPatchesOffset, Conv1Pixels * Conv1PatchLength), first, rows);
                    PackedGemm.Multiply(scratch.Slice(ScratchPatchesOffset + first * Conv1PatchLength, rows * Conv1PatchLength), rows,
                        Conv1PatchLength, weights.Conv1Weight, Conv1Channels, weights.Conv1Bias, Activation.Relu,
                        scratch.Slice(ScratchConv1Offset + first * Conv1Channels, rows * Conv1Channels), tier);
                }

                /// <summary>
                /// Primary capsules: conv {{a.Conv1Channels}}→{{a.PrimaryChannels}} {{a.PrimaryKernel}}x{{a.PrimaryKernel}}/{{a.PrimaryStride}} → [{{a.PrimaryGridSize * a.PrimaryGridSize}} x {{a.PrimaryChannels}}], regrouped to {{a.PrimaryCapsules}} capsules x {{a.PrimaryDims}}D
                /// and squashed (eq. 1); {{Grouped(costs[1].MultiplyAdds)}} multiply-adds.
                /// </summary>
                public static void PrimaryCaps(Weights weights, Workspace workspace, SimdTier tier)
                {
                    PrimaryConv(weights.Packed, workspace.Scratch, default, 0, 1, tier);
                    RegroupAndSquash(workspace.Scratch, 0, PrimaryCapsules, tier);
                }

                /// <summary>This part's output-channel panels of the primary conv, an implicit GEMM on conv1's output (no im2col).</summary>
                internal static void PrimaryConv(PackedCapsNetWeights weights, Span<float> scratch, ReadOnlySpan<float> image, int part,
                    int parts, SimdTier tier)
                {
                    // Panels in pairs: the Vector512 tile covers two.
                    var (first, end) = BatchContext.PartRange(PackedGemm.PanelCount(PrimaryChannels), 2, part, parts);
                    if (end == first) return;
                {{PrimaryConvCall(spec)}}
                }

                /// <summary>This part's capsules: regrouped and squashed (eq. 1), then their predictions û (eq. 2).</summary>
                internal static void Capsules(PackedCapsNetWeights weights, Span<float> scratch, ReadOnlySpan<float> image, int part,
                    int parts, SimdTier tier)
                {
                    var (first, end) = BatchContext.PartRange(PrimaryCapsules, 8, part, parts);
                    RegroupAndSquash(scratch, first, end, tier);
                    CapsuleTransform(weights, scratch, first, end, tier);
                }

                /// <summary>Capsules [first, end) from the primary conv's channels (PrimaryCapsuleLayout), squashed (eq. 1).</summary>
                internal static void RegroupAndSquash(Span<float> scratch, int first, int end, SimdTier tier)
                    => PrimaryCapsuleLayout.RegroupAndSquash(scratch.Slice(ScratchPrimaryConvOffset, PrimaryPositions * PrimaryChannels),
                        PrimaryPositions, PrimaryDims, first, end,
                        scratch.Slice(ScratchPrimaryOffset + first * PrimaryDims, (end - first) * PrimaryDims), tier);

                /// <summary>
                /// Prediction vectors û_{j|i} = W_ij u_i (eq. 2): [{{a.PrimaryCapsules}} x {{a.PrimaryDims}}] → [{{a.PrimaryCapsules}} x {{a.Classes}} x {{a.ClassDims}}];
                /// {{Grouped(costs[2].MultiplyAdds)}} multiply-adds.
                /// </summary>
                public static void CapsuleTransform(Weights weights, Workspace workspace, SimdTier tier)
                    => CapsuleTransform(weights.Packed, workspace.Scratch, 0, PrimaryCapsules, tier);

                /// <summary>û for capsules [first, end): each capsule's predictions depend on it alone.</summary>
                internal static void CapsuleTransform(PackedCapsNetWeights weights, Span<float> scratch, int first, int end, SimdTier tier)
                {
                    int count = end - first;
                    // The kernel class shares the layer's name: spelled from global::.
                {{CapsuleTransformCall(spec)}}
                }

                /// <summary>Routing (Procedure 1, r = {{a.RoutingIterations}}; {{Grouped(costs[3].MultiplyAdds)}} multiply-adds) on a workspace whose û is computed.</summary>
                public static void Route(Workspace workspace, SimdTier tier) => DigitCapsules.Route(Regions.Layout, workspace.Scratch, tier);

                /// <summary>
                /// The decoder ({{a.DecoderInput}} → {{a.DecoderHidden1}} ReLU → {{a.DecoderHidden2}} ReLU → {{a.DecoderOutput}} sigmoid; {{Grouped(costs[4].MultiplyAdds)}} multiply-adds) on a workspace whose
                /// digit capsules are computed, keeping capsule <paramref name="keep"/>.
                /// </summary>
                public static void Decoder(Weights weights, Workspace workspace, int keep, Span<float> reconstruction, SimdTier tier)
                {
                    Span<float> scratch = workspace.Scratch;
                    DigitCapsules.Mask(Regions.Layout, scratch, scratch.Slice(ScratchDigitCapsOffset, DecoderInput), keep);
                    DigitCapsules.Decode(Regions.Layout, scratch, weights.Packed.Decoder, reconstruction, tier);
                }
                """);
            w.Close();
            w.Close();
            CloseNamespace(w, spec);
            return w.ToString();
        }

        /// <summary>The primary conv's call in its part (indented for the Layers template): F16 panels when read in place.</summary>
        private static string PrimaryConvCall(ModelSpec spec)
        {
            const string Call = """
                    PackedGemm.ConvolveChannelsLastPanels(scratch.Slice(ScratchConv1Offset, Conv1Pixels * Conv1Channels), Conv1Channels,
                        Conv1OutSize, Conv1OutSize, PrimaryKernel, PrimaryStride, weights.{0}, PrimaryChannels,
                        weights.PrimaryBias, Activation.None, scratch.Slice(ScratchPrimaryConvOffset, PrimaryPositions * PrimaryChannels),
                        tier, first, end{1});
                """;
            if (!InPlace(spec)) return string.Format(CultureInfo.InvariantCulture, Call, "PrimaryWeight", "");
            return """
                    if (weights.HalfPrimaryWeight.IsEmpty)
                    {
                """ + "\n" + Indent(string.Format(CultureInfo.InvariantCulture, Call, "PrimaryWeight", "")) + "\n" + """
                    }
                    else
                    {
                        // The panels in F16 where they lie: each k block of this part's panels widened into its part of the scratch.
                """ + "\n" + Indent(string.Format(CultureInfo.InvariantCulture, Call, "HalfPrimaryWeight",
                    ",\n        scratch.Slice(ScratchPrimaryWidenedOffset, PackedGemm.WidenedLength(PrimaryChannels, PrimaryPatchLength))")) + "\n" + """
                    }
                """;
        }

        /// <summary>û's call for capsules [first, first + count) (indented for the Layers template): F16 W when read in place.</summary>
        private static string CapsuleTransformCall(ModelSpec spec)
        {
            const string Call = """
                    global::CapsEmbedded.Kernels.CapsuleTransform.Run(
                        scratch.Slice(ScratchPrimaryOffset + first * PrimaryDims, count * PrimaryDims),
                        weights.{0}.Slice(first * Classes * ClassDims * PrimaryDims, count * Classes * ClassDims * PrimaryDims),
                        count, Classes, ClassDims, PrimaryDims,
                        scratch.Slice(ScratchUHatOffset + first * Classes * ClassDims, count * Classes * ClassDims), tier);
                """;
            if (!InPlace(spec)) return string.Format(CultureInfo.InvariantCulture, Call, "DigitWeight");
            return """
                    if (weights.HalfDigitWeight.IsEmpty)
                    {
                """ + "\n" + Indent(string.Format(CultureInfo.InvariantCulture, Call, "DigitWeight")) + "\n" + """
                    }
                    else
                    {
                        // W in F16 where it lies, widened 16 KiB at a time on the stack.
                """ + "\n" + Indent(string.Format(CultureInfo.InvariantCulture, Call, "HalfDigitWeight")) + "\n" + """
                    }
                """;
        }

        private static string Indent(string lines) => "    " + lines.Replace("\n", "\n    ");

        /// <summary>Whether the targets packed the file at build time (all F16): the model reads its large weights in place.</summary>
        private static bool InPlace(ModelSpec spec) => spec.Weights.Packed;

        /// <summary><c>Weights.Embedded</c> (indented for the model template): read in place, or packed at first use.</summary>
        private static string EmbeddedProperty(ModelSpec spec)
        {
            string model = spec.Target.ClassName;
            if (InPlace(spec))
                return Indent($$"""
                    /// <summary>
                    /// The weights embedded in this assembly, packed at build time in F16 (<see cref="WeightsResourceName"/>, the
                    /// file's one embedded form: PackedWeightFile) and read where they lie at first use: the primary conv's panels and
                    /// W stay in the image, widened a cache block at a time by the kernels; only conv1, the biases and the decoder are
                    /// widened into native memory.
                    /// </summary>
                    public static Weights Embedded => Once(ref s_embedded, static () => new Weights(EmbeddedWeights.InPlace(
                        typeof(Weights).Assembly, WeightsResourceName, WeightsFileLength, WeightsDataOffset, Architecture,
                        TensorDataOffsets, TensorDataTypes), {{model}}.ClassNames));

                    private static Weights? s_embeddedWidened;

                    /// <summary>
                    /// The embedded weights widened whole to float32 at first use (<see cref="WeightResidency.Widened"/>): twice
                    /// <see cref="Embedded"/>'s weight bytes in private memory, no F16 widened per image, the same outputs bit for
                    /// bit; the faster choice on one thread (bench/RESULTS.md "Edge figures").
                    /// </summary>
                    public static Weights EmbeddedWidened => Once(ref s_embeddedWidened, static () => new Weights(EmbeddedWeights.InPlace(
                        typeof(Weights).Assembly, WeightsResourceName, WeightsFileLength, WeightsDataOffset, Architecture,
                        TensorDataOffsets, TensorDataTypes, WeightResidency.Widened), {{model}}.ClassNames));

                    private static Weights? s_embeddedWidenedPrimary;

                    /// <summary>
                    /// The embedded weights with only the primary conv's panels widened to float32 at first use
                    /// (<see cref="WeightResidency.WidenedPrimary"/>): W stays in F16 in place, the same outputs bit for bit.
                    /// </summary>
                    public static Weights EmbeddedWidenedPrimary => Once(ref s_embeddedWidenedPrimary, static () => new Weights(EmbeddedWeights.InPlace(
                        typeof(Weights).Assembly, WeightsResourceName, WeightsFileLength, WeightsDataOffset, Architecture,
                        TensorDataOffsets, TensorDataTypes, WeightResidency.WidenedPrimary), {{model}}.ClassNames));
                    """);
            return Indent($$"""
                /// <summary>
                /// The weights embedded in this assembly, packed at first use. The manifest resource is an UnmanagedMemoryStream
                /// whose pointer may be unaligned; the kernels need packed weights anyway, so they are packed once into one
                /// 64-byte-aligned native allocation (AlignedBuffer) that lives as long as the process.
                /// </summary>
                public static Weights Embedded => Once(ref s_embedded, static () => new Weights(EmbeddedWeights.Pack(
                    typeof(Weights).Assembly, WeightsResourceName, WeightsFileLength, WeightsDataOffset, Architecture,
                    TensorDataOffsets, TensorDataTypes), {{model}}.ClassNames));

                /// <summary><see cref="Embedded"/>: packed as float32 at load already (<see cref="WeightResidency.Widened"/>).</summary>
                public static Weights EmbeddedWidened => Embedded;

                /// <summary><see cref="Embedded"/>: packed as float32 at load already (<see cref="WeightResidency.WidenedPrimary"/>).</summary>
                public static Weights EmbeddedWidenedPrimary => Embedded;
                """);
        }
    }
}
