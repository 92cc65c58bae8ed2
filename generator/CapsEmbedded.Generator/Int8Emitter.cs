using System;
using System.Collections.Generic;
using CapsEmbedded.Generator.Model;
using static CapsEmbedded.Generator.Emitter;

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
        private const string Kernels = "global::CapsEmbedded.Kernels";
        private const string Int8 = "global::CapsEmbedded.Kernels.Int8";
        private const string RuntimeNs = "global::CapsEmbedded.Runtime";
        private const string Q = "global::CapsEmbedded.Quantization";
        private const string Net = Q + ".QuantizedCapsNet";
        private const string RoS = "global::System.ReadOnlySpan<float>";
        private const string S = "global::System.Span<float>";
        private const string Tier = Kernels + ".SimdTier";
        private const string Int8Tier = Int8 + ".Int8Tier";
        private const string Marshal = "global::System.Runtime.InteropServices.MemoryMarshal";

        public static IEnumerable<(string HintName, string Source)> Emit(ModelSpec spec)
        {
            string prefix = spec.Target.Namespace is null ? spec.Target.ClassName : spec.Target.Namespace + "." + spec.Target.ClassName;
            yield return (prefix + ".Model.g.cs", EmitModel(spec));
        }

        /// <summary>Scratch regions in floats, each 64-byte aligned; the byte and int32 regions are floats reinterpreted.</summary>
        private static List<(string Name, long Floats, string Doc)> Regions(CapsNetArchitecture a)
        {
            long pixels = (long)a.Conv1OutSize * a.Conv1OutSize, positions = (long)a.PrimaryGridSize * a.PrimaryGridSize;
            long codes = pixels * a.Conv1Channels, codePatches = positions * a.Conv1Channels * a.PrimaryKernel * a.PrimaryKernel;
            long n = a.PrimaryCapsules, j = a.Classes, d = a.ClassDims;
            return new List<(string, long, string)>
            {
                ("Patches", pixels * a.InputChannels * a.Conv1Kernel * a.Conv1Kernel, "conv1's im2col patches"),
                ("Conv1", codes, "conv1 output after ReLU, [y][x][channel]"),
                ("Codes", (codes + 3) / 4, $"conv1's u7 codes [y][x][channel], {N(codes)} bytes"),
                ("CodePatches", (codePatches + 3) / 4, $"the primary conv's byte im2col [position][ky][kx][c], {N(codePatches)} bytes"),
                ("Accumulators", positions * a.PrimaryChannels, "the primary conv's exact int32 sums [position][channel]"),
                ("PrimaryConv", positions * a.PrimaryChannels, "primary conv output [position][type·dims + d], dequantised, bias added"),
                ("Primary", n * a.PrimaryDims, "primary capsules u_i [i][d], i = type·grid² + position, squashed (eq. 1)"),
                ("UHat", n * j * d, "predictions û_{j|i} = W_ij u_i [i][j][d] (eq. 2)"),
                ("Logits", n * j, "routing logits b_ij (Procedure 1)"),
                ("Coupling", n * j, "coupling coefficients c_ij = softmax_j(b_ij) (eq. 3)"),
                ("DigitCaps", j * d, "digit capsules v_j [j][d]"),
                ("Masked", j * d, "decoder input: v with every capsule but the predicted one zeroed"),
                ("Hidden1", a.DecoderHidden1, "decoder fc1 output (ReLU)"),
                ("Hidden2", a.DecoderHidden2, "decoder fc2 output (ReLU)"),
            };
        }

        private static string EmitModel(ModelSpec spec)
        {
            var a = spec.Weights.Architecture!;
            var h = spec.Weights;
            var w = new SourceWriter();
            Header(w, spec);
            bool hasNamespace = spec.Target.Namespace is not null;
            if (hasNamespace) w.Open($"namespace {spec.Target.Namespace}");

            w.Line("/// <summary>");
            w.Line($"/// The int8-quantised CapsNet of <c>{Escape(h.FileName)}</c> as fixed-shape code: conv1 in float32, its ReLU output as");
            w.Line("/// u7 codes, the primary-capsule conv as exact int32 sums on the int8 kernels, then squash, routing and lengths in float32.");
            w.Line("/// Thread-safe: one <see cref=\"Weights\"/>, one <see cref=\"Workspace\"/> per thread.");
            w.Line("/// </summary>");
            w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"{GeneratorName}\", \"{GeneratorVersion}\")]");
            w.Open($"{spec.Target.Accessibility} static partial class {spec.Target.ClassName}");

            void Const(string type, string name, string value, string doc)
            {
                w.Line($"/// <summary>{doc}</summary>");
                w.Line($"public const {type} {name} = {value};");
            }
            w.Line("// ---- Sizes ------------------------------------------------------------------------------------");
            w.Line();
            Const("int", "InputSize", N(a.InputSize), "Input side S.");
            Const("int", "InputChannels", N(a.InputChannels), "Input channels.");
            Const("int", "InputLength", N(a.InputLength), "Values of one image: S·S·channels, [channel][y][x], in [0, 1].");
            Const("int", "Conv1Channels", N(a.Conv1Channels), "conv1 kernels.");
            Const("int", "Conv1Kernel", N(a.Conv1Kernel), "conv1 kernel side.");
            Const("int", "Conv1Stride", N(a.Conv1Stride), "conv1 stride.");
            Const("int", "Conv1OutSize", N(a.Conv1OutSize), "conv1 output side.");
            Const("int", "Conv1Pixels", N((long)a.Conv1OutSize * a.Conv1OutSize), "conv1 output pixels: the GEMM's m.");
            Const("int", "Conv1PatchLength", N((long)a.InputChannels * a.Conv1Kernel * a.Conv1Kernel), "conv1 patch length: the GEMM's k.");
            Const("int", "PrimaryTypes", N(a.PrimaryTypes), "Primary capsule types.");
            Const("int", "PrimaryDims", N(a.PrimaryDims), "Primary capsule dimensions.");
            Const("int", "PrimaryKernel", N(a.PrimaryKernel), "Primary conv kernel side.");
            Const("int", "PrimaryStride", N(a.PrimaryStride), "Primary conv stride.");
            Const("int", "PrimaryGridSize", N(a.PrimaryGridSize), "Primary capsule grid side.");
            Const("int", "PrimaryPositions", N((long)a.PrimaryGridSize * a.PrimaryGridSize), "Primary grid positions: the int8 GEMM's m.");
            Const("int", "PrimaryChannels", N(a.PrimaryChannels), "Primary conv output channels: types·dims (the int8 GEMM's n).");
            Const("int", "PrimaryPatchLength", N((long)a.Conv1Channels * a.PrimaryKernel * a.PrimaryKernel), "Primary conv patch length: the int8 GEMM's k.");
            Const("int", "PrimaryCapsules", N(a.PrimaryCapsules), "Primary capsules i = type·grid² + y·grid + x.");
            Const("int", "Classes", N(a.Classes), "Digit capsules j (classes).");
            Const("int", "ClassDims", N(a.ClassDims), "Digit capsule dimensions.");
            Const("int", "RoutingIterations", N(a.RoutingIterations), "Routing iterations r (Procedure 1).");
            Const("int", "DecoderInput", N(a.DecoderInput), "Decoder input: classes·classDims, class-major.");
            Const("int", "DecoderHidden1", N(a.DecoderHidden1), "Decoder fc1 width.");
            Const("int", "DecoderHidden2", N(a.DecoderHidden2), "Decoder fc2 width.");
            Const("int", "DecoderOutput", N(a.DecoderOutput), "Decoder output: one value per input pixel.");
            Const("long", "ParameterCount", N(a.ParameterCount), "Parameters of the model.");
            Const("long", "MultiplyAdds", N(a.MultiplyAdds), "Multiply-adds of one forward pass with the decoder.");
            w.Line();

            w.Line("// ---- Weight file ------------------------------------------------------------------------------");
            w.Line();
            Const("string", "WeightsFileName", Quote(h.FileName), "The weight file this model was generated from.");
            Const("string", "WeightsResourceName", Quote(h.ResourceName), "The manifest resource that embeds it.");
            Const("string", "WeightsSha256", Quote(h.Sha256), "SHA-256 of the weight file, lower-case hex.");
            Const("long", "WeightsFileLength", N(h.FileLength), "Bytes of the weight file.");
            Const("string", "QuantizationScheme", Quote(global::CapsEmbedded.Quantization.QuantizedHeaderValidator.Scheme),
                "The file's capsnet.quantization: int8 weights per output channel, u7 activations.");
            w.Line($"/// <summary>One name per class j, from the weight file's capsnet.class_names metadata (\"0\"..\"{N(a.Classes - 1)}\" when it has none).</summary>");
            w.Line($"public static global::System.Collections.Generic.IReadOnlyList<string> ClassNames {{ get; }} = global::System.Array.AsReadOnly(new string[] {{ {string.Join(", ", ClassNames(h, a.Classes))} }});");
            w.Line();

            w.Line("// ---- Scratch (floats, each region 64-byte aligned; bytes and int32 sums reinterpret theirs) -----");
            w.Line();
            long offset = 0;
            foreach (var (name, floats, doc) in Regions(a))
            {
                Const("int", "Scratch" + name + "Offset", N(offset), $"Scratch region: {Escape(doc)}; {N(floats)} floats.");
                offset += (floats + 15) / 16 * 16;
            }
            Const("int", "ScratchLength", N(offset), $"Floats of scratch one forward pass needs ({Grouped(offset * 4)} bytes).");
            w.Line();

            w.Line("// ---- API ----------------------------------------------------------------------------------------");
            w.Line();
            w.Line("/// <summary>The architecture this code was generated for.</summary>");
            w.Open("public static global::CapsEmbedded.CapsNetArchitecture Architecture { get; } = new global::CapsEmbedded.CapsNetArchitecture");
            foreach (var (name, value) in a.Fields()) w.Line($"{PascalName(name)} = {N(value)},");
            w.Close(";");
            w.Line();
            w.Line("/// <summary>The float SIMD tier Predict uses on this machine.</summary>");
            w.Line($"public static {Tier} ActiveTier => {Kernels}.SimdTiers.Best;");
            w.Line();
            w.Line("/// <summary>The int8 tier the primary-capsule conv uses on this machine.</summary>");
            w.Line($"public static {Int8Tier} ActiveInt8Tier => {Int8}.Int8Tiers.Best;");
            w.Line();

            EmitWeights(w);
            EmitWorkspace(w);
            EmitPredict(w);
            EmitLayers(w, a);

            w.Close();
            if (hasNamespace) w.Close();
            return w.ToString();
        }

        private static void EmitWeights(SourceWriter w)
        {
            w.Line("/// <summary>");
            w.Line("/// The model's weights, packed once by <see cref=\"" + Net + "\"/> (float tensors for the float kernels, the");
            w.Line("/// primary conv's int8 weight for QuantizedGemm) in aligned native memory. Immutable once built: share one instance.");
            w.Line("/// </summary>");
            w.Open("public sealed class Weights : global::System.IDisposable");
            w.Line("private static Weights? s_embedded;");
            w.Line();
            w.Line($"private Weights({Net} packed) => Packed = packed;");
            w.Line();
            w.Line("/// <summary>The packed tensors.</summary>");
            w.Line($"internal {Net} Packed {{ get; }}");
            w.Line();
            w.Line("/// <summary>The quantised file embedded in this assembly, validated (values included) and packed at first use; lives as long as the process.</summary>");
            w.Line("public static Weights Embedded => global::System.Threading.Volatile.Read(ref s_embedded) ?? CreateEmbedded();");
            w.Line();
            w.Open("private static Weights CreateEmbedded()");
            w.Line($"var created = FromWeights({Q}.QuantizedWeightsFile.ReadEmbedded(typeof(Weights).Assembly, WeightsResourceName, WeightsFileLength), WeightsResourceName);");
            w.Line("var winner = global::System.Threading.Interlocked.CompareExchange(ref s_embedded, created, null);");
            w.Open("if (winner is not null)");
            w.Line("created.Packed.Dispose();");
            w.Line("return winner;");
            w.Close();
            w.Line("return created;");
            w.Close();
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Reads a quantised weight file of this model's architecture and packs it. Throws");
            w.Line("/// <see cref=\"global::CapsEmbedded.Weights.WeightFormatException\"/> naming the problem (a float file, another architecture, a bad value).");
            w.Line("/// </summary>");
            w.Line($"public static Weights Load(string path) => FromWeights({Q}.QuantizedWeightsFile.Load(path), path);");
            w.Line();
            w.Line("/// <summary>Packs quantised weights held in managed arrays (from the quantiser or a file); their architecture must be this model's.</summary>");
            w.Open($"public static Weights FromWeights({Q}.QuantizedCapsNetWeights weights, string? source = null)");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(weights);");
            w.Line($"{RuntimeNs}.PackedCapsNetWeights.ThrowIfArchitectureDiffers(weights.Architecture, Architecture, source ?? \"weights\");");
            w.Line($"return new Weights({Net}.Create(weights));");
            w.Close();
            w.Line();
            w.Line("/// <summary>Frees the packed weights once no Predict uses them (no-op for <see cref=\"Embedded\"/>).</summary>");
            w.Open("public void Dispose()");
            w.Line("if (!ReferenceEquals(this, global::System.Threading.Volatile.Read(ref s_embedded))) Packed.Dispose();");
            w.Close();
            w.Close();
            w.Line();
        }

        private static void EmitWorkspace(SourceWriter w)
        {
            w.Line("/// <summary>Scratch for one forward pass at a time (<see cref=\"ScratchLength\"/> floats, 64-byte aligned). Create once, reuse; one per thread.</summary>");
            w.Open("public sealed class Workspace : global::System.IDisposable");
            w.Line($"private readonly {RuntimeNs}.AlignedBuffer _scratch = new {RuntimeNs}.AlignedBuffer(ScratchLength);");
            w.Line();
            w.Line($"internal {S} Scratch => _scratch.Span;");
            w.Line();
            w.Line("/// <summary>Frees the scratch memory (not while a Predict call is using it).</summary>");
            w.Line("public void Dispose() => _scratch.Dispose();");
            w.Close();
            w.Line();
        }

        private static void EmitPredict(SourceWriter w)
        {
            w.Line("/// <summary>");
            w.Line("/// Classifies one image with the best float and int8 tiers: fills <paramref name=\"lengths\"/> with |v_j| and returns the");
            w.Line("/// longest capsule's class. <paramref name=\"capsules\"/> (classes·classDims) and <paramref name=\"reconstruction\"/>");
            w.Line("/// are written only when non-empty. Allocation-free.");
            w.Line("/// </summary>");
            w.Line($"public static int Predict(Weights weights, Workspace workspace, {RoS} image, {S} lengths,");
            w.Line($"    {S} capsules = default, {S} reconstruction = default)");
            w.Line($"    => Predict(weights, workspace, image, lengths, capsules, reconstruction, {Kernels}.SimdTiers.Best, {Int8}.Int8Tiers.Best);");
            w.Line();
            w.Line("/// <summary>As the other overload, with both tiers forced (tests compare tiers with this).</summary>");
            w.Line($"public static int Predict(Weights weights, Workspace workspace, {RoS} image, {S} lengths,");
            w.Line($"    {S} capsules, {S} reconstruction, {Tier} tier, {Int8Tier} int8Tier)");
            w.Open("");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(weights);");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(workspace);");
            w.Line("CheckTiers(tier, int8Tier);");
            w.Line("CheckImageArguments(image, lengths, capsules, reconstruction);");
            w.Line("return Forward(weights.Packed, workspace.Scratch, image, lengths, capsules, reconstruction, tier, int8Tier);");
            w.Close();
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Classifies <c>images.Length / InputLength</c> images one after another on the calling thread with one workspace:");
            w.Line("/// lengths [count·classes], classes [count]. Allocation-free.");
            w.Line("/// </summary>");
            w.Line($"public static void PredictBatch(Weights weights, Workspace workspace, {RoS} images, {S} lengths, global::System.Span<int> classes)");
            w.Line($"    => PredictBatch(weights, workspace, images, lengths, classes, {Kernels}.SimdTiers.Best, {Int8}.Int8Tiers.Best);");
            w.Line();
            w.Line("/// <summary>As the other overload, with both tiers forced.</summary>");
            w.Line($"public static void PredictBatch(Weights weights, Workspace workspace, {RoS} images, {S} lengths, global::System.Span<int> classes,");
            w.Line($"    {Tier} tier, {Int8Tier} int8Tier)");
            w.Open("");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(weights);");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(workspace);");
            w.Line("CheckTiers(tier, int8Tier);");
            w.Line("int count = images.Length / InputLength;");
            w.Line("if (count * InputLength != images.Length)");
            w.Line("    throw new global::System.ArgumentException($\"images has {images.Length} values, not a multiple of the image size {InputLength}\", nameof(images));");
            w.Line("if (lengths.Length < (long)count * Classes)");
            w.Line("    throw new global::System.ArgumentException($\"lengths has room for {lengths.Length} values; {count} images need {(long)count * Classes}\", nameof(lengths));");
            w.Line("if (classes.Length < count)");
            w.Line("    throw new global::System.ArgumentException($\"classes has room for {classes.Length} values; the batch has {count} images\", nameof(classes));");
            w.Line("for (int i = 0; i < count; i++)");
            w.Line("    classes[i] = Forward(weights.Packed, workspace.Scratch, images.Slice(i * InputLength, InputLength), lengths.Slice(i * Classes, Classes), default, default, tier, int8Tier);");
            w.Close();
            w.Line();
            w.Line("/// <summary>The decoder alone (paper §4.1) on <paramref name=\"capsules\"/> with every capsule but <paramref name=\"keep\"/> zeroed. Allocation-free.</summary>");
            w.Open($"public static void Reconstruct(Weights weights, Workspace workspace, {RoS} capsules, int keep, {S} reconstruction)");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(weights);");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(workspace);");
            w.Line("if (capsules.Length != DecoderInput)");
            w.Line("    throw new global::System.ArgumentException($\"capsules has {capsules.Length} values; the decoder takes {Classes}x{ClassDims}\", nameof(capsules));");
            w.Line("if ((uint)keep >= (uint)Classes)");
            w.Line("    throw new global::System.ArgumentOutOfRangeException(nameof(keep), keep, $\"the class to keep must be in 0..{Classes - 1}\");");
            w.Line("if (reconstruction.Length < DecoderOutput)");
            w.Line("    throw new global::System.ArgumentException($\"reconstruction has room for {reconstruction.Length} values; {DecoderOutput} are needed\", nameof(reconstruction));");
            w.Line($"{S} scratch = workspace.Scratch;");
            w.Line("capsules.CopyTo(scratch.Slice(ScratchDigitCapsOffset, DecoderInput));");
            w.Line("Layers.Mask(scratch, keep);");
            w.Line($"Layers.Decoder(weights.Packed, scratch, reconstruction.Slice(0, DecoderOutput), {Kernels}.SimdTiers.Best);");
            w.Close();
            w.Line();
            w.Open($"private static void CheckImageArguments({RoS} image, {S} lengths, {S} capsules, {S} reconstruction)");
            w.Line("if (image.Length != InputLength)");
            w.Line("    throw new global::System.ArgumentException($\"the image has {image.Length} values; this model takes {InputLength} ({InputSize}x{InputSize}x{InputChannels})\", nameof(image));");
            w.Line("if (lengths.Length < Classes)");
            w.Line("    throw new global::System.ArgumentException($\"lengths has room for {lengths.Length} values; the model has {Classes} classes\", nameof(lengths));");
            w.Line("if (!capsules.IsEmpty && capsules.Length < DecoderInput)");
            w.Line("    throw new global::System.ArgumentException($\"capsules has room for {capsules.Length} values; {Classes}x{ClassDims} are needed\", nameof(capsules));");
            w.Line("if (!reconstruction.IsEmpty && reconstruction.Length < DecoderOutput)");
            w.Line("    throw new global::System.ArgumentException($\"reconstruction has room for {reconstruction.Length} values; {DecoderOutput} are needed\", nameof(reconstruction));");
            w.Close();
            w.Line();
            w.Open($"private static void CheckTiers({Tier} tier, {Int8Tier} int8Tier)");
            w.Line($"if (!{Kernels}.SimdTiers.IsSupported(tier))");
            w.Line("    throw new global::System.PlatformNotSupportedException($\"SIMD tier {tier} is not supported on this machine\");");
            w.Line($"{Int8}.Int8Tiers.ThrowIfUnsupported(int8Tier);");
            w.Close();
            w.Line();
            w.Line("/// <summary>The forward pass for one image; the caller has checked the spans and the tiers. QuantizedCapsNet.Predict's order, so its bits.</summary>");
            w.Open($"private static int Forward({Net} weights, {S} scratch, {RoS} image, {S} lengths, {S} capsules, {S} reconstruction, {Tier} tier, {Int8Tier} int8Tier)");
            w.Line("Layers.Conv1(weights, scratch, image, tier);");
            w.Line("Layers.PrimaryConv(weights, scratch, int8Tier);");
            w.Line("Layers.RegroupAndSquash(scratch, tier);");
            w.Line("Layers.CapsuleTransform(weights, scratch, tier);");
            w.Line("Layers.Route(scratch, tier);");
            w.Line("int predicted = Layers.Lengths(scratch, lengths, tier);");
            w.Line("if (!capsules.IsEmpty) scratch.Slice(ScratchDigitCapsOffset, DecoderInput).CopyTo(capsules);");
            w.Open("if (!reconstruction.IsEmpty)");
            w.Line("Layers.Mask(scratch, predicted);");
            w.Line("Layers.Decoder(weights, scratch, reconstruction.Slice(0, DecoderOutput), tier);");
            w.Close();
            w.Line("return predicted;");
            w.Close();
            w.Line();
        }

        private static void EmitLayers(SourceWriter w, CapsNetArchitecture a)
        {
            var costs = a.LayerCosts;
            string Cost(int index) => Grouped(costs[index].MultiplyAdds) + " multiply-adds";
            w.Line("/// <summary>The layers, one method each, reading and writing the scratch regions; every size a constant.</summary>");
            w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"{GeneratorName}\", \"{GeneratorVersion}\")]");
            w.Open("internal static class Layers");

            w.Line($"/// <summary>conv1 in float32: [{a.InputChannels}x{a.InputSize}x{a.InputSize}] → im2col · W^T + b, ReLU → [{a.Conv1OutSize * a.Conv1OutSize} pixels x {a.Conv1Channels}]; {Cost(0)}.</summary>");
            w.Open($"internal static void Conv1({Net} weights, {S} scratch, {RoS} image, {Tier} tier)");
            w.Line($"{S} patches = scratch.Slice(ScratchPatchesOffset, Conv1Pixels * Conv1PatchLength);");
            w.Line($"{Kernels}.Im2Col.Run(image, InputChannels, InputSize, InputSize, Conv1Kernel, Conv1Stride, patches);");
            w.Line($"{Kernels}.PackedGemm.Multiply(patches, Conv1Pixels, Conv1PatchLength, weights.PackedConv1Weight, Conv1Channels, weights.Conv1Bias,");
            w.Line($"    {Kernels}.Activation.Relu, scratch.Slice(ScratchConv1Offset, Conv1Pixels * Conv1Channels), tier);");
            w.Close();
            w.Line();

            w.Line($"/// <summary>Primary conv {a.Conv1Channels}→{a.PrimaryChannels} {a.PrimaryKernel}x{a.PrimaryKernel}/{a.PrimaryStride} in int8: u7 codes of conv1's output, byte im2col, exact int32 sums, × s_a·s_w[n] + bias[n]; {Cost(1)}.</summary>");
            w.Open($"internal static void PrimaryConv({Net} weights, {S} scratch, {Int8Tier} int8Tier)");
            w.Line($"global::System.Span<byte> codes = {Marshal}.AsBytes(scratch.Slice(ScratchCodesOffset, ScratchCodePatchesOffset - ScratchCodesOffset)).Slice(0, Conv1Pixels * Conv1Channels);");
            w.Line($"global::System.Span<byte> patches = {Marshal}.AsBytes(scratch.Slice(ScratchCodePatchesOffset, ScratchAccumulatorsOffset - ScratchCodePatchesOffset)).Slice(0, PrimaryPositions * PrimaryPatchLength);");
            w.Line($"global::System.Span<int> sums = {Marshal}.Cast<float, int>(scratch.Slice(ScratchAccumulatorsOffset, PrimaryPositions * PrimaryChannels));");
            w.Line($"{Net}.QuantizeU7(scratch.Slice(ScratchConv1Offset, Conv1Pixels * Conv1Channels), 1f / weights.PrimaryInputScale, codes);");
            w.Line($"{Net}.Im2ColChannelsLast(codes, Conv1Channels, Conv1OutSize, PrimaryKernel, PrimaryStride, PrimaryGridSize, patches);");
            w.Line($"{Int8}.QuantizedGemm.Multiply(patches, PrimaryPositions, PrimaryPatchLength, weights.PackedPrimaryWeight, PrimaryChannels, sums, int8Tier);");
            w.Line($"{Net}.Dequantise(sums, PrimaryPositions, PrimaryChannels, weights.PrimaryMultiplier, weights.PrimaryBias,");
            w.Line("    scratch.Slice(ScratchPrimaryConvOffset, PrimaryPositions * PrimaryChannels));");
            w.Close();
            w.Line();

            w.Line("/// <summary>Channel k of the primary conv is type k / dims, dimension k % dims; capsule i = type·positions + position; squash (eq. 1).</summary>");
            w.Open($"internal static void RegroupAndSquash({S} scratch, {Tier} tier)");
            w.Line($"{RoS} conv = scratch.Slice(ScratchPrimaryConvOffset, PrimaryPositions * PrimaryChannels);");
            w.Line($"{S} primary = scratch.Slice(ScratchPrimaryOffset, PrimaryCapsules * PrimaryDims);");
            w.Open("for (int i = 0; i < PrimaryCapsules; i++)");
            w.Line("int type = i / PrimaryPositions, position = i % PrimaryPositions;");
            w.Line("conv.Slice(position * PrimaryChannels + type * PrimaryDims, PrimaryDims).CopyTo(primary.Slice(i * PrimaryDims, PrimaryDims));");
            w.Close();
            w.Line($"{Kernels}.Squash.Run(primary, PrimaryCapsules, PrimaryDims, tier);");
            w.Close();
            w.Line();

            w.Line($"/// <summary>Prediction vectors û_{{j|i}} = W_ij u_i (eq. 2); {Cost(2)}.</summary>");
            w.Open($"internal static void CapsuleTransform({Net} weights, {S} scratch, {Tier} tier)");
            w.Line($"{Kernels}.CapsuleTransform.Run(scratch.Slice(ScratchPrimaryOffset, PrimaryCapsules * PrimaryDims), weights.PackedDigitWeight,");
            w.Line("    PrimaryCapsules, Classes, ClassDims, PrimaryDims, scratch.Slice(ScratchUHatOffset, PrimaryCapsules * Classes * ClassDims), tier);");
            w.Close();
            w.Line();

            w.Line($"/// <summary>Routing by agreement (Procedure 1), r = {a.RoutingIterations}; {Cost(3)}.</summary>");
            w.Open($"internal static void Route({S} scratch, {Tier} tier)");
            w.Line($"{Kernels}.Routing.Run(scratch.Slice(ScratchUHatOffset, PrimaryCapsules * Classes * ClassDims), PrimaryCapsules, Classes, ClassDims,");
            w.Line("    RoutingIterations, scratch.Slice(ScratchLogitsOffset, PrimaryCapsules * Classes),");
            w.Line("    scratch.Slice(ScratchCouplingOffset, PrimaryCapsules * Classes), scratch.Slice(ScratchDigitCapsOffset, DecoderInput), tier);");
            w.Close();
            w.Line();

            w.Line("/// <summary>Capsule lengths |v_j| into <paramref name=\"lengths\"/>; returns the class of the longest (ties to the lowest, NaN never wins).</summary>");
            w.Open($"internal static int Lengths({S} scratch, {S} lengths, {Tier} tier)");
            w.Line($"{S} classLengths = lengths.Slice(0, Classes);");
            w.Line($"{Kernels}.CapsuleLengths.Run(scratch.Slice(ScratchDigitCapsOffset, DecoderInput), Classes, ClassDims, classLengths, tier);");
            w.Line("int longest = 0;");
            w.Line("for (int j = 1; j < Classes; j++)");
            w.Line("    if (classLengths[j] > classLengths[longest] || float.IsNaN(classLengths[longest]))");
            w.Line("        longest = float.IsNaN(classLengths[j]) ? longest : j;");
            w.Line("return longest;");
            w.Close();
            w.Line();

            w.Line("/// <summary>Decoder input: every digit capsule but <paramref name=\"keep\"/> set to zero.</summary>");
            w.Open($"internal static void Mask({S} scratch, int keep)");
            w.Line($"{S} masked = scratch.Slice(ScratchMaskedOffset, DecoderInput);");
            w.Line("masked.Clear();");
            w.Line("scratch.Slice(ScratchDigitCapsOffset + keep * ClassDims, ClassDims).CopyTo(masked.Slice(keep * ClassDims, ClassDims));");
            w.Close();
            w.Line();

            w.Line($"/// <summary>Decoder: {a.DecoderInput} → {a.DecoderHidden1} ReLU → {a.DecoderHidden2} ReLU → {a.DecoderOutput} sigmoid, in float32; {Cost(4)}.</summary>");
            w.Open($"internal static void Decoder({Net} weights, {S} scratch, {S} reconstruction, {Tier} tier)");
            w.Line($"{S} masked = scratch.Slice(ScratchMaskedOffset, DecoderInput);");
            w.Line($"{S} hidden1 = scratch.Slice(ScratchHidden1Offset, DecoderHidden1);");
            w.Line($"{S} hidden2 = scratch.Slice(ScratchHidden2Offset, DecoderHidden2);");
            w.Line($"{Kernels}.PackedGemm.Multiply(masked, 1, DecoderInput, weights.PackedFc1Weight, DecoderHidden1, weights.Fc1Bias, {Kernels}.Activation.Relu, hidden1, tier);");
            w.Line($"{Kernels}.PackedGemm.Multiply(hidden1, 1, DecoderHidden1, weights.PackedFc2Weight, DecoderHidden2, weights.Fc2Bias, {Kernels}.Activation.Relu, hidden2, tier);");
            w.Line($"{Kernels}.PackedGemm.Multiply(hidden2, 1, DecoderHidden2, weights.PackedFc3Weight, DecoderOutput, weights.Fc3Bias, {Kernels}.Activation.Sigmoid, reconstruction, tier);");
            w.Close();
            w.Close();
        }
    }
}
