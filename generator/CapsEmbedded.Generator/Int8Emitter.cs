using System;
using System.Collections.Generic;
using CapsEmbedded.Generator.Model;
using static CapsEmbedded.Generator.Emitter;
using static CapsEmbedded.Generator.GlobalNames;
using static CapsEmbedded.Generator.ModelSurfaceEmitter;

namespace CapsEmbedded.Generator
{
    /// <summary>
    /// Writes the C# of an int8-quantised model (a file that QuantizedHeaderValidator accepted): one
    /// <c>{Class}.Model.g.cs</c> with the float model's sizes and public surface, whose conv1 → primary-capsule path runs
    /// on the int8 kernels (u7 codes, <c>QuantizedGemm</c>'s exact int32 sums, × s_a·s_w + bias) with every shape a
    /// constant. The weights are packed by the runtime's <c>QuantizedCapsNet</c> and its building blocks are called in
    /// its order, so the generated model returns its bits.
    /// </summary>
    internal static class Int8Emitter
    {
        public static IEnumerable<(string HintName, string Source)> Emit(ModelSpec spec)
        {
            string prefix = spec.Target.Namespace is null ? spec.Target.ClassName : spec.Target.Namespace + "." + spec.Target.ClassName;
            yield return (prefix + ".Model.g.cs", EmitModel(spec));
        }

        /// <summary>Scratch regions up to the primary conv's output, in floats; the byte and int32 regions are floats reinterpreted.</summary>
        private static List<(string Name, long Floats, string Doc)> Regions(CapsNetArchitecture a)
        {
            long pixels = (long)a.Conv1OutSize * a.Conv1OutSize, positions = (long)a.PrimaryGridSize * a.PrimaryGridSize;
            long codes = pixels * a.Conv1Channels, codePatches = positions * a.Conv1Channels * a.PrimaryKernel * a.PrimaryKernel;
            return new List<(string, long, string)>
            {
                ("Patches", pixels * a.InputChannels * a.Conv1Kernel * a.Conv1Kernel, "conv1's im2col patches"),
                ("Conv1", codes, "conv1 output after ReLU, [y][x][channel]"),
                ("Codes", (codes + 3) / 4, $"conv1's u7 codes [y][x][channel], {N(codes)} bytes"),
                ("CodePatches", (codePatches + 3) / 4, $"the primary conv's byte im2col [position][ky][kx][c], {N(codePatches)} bytes"),
                ("Accumulators", positions * a.PrimaryChannels, "the primary conv's exact int32 sums [position][channel]"),
                ("PrimaryConv", positions * a.PrimaryChannels, "primary conv output [position][type·dims + d], dequantised, bias added"),
            };
        }

        private static string EmitModel(ModelSpec spec)
        {
            var a = spec.Weights.Architecture!;
            return ModelFile(spec, new[]
            {
                $"The int8-quantised CapsNet of <c>{Escape(spec.Weights.FileName)}</c> as fixed-shape code: conv1 in float32, its ReLU output as",
                "u7 codes, the primary-capsule conv as exact int32 sums on the int8 kernels, then squash, routing and lengths in float32.",
                "Thread-safe: one <see cref=\"Weights\"/>, one <see cref=\"Workspace\"/> per thread.",
            }, primaryGemm: "int8 GEMM", primaryChannelsNote: " (the int8 GEMM's n).",
                weightFileTail: w => Const(w, "string", "QuantizationScheme", Quote(global::CapsEmbedded.Quantization.QuantizedHeaderValidator.Scheme),
                    "The file's capsnet.quantization: int8 weights per output channel, u7 activations."),
                scratchHeading: "// ---- Scratch (floats, each region 64-byte aligned; bytes and int32 sums reinterpret theirs) -----",
                convRegions: Regions(a),
                activeTierDoc: "The float SIMD tier Predict uses on this machine.",
                apiTail: w =>
                {
                    w.Line("/// <summary>The int8 tier the primary-capsule conv uses on this machine.</summary>");
                    w.Line($"public static {Int8Tier} ActiveInt8Tier => {Int8}.Int8Tiers.Best;");
                    w.Line();
                },
                weightsClass: EmitWeights,
                methods: w =>
                {
                    EmitPredict(w);
                    EmitLayers(w, a);
                });
        }

        private static void EmitWeights(SourceWriter w)
        {
            OpenWeightsClass(w, new[]
            {
                "The model's weights, packed once by <see cref=\"" + Net + "\"/> (float tensors for the float kernels, the",
                "primary conv's int8 weight for QuantizedGemm) in aligned native memory. Immutable once built: share one instance.",
            }, Net);
            w.Line("/// <summary>The quantised file embedded in this assembly, validated (values included) and packed at first use; lives as long as the process.</summary>");
            EmbeddedProperty(w);
            w.Line();
            w.Open("private static Weights CreateEmbedded()");
            w.Line($"var created = FromWeights({Q}.QuantizedWeightsFile.ReadEmbedded(typeof(Weights).Assembly, WeightsResourceName, WeightsFileLength), WeightsResourceName);");
            PublishEmbedded(w, "created.Packed.Dispose();");
            LoadAndFromWeights(w, new[]
            {
                "Reads a quantised weight file of this model's architecture and packs it. Throws",
                "<see cref=\"global::CapsEmbedded.Weights.WeightFormatException\"/> naming the problem (a float file, another architecture, a bad value).",
            }, Q + ".QuantizedWeightsFile.Load",
                "Packs quantised weights held in managed arrays (from the quantiser or a file); their architecture must be this model's.",
                Q + ".QuantizedCapsNetWeights", Net + ".Create(weights)", "weights.Weights.ClassNames");
            CloseWeightsClass(w, "Frees the packed weights once no Predict uses them (no-op for <see cref=\"Embedded\"/>).");
        }

        /// <summary>The int8 model's two tiers: the float one and the int8 one of the primary-capsule conv.</summary>
        private static readonly Tiers BothTiers = new Tiers($"{Kernels}.SimdTiers.Best, {Int8}.Int8Tiers.Best",
            $"{Tier} tier, {Int8Tier} int8Tier", "CheckTiers(tier, int8Tier);");

        private static void EmitPredict(SourceWriter w)
        {
            WorkspacePredict(w, new[]
            {
                "Classifies one image with the best float and int8 tiers: fills <paramref name=\"lengths\"/> with |v_j| and returns the",
                "longest capsule's class. <paramref name=\"capsules\"/> (classes·classDims) and <paramref name=\"reconstruction\"/>",
                "are written only when non-empty. Allocation-free.",
            }, BothTiers, "As the other overload, with both tiers forced (tests compare tiers with this).");
            TierOverloads(w, new[]
            {
                "Classifies <c>images.Length / InputLength</c> images one after another on the calling thread with one workspace:",
                "lengths [count·classes], classes [count]. Allocation-free.",
            }, "void PredictBatch", $"Weights weights, Workspace workspace, {RoS} images, {S} lengths, global::System.Span<int> classes", null,
                BothTiers, "As the other overload, with both tiers forced.", new[] { "weights", "workspace" }, body =>
                {
                    body.Line("int count = images.Length / InputLength;");
                    ImagesMultipleCheck(body, "if (count * InputLength != images.Length)");
                    body.Line("if (lengths.Length < (long)count * Classes)");
                    body.Line("    throw new global::System.ArgumentException($\"lengths has room for {lengths.Length} values; {count} images need {(long)count * Classes}\", nameof(lengths));");
                    body.Line("if (classes.Length < count)");
                    body.Line("    throw new global::System.ArgumentException($\"classes has room for {classes.Length} values; the batch has {count} images\", nameof(classes));");
                    body.Line("for (int i = 0; i < count; i++)");
                    body.Line("    classes[i] = Forward(weights.Packed, workspace.Scratch, images.Slice(i * InputLength, InputLength), lengths.Slice(i * Classes, Classes), default, default, tier, int8Tier);");
                });
            w.Line("/// <summary>The decoder alone (paper §4.1) on <paramref name=\"capsules\"/> with every capsule but <paramref name=\"keep\"/> zeroed. Allocation-free.</summary>");
            w.Open($"public static void Reconstruct(Weights weights, Workspace workspace, {RoS} capsules, int keep, {S} reconstruction)");
            NullChecks(w, "weights", "workspace");
            ReconstructChecksAndMask(w);
            w.Line($"Layers.Decoder(weights.Packed, scratch, reconstruction.Slice(0, DecoderOutput), {Kernels}.SimdTiers.Best);");
            w.Close();
            w.Line();
            CheckImageArguments(w);
            w.Open($"private static void CheckTiers({Tier} tier, {Int8Tier} int8Tier)");
            SimdTierCheck(w);
            w.Line($"{Int8}.Int8Tiers.ThrowIfUnsupported(int8Tier);");
            w.Close();
            w.Line();
            w.Line("/// <summary>The forward pass for one image; the caller has checked the spans and the tiers. QuantizedCapsNet.Predict's order, so its bits.</summary>");
            w.Open($"private static int Forward({Net} weights, {S} scratch, {RoS} image, {S} lengths, {S} capsules, {S} reconstruction, {Tier} tier, {Int8Tier} int8Tier)");
            w.Line("Layers.Conv1(weights, scratch, image, tier);");
            w.Line("Layers.PrimaryConv(weights, scratch, int8Tier);");
            w.Line("Layers.RegroupAndSquash(scratch, tier);");
            w.Line("Layers.CapsuleTransform(weights, scratch, tier);");
            FinishForward(w);
            w.Line();
        }

        private static void EmitLayers(SourceWriter w, CapsNetArchitecture a)
        {
            var costs = a.LayerCosts;
            string Cost(int index) => Grouped(costs[index].MultiplyAdds) + " multiply-adds";
            w.Line("/// <summary>The layers, one method each, reading and writing the scratch regions; every size a constant.</summary>");
            w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"{GeneratorName}\", \"{GeneratorVersion}\")]");
            w.Open("internal static class Layers");

            w.Method($"conv1 in float32: [{a.InputChannels}x{a.InputSize}x{a.InputSize}] → im2col · W^T + b, ReLU → [{a.Conv1OutSize * a.Conv1OutSize} pixels x {a.Conv1Channels}]; {Cost(0)}.",
                $"internal static void Conv1({Net} weights, {S} scratch, {RoS} image, {Tier} tier)",
                $"{S} patches = scratch.Slice(ScratchPatchesOffset, Conv1Pixels * Conv1PatchLength);",
                $"{Kernels}.Im2Col.Run(image, InputChannels, InputSize, InputSize, Conv1Kernel, Conv1Stride, patches);",
                $"{Kernels}.PackedGemm.Multiply(patches, Conv1Pixels, Conv1PatchLength, weights.PackedConv1Weight, Conv1Channels, weights.Conv1Bias,",
                $"    {Kernels}.Activation.Relu, scratch.Slice(ScratchConv1Offset, Conv1Pixels * Conv1Channels), tier);");

            w.Method($"Primary conv {a.Conv1Channels}→{a.PrimaryChannels} {a.PrimaryKernel}x{a.PrimaryKernel}/{a.PrimaryStride} in int8: u7 codes of conv1's output, byte im2col, exact int32 sums, × s_a·s_w[n] + bias[n]; {Cost(1)}.",
                $"internal static void PrimaryConv({Net} weights, {S} scratch, {Int8Tier} int8Tier)",
                $"global::System.Span<byte> codes = {Marshal}.AsBytes(scratch.Slice(ScratchCodesOffset, ScratchCodePatchesOffset - ScratchCodesOffset)).Slice(0, Conv1Pixels * Conv1Channels);",
                $"global::System.Span<byte> patches = {Marshal}.AsBytes(scratch.Slice(ScratchCodePatchesOffset, ScratchAccumulatorsOffset - ScratchCodePatchesOffset)).Slice(0, PrimaryPositions * PrimaryPatchLength);",
                $"global::System.Span<int> sums = {Marshal}.Cast<float, int>(scratch.Slice(ScratchAccumulatorsOffset, PrimaryPositions * PrimaryChannels));",
                $"{Net}.QuantizeU7(scratch.Slice(ScratchConv1Offset, Conv1Pixels * Conv1Channels), 1f / weights.PrimaryInputScale, codes);",
                $"{Net}.Im2ColChannelsLast(codes, Conv1Channels, Conv1OutSize, PrimaryKernel, PrimaryStride, PrimaryGridSize, patches);",
                $"{Int8}.QuantizedGemm.Multiply(patches, PrimaryPositions, PrimaryPatchLength, weights.PackedPrimaryWeight, PrimaryChannels, sums, int8Tier);",
                $"{Net}.Dequantise(sums, PrimaryPositions, PrimaryChannels, weights.PrimaryMultiplier, weights.PrimaryBias,",
                "    scratch.Slice(ScratchPrimaryConvOffset, PrimaryPositions * PrimaryChannels));");

            RegroupAndSquashLayer(w, "Channel k of the primary conv is type k / dims, dimension k % dims; capsule i = type·positions + position; squash (eq. 1).", ranged: false);

            w.Method($"Prediction vectors û_{{j|i}} = W_ij u_i (eq. 2); {Cost(2)}.",
                $"internal static void CapsuleTransform({Net} weights, {S} scratch, {Tier} tier)",
                $"{Kernels}.CapsuleTransform.Run(scratch.Slice(ScratchPrimaryOffset, PrimaryCapsules * PrimaryDims), weights.PackedDigitWeight,",
                "    PrimaryCapsules, Classes, ClassDims, PrimaryDims, scratch.Slice(ScratchUHatOffset, PrimaryCapsules * Classes * ClassDims), tier);");

            w.Line($"/// <summary>Routing by agreement (Procedure 1), r = {a.RoutingIterations}; {Cost(3)}.</summary>");
            RouteLayer(w);
            LengthsLayer(w, "Capsule lengths |v_j| into <paramref name=\"lengths\"/>; returns the class of the longest (ties to the lowest, NaN never wins).", null);
            MaskLayer(w, "Decoder input: every digit capsule but <paramref name=\"keep\"/> set to zero.");

            w.Line($"/// <summary>Decoder: {a.DecoderInput} → {a.DecoderHidden1} ReLU → {a.DecoderHidden2} ReLU → {a.DecoderOutput} sigmoid, in float32; {Cost(4)}.</summary>");
            DecoderLayer(w, Net, "Packed");
            w.Close();
        }
    }
}
