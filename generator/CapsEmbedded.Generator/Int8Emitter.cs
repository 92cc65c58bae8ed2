using System.Collections.Generic;
using CapsEmbedded.Generator.Model;
using static CapsEmbedded.Generator.ModelSections;

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
        /// <summary>Scratch regions up to the primary conv's output, in floats; the byte and int32 regions are floats reinterpreted.</summary>
        private static List<(string Name, long Floats, string Doc)> ConvRegions(CapsNetArchitecture a)
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

        public static string EmitModel(ModelSpec spec)
        {
            var a = spec.Weights.Architecture!;
            var costs = a.LayerCosts;
            var w = new SourceWriter();
            Header(w, spec);
            OpenNamespace(w, spec, "System", "System.CodeDom.Compiler", "System.Collections.Generic", "System.Runtime.InteropServices",
                "System.Threading", "CapsEmbedded", "CapsEmbedded.Kernels", "CapsEmbedded.Kernels.Int8", "CapsEmbedded.Quantization",
                "CapsEmbedded.Runtime");
            w.Write($$"""
                /// <summary>
                /// The int8-quantised CapsNet of <c>{{Escape(spec.Weights.FileName)}}</c> as fixed-shape code: conv1 in float32, its ReLU
                /// output as u7 codes, the primary-capsule conv as exact int32 sums on the int8 kernels, then squash, routing and
                /// lengths in float32. Thread-safe: one <see cref="Weights"/>, one <see cref="Workspace"/> per thread.
                /// </summary>
                {{GeneratedCode}}
                """);
            w.Open($"{spec.Target.Accessibility} static partial class {spec.Target.ClassName}");
            Sizes(w, a, "int8 GEMM", " (the int8 GEMM's n).");
            WeightFile(w, spec.Weights);
            Const(w, "string", "QuantizationScheme", Quote(global::CapsEmbedded.Quantization.QuantizedHeaderValidator.Scheme),
                "The file's capsnet.quantization: int8 weights per output channel, u7 activations.");
            ClassNames(w, spec.Weights, a);
            Scratch(w, "// ---- Scratch (floats, each region 64-byte aligned; bytes and int32 sums reinterpret theirs) -----", a, ConvRegions(a));
            ArchitectureAndTier(w, a, "The float SIMD tier Predict uses on this machine.");
            w.Write("""
                /// <summary>The int8 tier the primary-capsule conv uses on this machine.</summary>
                public static Int8Tier ActiveInt8Tier => Int8Tiers.Best;

                """);

            OpenWeights(w, """
                /// The model's weights, packed once by <see cref="QuantizedCapsNet"/> (float tensors for the float kernels, the
                /// primary conv's int8 weight for QuantizedGemm) in aligned native memory. Immutable once built: share one instance.
                """, "QuantizedCapsNet");
            w.Write("""
                /// <summary>
                /// The quantised file embedded in this assembly, validated (values included) and packed at first use; lives as long
                /// as the process.
                /// </summary>
                public static Weights Embedded => Volatile.Read(ref s_embedded) ?? CreateEmbedded();

                private static Weights CreateEmbedded()
                {
                    var created = FromWeights(QuantizedWeightsFile.ReadEmbedded(typeof(Weights).Assembly, WeightsResourceName,
                        WeightsFileLength), WeightsResourceName);
                    var winner = Interlocked.CompareExchange(ref s_embedded, created, null);
                    if (winner is not null)
                    {
                        created.Packed.Dispose();
                        return winner;
                    }
                    return created;
                }

                """);
            CloseWeights(w, """
                /// Reads a quantised weight file of this model's architecture and packs it. Throws
                /// <see cref="global::CapsEmbedded.Weights.WeightFormatException"/> naming the problem (a float file, another
                /// architecture, a bad value).
                """, "QuantizedWeightsFile.Load", "QuantizedCapsNetWeights", "QuantizedCapsNet.Create(weights)", "weights.Weights.ClassNames");
            Workspace(w);

            w.Write("""
                /// <summary>
                /// Classifies one image with the best float and int8 tiers: fills <paramref name="lengths"/> with |v_j| and returns
                /// the longest capsule's class. <paramref name="capsules"/> (classes·classDims) and <paramref name="reconstruction"/>
                /// are written only when non-empty. Allocation-free.
                /// </summary>
                public static int Predict(Weights weights, Workspace workspace, ReadOnlySpan<float> image, Span<float> lengths,
                    Span<float> capsules = default, Span<float> reconstruction = default)
                    => Predict(weights, workspace, image, lengths, capsules, reconstruction, SimdTiers.Best, Int8Tiers.Best);

                /// <summary>As the other overload, with both tiers forced (tests compare tiers with this).</summary>
                public static int Predict(Weights weights, Workspace workspace, ReadOnlySpan<float> image, Span<float> lengths,
                    Span<float> capsules, Span<float> reconstruction, SimdTier tier, Int8Tier int8Tier)
                {
                    ArgumentNullException.ThrowIfNull(weights);
                    ArgumentNullException.ThrowIfNull(workspace);
                    ModelArguments.CheckTier(tier);
                    Int8Tiers.ThrowIfUnsupported(int8Tier);
                    ModelArguments.CheckImage(Architecture, image, lengths, capsules, reconstruction);
                    return Forward(weights.Packed, workspace.Scratch, image, lengths, capsules, reconstruction, tier, int8Tier);
                }

                /// <summary>
                /// Classifies <c>images.Length / InputLength</c> images one after another on the calling thread with one workspace:
                /// lengths [count·classes], classes [count]. Allocation-free.
                /// </summary>
                public static void PredictBatch(Weights weights, Workspace workspace, ReadOnlySpan<float> images, Span<float> lengths,
                    Span<int> classes)
                    => PredictBatch(weights, workspace, images, lengths, classes, SimdTiers.Best, Int8Tiers.Best);

                /// <summary>As the other overload, with both tiers forced.</summary>
                public static void PredictBatch(Weights weights, Workspace workspace, ReadOnlySpan<float> images, Span<float> lengths,
                    Span<int> classes, SimdTier tier, Int8Tier int8Tier)
                {
                    ArgumentNullException.ThrowIfNull(weights);
                    ArgumentNullException.ThrowIfNull(workspace);
                    ModelArguments.CheckTier(tier);
                    Int8Tiers.ThrowIfUnsupported(int8Tier);
                    int count = ModelArguments.CheckImages(Architecture, images);
                    ModelArguments.CheckBatchOutputs(Architecture, count, lengths, classes);
                    for (int i = 0; i < count; i++)
                        classes[i] = Forward(weights.Packed, workspace.Scratch, images.Slice(i * InputLength, InputLength),
                            lengths.Slice(i * Classes, Classes), default, default, tier, int8Tier);
                }

                /// <summary>
                /// The decoder alone (paper §4.1) on <paramref name="capsules"/> with every capsule but <paramref name="keep"/>
                /// zeroed. Allocation-free.
                /// </summary>
                """);
            w.Open("""
                public static void Reconstruct(Weights weights, Workspace workspace, ReadOnlySpan<float> capsules, int keep,
                    Span<float> reconstruction)
                """);
            ReconstructBody(w, "", "SimdTiers.Best");
            w.Close();
            w.Write("""

                /// <summary>
                /// The forward pass for one image; the caller has checked the spans and the tiers. QuantizedCapsNet.Predict's
                /// order, so its bits.
                /// </summary>
                """);
            w.Open("""
                private static int Forward(QuantizedCapsNet weights, Span<float> scratch, ReadOnlySpan<float> image, Span<float> lengths,
                    Span<float> capsules, Span<float> reconstruction, SimdTier tier, Int8Tier int8Tier)
                """);
            w.Write("""
                Layers.Conv1(weights, scratch, image, tier);
                Layers.PrimaryConv(weights, scratch, int8Tier);
                Layers.RegroupAndSquash(scratch, tier);
                Layers.CapsuleTransform(weights, scratch, tier);
                """);
            Finish(w);
            w.Close();
            w.Line();

            w.Write($$"""
                /// <summary>The layers, one method each, reading and writing the scratch regions; every size a constant.</summary>
                {{GeneratedCode}}
                """);
            w.Open("internal static class Layers");
            w.Write($$"""
                /// <summary>
                /// conv1 in float32: [{{a.InputChannels}}x{{a.InputSize}}x{{a.InputSize}}] → im2col · W^T + b, ReLU → [{{a.Conv1OutSize * a.Conv1OutSize}} pixels x {{a.Conv1Channels}}];
                /// {{Grouped(costs[0].MultiplyAdds)}} multiply-adds.
                /// </summary>
                internal static void Conv1(QuantizedCapsNet weights, Span<float> scratch, ReadOnlySpan<float> image, SimdTier tier)
                {
                    Span<float> patches = scratch.Slice(ScratchPatchesOffset, Conv1Pixels * Conv1PatchLength);
                    Im2Col.Run(image, InputChannels, InputSize, InputSize, Conv1Kernel, Conv1Stride, patches);
                    PackedGemm.Multiply(patches, Conv1Pixels, Conv1PatchLength, weights.PackedConv1Weight, Conv1Channels,
                        weights.Conv1Bias, Activation.Relu, scratch.Slice(ScratchConv1Offset, Conv1Pixels * Conv1Channels), tier);
                }

                /// <summary>
                /// Primary conv {{a.Conv1Channels}}→{{a.PrimaryChannels}} {{a.PrimaryKernel}}x{{a.PrimaryKernel}}/{{a.PrimaryStride}} in int8: u7 codes of conv1's output, byte im2col, exact int32
                /// sums, × s_a·s_w[n] + bias[n]; {{Grouped(costs[1].MultiplyAdds)}} multiply-adds.
                /// </summary>
                internal static void PrimaryConv(QuantizedCapsNet weights, Span<float> scratch, Int8Tier int8Tier)
                {
                    Span<byte> codes = MemoryMarshal.AsBytes(scratch.Slice(ScratchCodesOffset, ScratchCodePatchesOffset - ScratchCodesOffset))
                        .Slice(0, Conv1Pixels * Conv1Channels);
                    Span<byte> patches = MemoryMarshal.AsBytes(
                        scratch.Slice(ScratchCodePatchesOffset, ScratchAccumulatorsOffset - ScratchCodePatchesOffset))
                        .Slice(0, PrimaryPositions * PrimaryPatchLength);
                    Span<int> sums = MemoryMarshal.Cast<float, int>(scratch.Slice(ScratchAccumulatorsOffset, PrimaryPositions * PrimaryChannels));
                    QuantizedCapsNet.QuantizeU7(scratch.Slice(ScratchConv1Offset, Conv1Pixels * Conv1Channels), 1f / weights.PrimaryInputScale,
                        codes);
                    QuantizedCapsNet.Im2ColChannelsLast(codes, Conv1Channels, Conv1OutSize, PrimaryKernel, PrimaryStride, PrimaryGridSize,
                        patches);
                    QuantizedGemm.Multiply(patches, PrimaryPositions, PrimaryPatchLength, weights.PackedPrimaryWeight, PrimaryChannels, sums,
                        int8Tier);
                    QuantizedCapsNet.Dequantise(sums, PrimaryPositions, PrimaryChannels, weights.PrimaryMultiplier, weights.PrimaryBias,
                        scratch.Slice(ScratchPrimaryConvOffset, PrimaryPositions * PrimaryChannels));
                }

                /// <summary>All capsules from the primary conv's channels (PrimaryCapsuleLayout), squashed (eq. 1).</summary>
                internal static void RegroupAndSquash(Span<float> scratch, SimdTier tier)
                    => PrimaryCapsuleLayout.RegroupAndSquash(scratch.Slice(ScratchPrimaryConvOffset, PrimaryPositions * PrimaryChannels),
                        PrimaryPositions, PrimaryDims, 0, PrimaryCapsules, scratch.Slice(ScratchPrimaryOffset, PrimaryCapsules * PrimaryDims),
                        tier);

                /// <summary>Prediction vectors û_{j|i} = W_ij u_i (eq. 2); {{Grouped(costs[2].MultiplyAdds)}} multiply-adds.</summary>
                internal static void CapsuleTransform(QuantizedCapsNet weights, Span<float> scratch, SimdTier tier)
                    => global::CapsEmbedded.Kernels.CapsuleTransform.Run(
                        scratch.Slice(ScratchPrimaryOffset, PrimaryCapsules * PrimaryDims), weights.PackedDigitWeight, PrimaryCapsules, Classes, ClassDims, PrimaryDims,
                        scratch.Slice(ScratchUHatOffset, PrimaryCapsules * Classes * ClassDims), tier);

                """);
            CapsuleLayers(w, a, "QuantizedCapsNet", "Packed");
            w.Close();
            w.Close();
            CloseNamespace(w, spec);
            return w.ToString();
        }
    }
}
