using System.Collections.Generic;
using System.Globalization;
using CapsEmbedded.Generator.Model;
using static CapsEmbedded.Generator.ModelSections;

namespace CapsEmbedded.Generator
{
    /// <summary>
    /// Writes <c>{Class}.Model.g.cs</c> for an Efficient-CapsNet file (capsnet.family = "efficient"; Mazzia, Salvetti,
    /// Chiaberge 2021): sizes and scratch offsets as constants, Weights (packed with batch norm folded in by
    /// <c>PackedEfficientCapsNetWeights.Pack</c>, the reference model's folding), Workspace, Predict, Reconstruct and the
    /// straight-line forward pass: stem conv 0 on im2col + PackedGemm, stem convs 1.. on PackedGemm's implicit GEMM over
    /// channels-last maps, the depthwise primary conv, the Efficient squash, self-attention routing, lengths, decoder.
    /// </summary>
    internal static class EfficientEmitter
    {
        public static string EmitModel(ModelSpec spec)
        {
            var a = spec.Weights.Efficient!;
            var h = spec.Weights;
            string model = spec.Target.ClassName;
            int stems = a.Stem.Count, last = stems - 1;
            int p = a.PrimaryGridSize;
            var w = OpenModelFile(spec, $$"""
                The Efficient-CapsNet of <c>{{Escape(h.FileName)}}</c> as fixed-shape code: every size is a constant and the
                weights are packed once, batch norm folded into the next convolution. Thread-safe: one <see cref="Weights"/>,
                one <see cref="Workspace"/> per thread.
                """, "System", "System.CodeDom.Compiler", "System.Collections.Generic", "System.Threading", "CapsEmbedded",
                "CapsEmbedded.Kernels", "CapsEmbedded.Kernels.Int8", "CapsEmbedded.Runtime");

            w.Write("// ---- Sizes ----------------------------------------------------------------------------------------");
            w.Line();
            Const(w, "int", "InputSize", N(a.InputSize), "Input side (square images).");
            Const(w, "int", "InputChannels", N(a.InputChannels), "Input channels.");
            Const(w, "int", "InputLength", N(a.InputLength), "Floats per image, [channels][side][side].");
            for (int k = 0; k < stems; k++)
            {
                var layer = a.Stem[k];
                int outSide = a.StemOutputSize(k);
                Const(w, "int", $"Stem{k}Channels", N(layer.Channels), $"stem.{k}: output channels.");
                Const(w, "int", $"Stem{k}Kernel", N(layer.Kernel), $"stem.{k}: kernel side.");
                Const(w, "int", $"Stem{k}Stride", N(layer.Stride), $"stem.{k}: stride.");
                Const(w, "int", $"Stem{k}OutputSize", N(outSide), $"stem.{k}: output side (valid padding).");
                Const(w, "int", $"Stem{k}Pixels", N(outSide * outSide), $"stem.{k}: output pixels.");
                Const(w, "int", $"Stem{k}PatchLength", N(a.StemInputChannels(k) * layer.Kernel * layer.Kernel),
                    $"stem.{k}: GEMM depth, input channels · kernel².");
                if (a.StemIsWinograd(k))
                    Const(w, "int", $"Stem{k}Tiles", N(outSide / 2 * (outSide / 2)), $"stem.{k}: 2x2 output tiles of Winograd F(2x2, 3x3).");
            }
            Const(w, "int", "PrimaryChannels", N(a.PrimaryChannels), "Channels of the depthwise primary conv (one filter each).");
            Const(w, "int", "PrimaryKernel", N(a.PrimaryKernel), "Depthwise kernel side.");
            Const(w, "int", "PrimaryGridSize", N(p), "Depthwise output side.");
            Const(w, "int", "PrimaryPositions", N(p * p), "Depthwise output positions.");
            Const(w, "int", "PrimaryCapsules", N(a.PrimaryCapsules), "Primary capsules N.");
            Const(w, "int", "PrimaryDims", N(a.PrimaryDims), "Dimensions D of a primary capsule.");
            Const(w, "int", "Classes", N(a.Classes), "Digit capsules J, one per class.");
            Const(w, "int", "ClassDims", N(a.ClassDims), "Dimensions of a digit capsule.");
            Const(w, "int", "DecoderInput", N(a.DecoderInput), "Decoder input: the masked digit capsules.");
            Const(w, "int", "DecoderHidden1", N(a.DecoderHidden1), "Decoder hidden layer 1 (ReLU).");
            Const(w, "int", "DecoderHidden2", N(a.DecoderHidden2), "Decoder hidden layer 2 (ReLU).");
            Const(w, "int", "DecoderOutput", N(a.DecoderOutput), "Decoder output (sigmoid), one value per input pixel.");
            Const(w, "int", "RoutingScratchLength", N(a.Classes * a.PrimaryCapsules * a.ClassDims + 2 * a.Classes * a.PrimaryCapsules + a.ClassDims),
                "SelfAttentionRouting.ScratchLength(N, J, D_out).");
            Const(w, "long", "MultiplyAdds", N(a.MultiplyAdds), "Multiply-adds of one forward pass with the decoder.");
            w.Line();

            WeightFile(w, h);
            ClassNames(w, h, a.Classes);

            var regions = new List<(string Name, long Floats, string Doc)>
            {
                ("Patches", (long)a.StemOutputSize(0) * a.StemOutputSize(0) * a.InputChannels * a.Stem[0].Kernel * a.Stem[0].Kernel, "stem.0's im2col patches"),
            };
            long products = 0;
            for (int k = 0; k < stems; k++)
            {
                if (a.StemIsWinograd(k))
                {
                    long tiles = (long)(a.StemOutputSize(k) / 2) * (a.StemOutputSize(k) / 2);
                    regions.Add(($"Winograd{k}Transformed", 16 * tiles * a.StemInputChannels(k), $"stem.{k}'s Winograd-transformed input tiles [16][tile][channel]"));
                    products = System.Math.Max(products, 16 * tiles * a.Stem[k].Channels);
                }
            }
            if (products > 0) regions.Add(("WinogradProducts", products, "a Winograd stem's products [16][tile][channel] (one stem at a time)"));
            for (int k = 0; k < stems; k++)
                regions.Add(($"Stem{k}", (long)a.StemOutputSize(k) * a.StemOutputSize(k) * a.Stem[k].Channels, $"stem.{k} output [y][x][channel] (ReLU, BN folded into the next layer)"));
            regions.Add(("Primary", (long)p * p * a.PrimaryChannels, "depthwise output [position][channel]"));
            if (p > 1) regions.Add(("PrimaryCaps", (long)a.PrimaryCapsules * a.PrimaryDims, "primary capsules [channel][position] = [N][D], PyTorch's reshape order"));
            regions.Add(("Routing", a.Classes * a.PrimaryCapsules * a.ClassDims + 2 * a.Classes * a.PrimaryCapsules + a.ClassDims, "û [J][N][D_out], coupling, Σ_k û"));
            regions.Add(("DigitCaps", a.DecoderInput, "digit capsules v [J][D_out]"));
            regions.Add(("Masked", a.DecoderInput, "decoder input"));
            regions.Add(("Hidden1", a.DecoderHidden1, "decoder hidden layer 1"));
            regions.Add(("Hidden2", a.DecoderHidden2, "decoder hidden layer 2"));
            w.Write("// ---- Scratch (floats, each region 64-byte aligned) ---------------------------------------------");
            w.Line();
            long offset = 0;
            foreach (var (name, floats, doc) in regions)
            {
                Const(w, "int", $"Scratch{name}Offset", N(offset), $"Start of {doc} ({N(floats)} floats).");
                offset += (floats + 15) / 16 * 16;
            }
            if (p == 1) Const(w, "int", "ScratchPrimaryCapsOffset", "ScratchPrimaryOffset", "One position: the depthwise output is already [N][D].");
            Const(w, "int", "ScratchLength", N(offset), "Floats of one Workspace.");
            w.Line();

            var stemRows = new List<string>();
            for (int k = 0; k < stems; k++)
                stemRows.Add($"new EfficientStemLayer({N(a.Stem[k].Channels)}, {N(a.Stem[k].Kernel)}, {N(a.Stem[k].Stride)})");
            w.Write($$"""
                /// <summary>The architecture this code was generated for.</summary>
                public static EfficientCapsNetArchitecture Architecture { get; } = new EfficientCapsNetArchitecture
                {
                    InputSize = {{N(a.InputSize)}}, InputChannels = {{N(a.InputChannels)}},
                    Stem = new[]
                    {
                {{Rows(stemRows)}}
                    },
                    PrimaryKernel = {{N(a.PrimaryKernel)}}, PrimaryCapsules = {{N(a.PrimaryCapsules)}}, PrimaryDims = {{N(a.PrimaryDims)}},
                    Classes = {{N(a.Classes)}}, ClassDims = {{N(a.ClassDims)}}, DecoderHidden1 = {{N(a.DecoderHidden1)}}, DecoderHidden2 = {{N(a.DecoderHidden2)}},
                    BatchNormEps = {{a.BatchNormEps.ToString("R", CultureInfo.InvariantCulture)}}f,
                };

                /// <summary>The SIMD tier Predict uses on this machine.</summary>
                public static SimdTier ActiveTier => SimdTiers.Best;

                /// <summary>
                /// The model's weights, batch norm folded and packed for the kernels in one 64-byte-aligned native allocation.
                /// Immutable once built: share one instance between threads.
                /// </summary>
                public sealed class Weights : IDisposable
                {
                    private static Weights? s_embedded;

                    private Weights(PackedEfficientCapsNetWeights packed, IReadOnlyList<string> classNames)
                    {
                        Packed = packed;
                        ClassNames = classNames;
                    }

                    /// <summary>The packed tensors.</summary>
                    internal PackedEfficientCapsNetWeights Packed { get; }

                    /// <summary>One name per class j, from these weights' capsnet.class_names metadata ("0".."N-1" when they have none).</summary>
                    public IReadOnlyList<string> ClassNames { get; }

                    /// <summary>The weights embedded in this assembly, read, folded and packed at first use; they live as long as the process.</summary>
                    public static Weights Embedded => Volatile.Read(ref s_embedded) ?? CreateEmbedded();

                    private static Weights CreateEmbedded()
                    {
                        using var stream = typeof(Weights).Assembly.GetManifestResourceStream(WeightsResourceName)
                            ?? throw new InvalidOperationException($"the embedded weight resource '{WeightsResourceName}' is missing");
                        if (stream.Length != WeightsFileLength)
                            throw new InvalidOperationException($"the embedded weight resource has {stream.Length} bytes, not the generated {WeightsFileLength}");
                        var bytes = new byte[stream.Length];
                        stream.ReadExactly(bytes);
                        var created = FromWeights(global::CapsEmbedded.Weights.EfficientCapsNetWeightsFile.Read(bytes, WeightsFileName), WeightsFileName);
                        var winner = Interlocked.CompareExchange(ref s_embedded, created, null);
                        if (winner is not null)
                        {
                            created.Packed.Dispose();
                            return winner;
                        }
                        return created;
                    }

                    /// <summary>
                    /// Reads an Efficient-CapsNet safetensors file of this model's architecture and packs it. Throws
                    /// <see cref="global::CapsEmbedded.Weights.WeightFormatException"/> naming the mismatch otherwise.
                    /// </summary>
                    public static Weights Load(string path) => FromWeights(global::CapsEmbedded.Weights.EfficientCapsNetWeightsFile.Load(path), path);

                    /// <summary>Folds and packs weights held in managed arrays; their architecture must be this model's.</summary>
                    public static Weights FromWeights(global::CapsEmbedded.Weights.EfficientCapsNetWeights weights, string? source = null)
                    {
                        ArgumentNullException.ThrowIfNull(weights);
                        if (!weights.Architecture.Equals(Architecture))
                            throw new global::CapsEmbedded.Weights.WeightFormatException(source ?? "weights", null,
                                $"holds the Efficient-CapsNet {weights.Architecture}, but {{model}} was generated for {Architecture}");
                        return new Weights(PackedEfficientCapsNetWeights.Pack(weights), weights.ClassNames);
                    }

                    /// <summary>Frees the packed weights once no Predict uses them (no-op for <see cref="Embedded"/>, which lives on).</summary>
                    public void Dispose()
                    {
                        if (!ReferenceEquals(this, Volatile.Read(ref s_embedded))) Packed.Dispose();
                    }
                }

                """);
            Workspace(w);
            PredictOverloads(w, """
                Classifies one image with the best SIMD tier: fills <paramref name="lengths"/> with ‖v_j‖ and returns the longest
                capsule's class. <paramref name="capsules"/> (classes·classDims) and <paramref name="reconstruction"/> (the decoder's
                output for the predicted class) are written only when non-empty. Allocation-free.
                """, "Workspace", "workspace", int8: false, """
                    ArgumentNullException.ThrowIfNull(weights);
                    ArgumentNullException.ThrowIfNull(workspace);
                    ModelArguments.CheckTier(tier);
                    ModelArguments.CheckImage(InputSize, InputChannels, Classes, ClassDims, DecoderOutput, image, lengths, capsules,
                        reconstruction);
                    return Forward(weights.Packed, workspace.Scratch, image, lengths, capsules, reconstruction, tier);
                """);
            w.Write("""
                /// <summary>
                /// The decoder alone: reconstructs an image from <paramref name="capsules"/> (classes·classDims) with every capsule
                /// but <paramref name="keep"/> zeroed. Allocation-free.
                /// </summary>
                public static void Reconstruct(Weights weights, Workspace workspace, ReadOnlySpan<float> capsules, int keep,
                    Span<float> reconstruction, SimdTier tier)
                {
                    ArgumentNullException.ThrowIfNull(weights);
                    ArgumentNullException.ThrowIfNull(workspace);
                    ModelArguments.CheckTier(tier);
                    if (capsules.Length < DecoderInput || reconstruction.Length < DecoderOutput || (uint)keep >= Classes)
                        throw new ArgumentException($"Reconstruct needs {DecoderInput} capsule values, room for {DecoderOutput} pixels and a class in [0, {Classes})");
                    Decode(weights.Packed, workspace.Scratch, capsules, keep, reconstruction, tier);
                }

                """);

            // The forward pass: one method per stem layer (a band of its output map, so that one image splits over
            // workers), then the rest on one thread.
            w.Write($$"""
                /// <summary>The forward pass for one image on one thread; the caller has checked the spans and the tier.</summary>
                private static int Forward(PackedEfficientCapsNetWeights weights, Span<float> scratch, ReadOnlySpan<float> image, Span<float> lengths,
                    Span<float> capsules, Span<float> reconstruction, SimdTier tier)
                {
                {{StemCalls(stems)}}
                    return Finish(weights, scratch, lengths, capsules, reconstruction, tier);
                }

                """);
            var costs = a.LayerCosts;
            for (int k = 0; k < stems; k++) StemLayer(w, a, k, costs[k].MultiplyAdds);
            var parts = new List<string>();
            for (int k = 0; k < stems; k++)
                parts.Add($"    static (weights, scratch, image, part, parts, tier, int8Tier) => {StemCall(k, "part", "parts")},");
            w.Write($$"""
                // The split Predict's stem layers, in order, run under one fork/join with a barrier between layers
                // (BatchContext.RunLayers); cached once so a call allocates no delegate.
                private static readonly ImagePartRunner<PackedEfficientCapsNetWeights>[] s_stemParts =
                [
                {{string.Join("\n", parts)}}
                ];

                """);
            w.Open("""
                /// <summary>From the last stem's output to the lengths (and capsules, reconstruction when asked for), on one thread.</summary>
                private static int Finish(PackedEfficientCapsNetWeights weights, Span<float> scratch, Span<float> lengths, Span<float> capsules,
                    Span<float> reconstruction, SimdTier tier)
                """);
            w.Write($$"""
                // primary_caps: depthwise {{a.PrimaryKernel}}x{{a.PrimaryKernel}} over [{{a.StemOutputSize(last)}}x{{a.StemOutputSize(last)}}x{{a.PrimaryChannels}}] (BN {{last}} folded in) → [{{p}}x{{p}}x{{a.PrimaryChannels}}]; {{Grouped(costs[stems].MultiplyAdds)}} multiply-adds.
                DepthwiseConvolution.Run(scratch.Slice(ScratchStem{{last}}Offset, Stem{{last}}Pixels * Stem{{last}}Channels), PrimaryChannels, Stem{{last}}OutputSize,
                    PrimaryKernel, weights.PrimaryWeight, weights.PrimaryBias, scratch.Slice(ScratchPrimaryOffset, PrimaryPositions * PrimaryChannels), tier);
                """);
            if (p > 1)
            {
                w.Write("""
                    // PyTorch's reshape reads the map as [channel][position]: transpose the channels-last output.
                    var primaryMap = scratch.Slice(ScratchPrimaryOffset, PrimaryPositions * PrimaryChannels);
                    var primaryCaps = scratch.Slice(ScratchPrimaryCapsOffset, PrimaryCapsules * PrimaryDims);
                    for (int c = 0; c < PrimaryChannels; c++)
                        for (int position = 0; position < PrimaryPositions; position++)
                            primaryCaps[c * PrimaryPositions + position] = primaryMap[position * PrimaryChannels + c];
                    """);
            }
            w.Write($$"""
                // {{a.PrimaryCapsules}} capsules x {{a.PrimaryDims}}D, Efficient squash.
                EfficientSquash.Run(scratch.Slice(ScratchPrimaryCapsOffset, PrimaryCapsules * PrimaryDims), PrimaryCapsules, PrimaryDims, tier);
                // Self-attention routing → [{{a.Classes}} x {{a.ClassDims}}D]; {{Grouped(costs[stems + 1].MultiplyAdds + costs[stems + 2].MultiplyAdds)}} multiply-adds.
                SelfAttentionRouting.Run(scratch.Slice(ScratchPrimaryCapsOffset, PrimaryCapsules * PrimaryDims), weights.DigitWeight, weights.DigitBias,
                    PrimaryCapsules, PrimaryDims, Classes, ClassDims, scratch.Slice(ScratchRoutingOffset, RoutingScratchLength),
                    scratch.Slice(ScratchDigitCapsOffset, DecoderInput), tier);
                CapsuleLengths.Run(scratch.Slice(ScratchDigitCapsOffset, DecoderInput), Classes, ClassDims, lengths, tier);
                int predicted = TopK.ArgMax<float>(lengths.Slice(0, Classes));
                if (!capsules.IsEmpty) scratch.Slice(ScratchDigitCapsOffset, DecoderInput).CopyTo(capsules);
                if (!reconstruction.IsEmpty) Decode(weights, scratch, scratch.Slice(ScratchDigitCapsOffset, DecoderInput), predicted, reconstruction, tier);
                return predicted;
                """);
            w.Close();
            w.Line();
            w.Write($$"""
                /// <summary>Decoder {{a.DecoderInput}} → {{a.DecoderHidden1}} ReLU → {{a.DecoderHidden2}} ReLU → {{a.DecoderOutput}} sigmoid on the capsules with all but <paramref name="keep"/> zeroed; {{Grouped(costs[costs.Count - 1].MultiplyAdds)}} multiply-adds.</summary>
                private static void Decode(PackedEfficientCapsNetWeights weights, Span<float> scratch, ReadOnlySpan<float> capsules, int keep,
                    Span<float> reconstruction, SimdTier tier)
                {
                    CapsuleMask.Keep(capsules.Slice(0, DecoderInput), ClassDims, keep, scratch.Slice(ScratchMaskedOffset, DecoderInput));
                    CapsuleDecoder.Run(scratch.Slice(ScratchMaskedOffset, DecoderInput), weights.Decoder, scratch.Slice(ScratchHidden1Offset, DecoderHidden1),
                        scratch.Slice(ScratchHidden2Offset, DecoderHidden2), reconstruction.Slice(0, DecoderOutput), tier);
                }
                """);
            w.Line();
            EfficientBatch(w);
            Session(w, model, int8: false);
            w.Close();
            CloseNamespace(w, spec);
            return w.ToString();
        }

        /// <summary>Stem0(weights, scratch, image, 0, 1, tier); … one line per stem layer, indented for the Forward template.</summary>
        private static string StemCalls(int stems)
        {
            var lines = new List<string>();
            for (int k = 0; k < stems; k++) lines.Add($"    {StemCall(k, "0", "1")};");
            return string.Join("\n", lines);
        }

        /// <summary>The call of stem layer <paramref name="k"/>'s method; stem.0 also takes the image (it writes its own im2col rows).</summary>
        private static string StemCall(int k, string part, string parts) =>
            $"Stem{k}(weights, scratch, {(k == 0 ? "image, " : "")}{part}, {parts}, tier)";

        /// <summary>
        /// Stem{k}(weights, scratch, part, parts, tier): band PartRange(…, PackedGemm.RowGranule, part, parts) of stem conv k's
        /// output map, every channel — output pixels, or 2×2 tiles for a Winograd layer, whose input transform of the same
        /// tiles runs first in the same part. A band reads its part of the layer before and a halo of 2 rows, not the whole
        /// map (a split by channels made each thread read the other's half of every map). Cuts at multiples of the GEMM's
        /// row tile keep every tile as in the one-part pass, so parts with disjoint bands give the one-part bits.
        /// </summary>
        private static void StemLayer(SourceWriter w, EfficientCapsNetArchitecture a, int k, long multiplyAdds)
        {
            var layer = a.Stem[k];
            int inSide = a.StemInputSize(k), outSide = a.StemOutputSize(k), inChannels = a.StemInputChannels(k);
            string output = $"scratch.Slice(ScratchStem{k}Offset, Stem{k}Pixels * Stem{k}Channels)";
            string what, body;
            if (k == 0)
            {
                what = $"im2col [{outSide * outSide} x {inChannels * layer.Kernel * layer.Kernel}] · W^T + b, ReLU";
                body = $$"""
                    var (first, end) = BatchContext.PartRange(Stem0Pixels, PackedGemm.RowGranule, part, parts);
                    if (end == first) return;
                    Im2Col.Run(image, InputChannels, InputSize, InputSize, Stem0Kernel, Stem0Stride, scratch.Slice(ScratchPatchesOffset, Stem0Pixels * Stem0PatchLength),
                        first, end - first);
                    PackedGemm.Multiply(scratch.Slice(ScratchPatchesOffset + first * Stem0PatchLength, (end - first) * Stem0PatchLength), end - first,
                        Stem0PatchLength, weights.StemWeight(0), Stem0Channels, weights.StemBias(0), Activation.Relu,
                        scratch.Slice(ScratchStem0Offset + first * Stem0Channels, (end - first) * Stem0Channels), tier);
                    """;
            }
            else if (a.StemIsWinograd(k))
            {
                what = $"Winograd F(2x2, 3x3) {inChannels}→{layer.Channels} on [{inSide}x{inSide}x{inChannels}] (BN {k - 1} folded in; 16 GEMMs [{outSide / 2 * (outSide / 2)} x {inChannels}]·[{inChannels} x {layer.Channels}], 4/9 of the direct multiply-adds), ReLU";
                string transformed = $"scratch.Slice(ScratchWinograd{k}TransformedOffset, 16 * Stem{k}Tiles * Stem{k - 1}Channels)";
                body = $$"""
                    var (first, end) = BatchContext.PartRange(Stem{{k}}Tiles, PackedGemm.RowGranule, part, parts);
                    WinogradConvolution.TransformInputTiles(scratch.Slice(ScratchStem{{k - 1}}Offset, Stem{{k - 1}}Pixels * Stem{{k - 1}}Channels), Stem{{k - 1}}Channels,
                        Stem{{k - 1}}OutputSize, Stem{{k - 1}}OutputSize, {{transformed}}, tier, first, end);
                    WinogradConvolution.MultiplyOutputTiles({{transformed}}, Stem{{k - 1}}Channels,
                        Stem{{k}}OutputSize, Stem{{k}}OutputSize, weights.StemWeight({{k}}), Stem{{k}}Channels, weights.StemBias({{k}}), Activation.Relu,
                        scratch.Slice(ScratchWinogradProductsOffset, 16 * Stem{{k}}Tiles * Stem{{k}}Channels), {{output}}, tier, first, end);
                    """;
            }
            else
            {
                what = $"implicit GEMM {inChannels}→{layer.Channels} {layer.Kernel}x{layer.Kernel}/{layer.Stride} on [{inSide}x{inSide}x{inChannels}] (BN {k - 1} folded in), ReLU";
                body = $$"""
                    var (first, end) = BatchContext.PartRange(Stem{{k}}Pixels, PackedGemm.RowGranule, part, parts);
                    PackedGemm.ConvolveChannelsLastRows(scratch.Slice(ScratchStem{{k - 1}}Offset, Stem{{k - 1}}Pixels * Stem{{k - 1}}Channels), Stem{{k - 1}}Channels,
                        Stem{{k - 1}}OutputSize, Stem{{k - 1}}OutputSize, Stem{{k}}Kernel, Stem{{k}}Stride, weights.StemWeight({{k}}), Stem{{k}}Channels, weights.StemBias({{k}}),
                        Activation.Relu, {{output}}, tier, first, end);
                    """;
            }

            string unit = a.StemIsWinograd(k) ? "tiles" : "pixels";
            w.Open($$"""
                /// <summary>stem.{{k}}: {{what}} → [{{outSide}}x{{outSide}}x{{layer.Channels}}]; {{Grouped(multiplyAdds)}} multiply-adds. The output {{unit}} of part <paramref name="part"/> of <paramref name="parts"/>.</summary>
                private static void Stem{{k}}(PackedEfficientCapsNetWeights weights, Span<float> scratch, {{(k == 0 ? "ReadOnlySpan<float> image, " : "")}}int part, int parts, SimdTier tier)
                """);
            w.Write(body);
            w.Close();
            w.Line();
        }

        /// <summary>
        /// CreateBatchContext and PredictBatch (every model's, <see cref="ModelSections.PredictBatch"/>), and the
        /// split-one-image Predict (the one-thread pass): the same bits as Predict, and what ModelSections.Session forwards
        /// to, as the paper models' do.
        /// </summary>
        private static void EfficientBatch(SourceWriter w)
        {
            PredictBatch(w, "PackedEfficientCapsNetWeights", int8: false);
            w.Write("""
                /// <summary>
                /// The Session's split-one-image call: each stem convolution split over the context's workers by bands of its
                /// output map (pixels with their im2col rows, or a Winograd stem's tiles with their input transform), all of
                /// them under one fork/join with a barrier between layers; the primary capsules, routing and decoder on the caller.
                /// Every output is summed as in Predict, so the same bits for any worker count.
                /// Allocation-free; one call at a time per context.
                /// </summary>
                public static int Predict(Weights weights, BatchContext context, ReadOnlySpan<float> image, Span<float> lengths,
                    Span<float> capsules, Span<float> reconstruction, SimdTier tier)
                {
                    ModelArguments.CheckContext(context, ScratchLength);
                    ArgumentNullException.ThrowIfNull(weights);
                    ModelArguments.CheckTier(tier);
                    ModelArguments.CheckImage(InputSize, InputChannels, Classes, ClassDims, DecoderOutput, image, lengths, capsules,
                        reconstruction);
                    context.RunLayers(s_stemParts, weights.Packed, image, tier, default);
                    return Finish(weights.Packed, context.ImageScratch, lengths, capsules, reconstruction, tier);
                }

                """);
        }
    }
}
