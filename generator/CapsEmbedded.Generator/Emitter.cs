using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using CapsEmbedded.Generator.Model;

namespace CapsEmbedded.Generator
{
    /// <summary>
    /// Writes the C# of one model from its <see cref="ModelSpec"/>: <c>{Class}.Model.g.cs</c> (sizes, weight-file
    /// offsets, scratch layout, weights, workspace, Predict, PredictBatch) and <c>{Class}.Layers.g.cs</c> (the forward
    /// pass, one method per layer, every loop bound a constant).
    /// </summary>
    internal static class Emitter
    {
        public const string GeneratorName = "CapsEmbedded.Generator";
        public const string GeneratorVersion = "1.0.0";

        private const string Kernels = "global::CapsEmbedded.Kernels";
        private const string RuntimeNs = "global::CapsEmbedded.Runtime";

        /// <summary>One region of the per-call scratch buffer.</summary>
        private sealed class Region
        {
            public Region(string name, long length, string doc)
            {
                Name = name;
                Length = length;
                Doc = doc;
            }

            public string Name { get; }
            public long Length { get; }
            public string Doc { get; }
            public long Offset { get; set; }
        }

        public static IEnumerable<(string HintName, string Source)> Emit(ModelSpec spec)
            => spec.Weights.IsQuantized ? Int8Emitter.Emit(spec) : EmitFloat(spec);

        private static IEnumerable<(string HintName, string Source)> EmitFloat(ModelSpec spec)
        {
            string prefix = spec.Target.Namespace is null ? spec.Target.ClassName : spec.Target.Namespace + "." + spec.Target.ClassName;
            var regions = ScratchLayout(spec.Weights.Architecture!, out long scratchLength);
            yield return (prefix + ".Model.g.cs", EmitModel(spec, regions, scratchLength));
            yield return (prefix + ".Layers.g.cs", EmitLayers(spec));
        }

        internal static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

        /// <summary>1 234 567 style grouping for comments (invariant: commas).</summary>
        internal static string Grouped(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

        /// <summary>Scratch regions in the order the forward pass uses them, each 64-byte aligned (16 floats).</summary>
        private static List<Region> ScratchLayout(CapsNetArchitecture a, out long total)
        {
            long conv1Pixels = (long)a.Conv1OutSize * a.Conv1OutSize;
            long positions = (long)a.PrimaryGridSize * a.PrimaryGridSize;
            long conv1Patches = conv1Pixels * a.InputChannels * a.Conv1Kernel * a.Conv1Kernel;
            long primaryPatches = positions * a.Conv1Channels * a.PrimaryKernel * a.PrimaryKernel;
            long n = a.PrimaryCapsules, j = a.Classes, d = a.ClassDims;
            var regions = new List<Region>
            {
                new Region("Patches", Math.Max(conv1Patches, primaryPatches),
                    "im2col patches: conv1's, then (reused) the primary-capsule conv's"),
                new Region("Conv1", conv1Pixels * a.Conv1Channels, "conv1 output, pixel-major [y][x][channel]: the channels-last im2col's input"),
                new Region("PrimaryConv", positions * a.PrimaryChannels, "primary conv output [position][type·dims + d]"),
                new Region("Primary", n * a.PrimaryDims, "primary capsules u_i [i][d], i = type·grid² + position, squashed (eq. 1)"),
                new Region("UHat", n * j * d, "predictions û_{j|i} = W_ij u_i [i][j][d] (eq. 2)"),
                new Region("Logits", n * j, "routing logits b_ij (Procedure 1)"),
                new Region("Coupling", n * j, "coupling coefficients c_ij = softmax_j(b_ij) (eq. 3)"),
                new Region("DigitCaps", j * d, "digit capsules v_j [j][d]"),
                new Region("Masked", j * d, "decoder input: v with every capsule but the predicted one zeroed"),
                new Region("Hidden1", a.DecoderHidden1, "decoder fc1 output (ReLU)"),
                new Region("Hidden2", a.DecoderHidden2, "decoder fc2 output (ReLU)"),
            };
            long offset = 0;
            foreach (var r in regions)
            {
                r.Offset = offset;
                offset += (r.Length + 15) / 16 * 16;
            }
            total = offset;
            return regions;
        }

        /// <summary>"decoder.fc1.weight" → "DecoderFc1Weight".</summary>
        internal static string PascalName(string tensor)
        {
            var result = new StringBuilder();
            bool upper = true;
            foreach (char c in tensor)
            {
                if (c == '.' || c == '_' || c == '-')
                {
                    upper = true;
                    continue;
                }
                result.Append(upper ? char.ToUpperInvariant(c) : c);
                upper = false;
            }
            return result.ToString();
        }

        internal static void Header(SourceWriter w, ModelSpec spec)
        {
            var a = spec.Weights.Architecture!;
            var h = spec.Weights;
            w.Line("// <auto-generated/>");
            w.Line($"// Generated by {GeneratorName} {GeneratorVersion} from the weight file {h.FileName}:");
            w.Line($"//   SHA-256 {h.Sha256}, {Grouped(h.FileLength)} bytes, {Grouped(a.ParameterCount)} "
                + (h.IsQuantized ? "parameters (primary_caps.weight int8, the rest F32)." : "F32 parameters."));
            w.Line($"// Architecture: {a}");
            w.Line("//");
            w.Line("// Forward pass for one image (\"Dynamic Routing Between Capsules\", Sabour, Frosst, Hinton 2017):");
            w.Line("//   layer          output                                   multiply-adds");
            long s1 = a.Conv1OutSize, g = a.PrimaryGridSize;
            string[] outputs =
            {
                $"[{a.Conv1Channels} x {s1} x {s1}] ReLU",
                $"[{a.PrimaryCapsules} capsules x {a.PrimaryDims}D] squash",
                $"[{a.PrimaryCapsules} x {a.Classes} x {a.ClassDims}] u_hat",
                $"[{a.Classes} x {a.ClassDims}D] r = {a.RoutingIterations}",
                $"{a.DecoderHidden1} ReLU, {a.DecoderHidden2} ReLU, {a.DecoderOutput} sigmoid",
            };
            int k = 0;
            foreach (var cost in a.LayerCosts)
                w.Line($"//   {cost.Layer,-14} {(k < outputs.Length ? outputs[k++] : ""),-40} {Grouped(cost.MultiplyAdds),13}");
            w.Line($"//   {"total",-14} {"",-40} {Grouped(a.MultiplyAdds),13}  ({Grouped(2 * a.MultiplyAdds)} FLOP)");
            w.Line("// The class is the longest digit capsule; the decoder runs only when a reconstruction is requested.");
            w.Line("#nullable enable");
            w.Line();
        }

        private static void OpenClass(SourceWriter w, ModelSpec spec, out bool hasNamespace)
        {
            hasNamespace = spec.Target.Namespace is not null;
            if (hasNamespace) w.Open($"namespace {spec.Target.Namespace}");
        }

        private static string EmitModel(ModelSpec spec, List<Region> regions, long scratchLength)
        {
            var a = spec.Weights.Architecture!;
            var h = spec.Weights;
            string cls = spec.Target.ClassName;
            var w = new SourceWriter();
            Header(w, spec);
            OpenClass(w, spec, out bool hasNamespace);

            w.Line("/// <summary>");
            w.Line($"/// The CapsNet of <c>{Escape(h.FileName)}</c> as fixed-shape code: every size is a constant and the weights are");
            w.Line("/// packed once for the SIMD kernels. Thread-safe: one <see cref=\"Weights\"/>, one <see cref=\"Workspace\"/> per thread.");
            w.Line("/// </summary>");
            w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"{GeneratorName}\", \"{GeneratorVersion}\")]");
            w.Open($"{spec.Target.Accessibility} static partial class {cls}");

            w.Line("// ---- Sizes ------------------------------------------------------------------------------------");
            w.Line();
            void Const(string type, string name, string value, string doc)
            {
                w.Line($"/// <summary>{doc}</summary>");
                w.Line($"public const {type} {name} = {value};");
            }
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
            Const("int", "PrimaryPositions", N((long)a.PrimaryGridSize * a.PrimaryGridSize), "Primary grid positions: the GEMM's m.");
            Const("int", "PrimaryChannels", N(a.PrimaryChannels), "Primary conv output channels: types·dims.");
            Const("int", "PrimaryPatchLength", N((long)a.Conv1Channels * a.PrimaryKernel * a.PrimaryKernel), "Primary conv patch length: the GEMM's k.");
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
            Const("long", "WeightsDataOffset", N(8 + h.HeaderLength), "Start of the tensor data: 8-byte length prefix + JSON header.");
            var byName = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
            foreach (var t in h.Tensors) byName[t.Name] = t;
            var begins = new List<string>();
            var dtypes = new List<string>();
            foreach (var spec2 in a.Tensors)
            {
                var t = byName[spec2.Name];
                dtypes.Add(Quote(t.DType));
                string p = PascalName(t.Name);
                Const("long", p + "FileOffset", N(8 + h.HeaderLength + t.Begin), $"{t.Name} {spec2.ShapeText}: byte offset in the weight file.");
                Const("int", p + "Length", N(spec2.ElementCount), $"{t.Name} {spec2.ShapeText}: element count.");
                begins.Add(N(t.Begin));
            }
            w.Line();
            w.Line("/// <summary>Byte offset of each tensor in the data area, in <see cref=\"global::CapsEmbedded.CapsNetArchitecture.Tensors\"/> order.</summary>");
            w.Line($"private static global::System.ReadOnlySpan<long> TensorDataOffsets => new long[] {{ {string.Join(", ", begins)} }};");
            w.Line();
            w.Line("/// <summary>Each tensor's dtype in the file (F16 and BF16 are widened to float32 when packed), in the same order.</summary>");
            w.Line($"private static string[] TensorDataTypes => new string[] {{ {string.Join(", ", dtypes)} }};");
            w.Line();
            var classNames = ClassNames(h, a.Classes);
            w.Line("/// <summary>One name per class j, from the weight file's capsnet.class_names metadata (\"0\"..\"" + N(a.Classes - 1) + "\" when it has none).</summary>");
            w.Line($"public static global::System.Collections.Generic.IReadOnlyList<string> ClassNames {{ get; }} = global::System.Array.AsReadOnly(new string[] {{ {string.Join(", ", classNames)} }});");
            w.Line();

            w.Line("// ---- Scratch (floats, each region 64-byte aligned) ---------------------------------------------");
            w.Line();
            foreach (var r in regions)
            {
                Const("int", "Scratch" + r.Name + "Offset", N(r.Offset), $"Scratch region: {Escape(r.Doc)}; {N(r.Length)} floats.");
            }
            Const("int", "ScratchLength", N(scratchLength), $"Floats of scratch one forward pass needs ({Grouped(scratchLength * 4)} bytes).");
            w.Line();

            w.Line("// ---- API ----------------------------------------------------------------------------------------");
            w.Line();
            w.Line("/// <summary>The architecture this code was generated for.</summary>");
            w.Open("public static global::CapsEmbedded.CapsNetArchitecture Architecture { get; } = new global::CapsEmbedded.CapsNetArchitecture");
            foreach (var (name, value) in a.Fields()) w.Line($"{PascalName(name)} = {N(value)},");
            w.Close(";");
            w.Line();
            w.Line("/// <summary>The SIMD tier <see cref=\"Predict(Weights, Workspace, global::System.ReadOnlySpan{float}, global::System.Span{float}, global::System.Span{float}, global::System.Span{float})\"/> uses on this machine.</summary>");
            w.Line($"public static {Kernels}.SimdTier ActiveTier => {Kernels}.SimdTiers.Best;");
            w.Line();
            w.Line("/// <summary>A context for <see cref=\"PredictBatch(Weights, global::System.ReadOnlySpan{float}, global::System.Span{float}, global::System.Span{int}, " + RuntimeNs + ".BatchContext)\"/>: worker threads with one scratch buffer each.</summary>");
            w.Line("/// <param name=\"workerCount\">Threads including the caller's; 0 = one per processor.</param>");
            w.Line($"public static {RuntimeNs}.BatchContext CreateBatchContext(int workerCount = 0) => new {RuntimeNs}.BatchContext(ScratchLength, workerCount);");
            w.Line();

            EmitWeights(w, a);
            EmitWorkspace(w);
            EmitPredict(w);

            w.Close();
            if (hasNamespace) w.Close();
            return w.ToString();
        }

        private static void EmitWeights(SourceWriter w, CapsNetArchitecture a)
        {
            w.Line("/// <summary>");
            w.Line("/// The model's weights, packed for the kernels in one 64-byte-aligned native allocation. Immutable once built:");
            w.Line("/// share one instance between threads.");
            w.Line("/// </summary>");
            w.Open("public sealed class Weights : global::System.IDisposable");
            w.Line("private static Weights? s_embedded;");
            w.Line();
            w.Line($"private Weights({RuntimeNs}.PackedCapsNetWeights packed) => Packed = packed;");
            w.Line();
            w.Line("/// <summary>The packed tensors.</summary>");
            w.Line($"internal {RuntimeNs}.PackedCapsNetWeights Packed {{ get; }}");
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// The weights embedded in this assembly, packed at first use. The manifest resource is an UnmanagedMemoryStream");
            w.Line("/// whose pointer may be unaligned; the kernels need packed weights anyway, so they are packed once into one");
            w.Line("/// aligned native allocation (NativeMemory.AlignedAlloc, 64 bytes) that lives as long as the process.");
            w.Line("/// </summary>");
            w.Line("public static Weights Embedded => global::System.Threading.Volatile.Read(ref s_embedded) ?? CreateEmbedded();");
            w.Line();
            w.Open("private static Weights CreateEmbedded()");
            w.Line($"var packed = {RuntimeNs}.EmbeddedWeights.Pack(typeof(Weights).Assembly, WeightsResourceName, WeightsFileLength,");
            w.Line("    WeightsDataOffset, Architecture, TensorDataOffsets, TensorDataTypes);");
            w.Line("var created = new Weights(packed);");
            w.Line("var winner = global::System.Threading.Interlocked.CompareExchange(ref s_embedded, created, null);");
            w.Open("if (winner is not null)");
            w.Line("packed.Dispose();");
            w.Line("return winner;");
            w.Close();
            w.Line("return created;");
            w.Close();
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Reads a safetensors weight file of this model's architecture and packs it. Throws");
            w.Line("/// <see cref=\"global::CapsEmbedded.Weights.WeightFormatException\"/> naming the mismatch when the file holds another architecture.");
            w.Line("/// </summary>");
            w.Line("public static Weights Load(string path) => FromWeights(global::CapsEmbedded.Weights.CapsNetWeightsFile.Load(path), path);");
            w.Line();
            w.Line("/// <summary>Packs weights held in managed arrays (from a trainer or a file); their architecture must be this model's.</summary>");
            w.Open("public static Weights FromWeights(global::CapsEmbedded.Weights.CapsNetWeights weights, string? source = null)");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(weights);");
            w.Line($"{RuntimeNs}.PackedCapsNetWeights.ThrowIfArchitectureDiffers(weights.Architecture, Architecture, source ?? \"weights\");");
            w.Line($"return new Weights({RuntimeNs}.PackedCapsNetWeights.Pack(weights));");
            w.Close();
            w.Line();
            w.Line("/// <summary>Frees the packed weights once no Predict uses them (no-op for <see cref=\"Embedded\"/>, which lives as long as the process).</summary>");
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
            w.Line("internal global::System.Span<float> Scratch => _scratch.Span;");
            w.Line();
            w.Line("/// <summary>Frees the scratch memory (not while a Predict call is using it).</summary>");
            w.Line("public void Dispose() => _scratch.Dispose();");
            w.Close();
            w.Line();
        }

        private static void EmitPredict(SourceWriter w)
        {
            const string RoS = "global::System.ReadOnlySpan<float>";
            const string S = "global::System.Span<float>";
            w.Line("/// <summary>");
            w.Line("/// Classifies one image with the best SIMD tier: fills <paramref name=\"lengths\"/> with |v_j| and returns the");
            w.Line("/// longest capsule's class. <paramref name=\"capsules\"/> (classes·classDims) and <paramref name=\"reconstruction\"/>");
            w.Line("/// (the decoder's output for the predicted class) are written only when non-empty. Allocation-free.");
            w.Line("/// </summary>");
            w.Line($"public static int Predict(Weights weights, Workspace workspace, {RoS} image, {S} lengths,");
            w.Line($"    {S} capsules = default, {S} reconstruction = default)");
            w.Line($"    => Predict(weights, workspace, image, lengths, capsules, reconstruction, {Kernels}.SimdTiers.Best);");
            w.Line();
            w.Line("/// <summary>As the other overload, with the SIMD tier forced (tests compare tiers with this).</summary>");
            w.Line($"public static int Predict(Weights weights, Workspace workspace, {RoS} image, {S} lengths,");
            w.Line($"    {S} capsules, {S} reconstruction, {Kernels}.SimdTier tier)");
            w.Open("");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(weights);");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(workspace);");
            w.Line("CheckTier(tier);");
            w.Line("CheckImageArguments(image, lengths, capsules, reconstruction);");
            w.Line("return Forward(weights.Packed, workspace.Scratch, image, lengths, capsules, reconstruction, tier);");
            w.Close();
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Classifies one image with its work split over the context's worker threads (conv1 by pixel rows, the primary");
            w.Line("/// capsules' im2col by positions and GEMM by output-channel panels, squash and û by capsules; routing on the caller).");
            w.Line("/// Every output is summed in the same order as by the one-thread overload, so the results are the same bits for any");
            w.Line("/// worker count. Allocation-free; one call at a time per context.");
            w.Line("/// </summary>");
            w.Line($"public static int Predict(Weights weights, {RuntimeNs}.BatchContext context, {RoS} image, {S} lengths,");
            w.Line($"    {S} capsules = default, {S} reconstruction = default)");
            w.Line($"    => Predict(weights, context, image, lengths, capsules, reconstruction, {Kernels}.SimdTiers.Best);");
            w.Line();
            w.Line("/// <summary>As the other overload, with the SIMD tier forced.</summary>");
            w.Line($"public static int Predict(Weights weights, {RuntimeNs}.BatchContext context, {RoS} image, {S} lengths,");
            w.Line($"    {S} capsules, {S} reconstruction, {Kernels}.SimdTier tier)");
            w.Open("");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(weights);");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(context);");
            w.Line("CheckTier(tier);");
            w.Line("CheckImageArguments(image, lengths, capsules, reconstruction);");
            w.Line("CheckContext(context);");
            w.Line("context.RunParts(s_conv1Part, weights.Packed, image, tier);");
            w.Line("context.RunParts(s_primaryPatchesPart, weights.Packed, image, tier);");
            w.Line("context.RunParts(s_primaryConvPart, weights.Packed, image, tier);");
            w.Line("context.RunParts(s_capsulesPart, weights.Packed, image, tier);");
            w.Line("return Finish(weights.Packed, context.ImageScratch, lengths, capsules, reconstruction, tier);");
            w.Close();
            w.Line();
            w.Line("// The parallel Predict's layer parts, cached once so a call allocates no delegate.");
            w.Line($"private static readonly {RuntimeNs}.ImagePartRunner s_conv1Part = Layers.Conv1;");
            w.Line($"private static readonly {RuntimeNs}.ImagePartRunner s_primaryPatchesPart = Layers.PrimaryPatches;");
            w.Line($"private static readonly {RuntimeNs}.ImagePartRunner s_primaryConvPart = Layers.PrimaryConv;");
            w.Line($"private static readonly {RuntimeNs}.ImagePartRunner s_capsulesPart = Layers.Capsules;");
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
            w.Open($"private static void CheckContext({RuntimeNs}.BatchContext context)");
            w.Line("if (context.ScratchLength < ScratchLength)");
            w.Line("    throw new global::System.ArgumentException($\"the context's scratch holds {context.ScratchLength} floats; this model needs {ScratchLength} (use CreateBatchContext)\", nameof(context));");
            w.Close();
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// The decoder alone (paper §4.1): reconstructs an image from <paramref name=\"capsules\"/> (classes·classDims,");
            w.Line("/// class-major, e.g. from Predict, then edited) with every capsule but <paramref name=\"keep\"/> zeroed. Allocation-free.");
            w.Line("/// </summary>");
            w.Line($"public static void Reconstruct(Weights weights, Workspace workspace, {RoS} capsules, int keep, {S} reconstruction)");
            w.Line($"    => Reconstruct(weights, workspace, capsules, keep, reconstruction, {Kernels}.SimdTiers.Best);");
            w.Line();
            w.Line("/// <summary>As the other overload, with the SIMD tier forced.</summary>");
            w.Line($"public static void Reconstruct(Weights weights, Workspace workspace, {RoS} capsules, int keep, {S} reconstruction,");
            w.Line($"    {Kernels}.SimdTier tier)");
            w.Open("");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(weights);");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(workspace);");
            w.Line("CheckTier(tier);");
            w.Line("if (capsules.Length != DecoderInput)");
            w.Line("    throw new global::System.ArgumentException($\"capsules has {capsules.Length} values; the decoder takes {Classes}x{ClassDims}\", nameof(capsules));");
            w.Line("if ((uint)keep >= (uint)Classes)");
            w.Line("    throw new global::System.ArgumentOutOfRangeException(nameof(keep), keep, $\"the class to keep must be in 0..{Classes - 1}\");");
            w.Line("if (reconstruction.Length < DecoderOutput)");
            w.Line("    throw new global::System.ArgumentException($\"reconstruction has room for {reconstruction.Length} values; {DecoderOutput} are needed\", nameof(reconstruction));");
            w.Line("global::System.Span<float> scratch = workspace.Scratch;");
            w.Line("capsules.CopyTo(scratch.Slice(ScratchDigitCapsOffset, DecoderInput));");
            w.Line("Layers.Mask(scratch, keep);");
            w.Line("Layers.Decoder(weights.Packed, scratch, reconstruction.Slice(0, DecoderOutput), tier);");
            w.Close();
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Classifies <c>images.Length / InputLength</c> images spread over the context's worker threads (each with its");
            w.Line("/// own scratch): lengths [count·classes], classes [count]. Allocation-free once the context exists.");
            w.Line("/// </summary>");
            w.Line($"public static void PredictBatch(Weights weights, {RoS} images, {S} lengths, global::System.Span<int> classes,");
            w.Line($"    {RuntimeNs}.BatchContext context)");
            w.Line($"    => PredictBatch(weights, images, lengths, classes, context, {Kernels}.SimdTiers.Best);");
            w.Line();
            w.Line("/// <summary>As the other overload, with the SIMD tier forced.</summary>");
            w.Line($"public static void PredictBatch(Weights weights, {RoS} images, {S} lengths, global::System.Span<int> classes,");
            w.Line($"    {RuntimeNs}.BatchContext context, {Kernels}.SimdTier tier)");
            w.Open("");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(weights);");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(context);");
            w.Line("CheckTier(tier);");
            w.Line("if (images.Length % InputLength != 0)");
            w.Line("    throw new global::System.ArgumentException($\"images has {images.Length} values, not a multiple of the image size {InputLength}\", nameof(images));");
            w.Line("CheckContext(context);");
            w.Line("context.Run(s_predictItem, weights.Packed, tier, images, InputLength, lengths, Classes, classes);");
            w.Close();
            w.Line();
            w.Line("// Cached once so a batch call allocates no delegate.");
            w.Line($"private static readonly {RuntimeNs}.BatchItemPredictor s_predictItem = PredictItem;");
            w.Line();
            w.Line($"private static int PredictItem({RuntimeNs}.PackedCapsNetWeights weights, {RoS} image, {S} lengths, {S} scratch, {Kernels}.SimdTier tier)");
            w.Line("    => Forward(weights, scratch, image, lengths, default, default, tier);");
            w.Line();
            w.Line($"private static void CheckTier({Kernels}.SimdTier tier)");
            w.Open("");
            w.Line($"if (!{Kernels}.SimdTiers.IsSupported(tier))");
            w.Line("    throw new global::System.PlatformNotSupportedException($\"SIMD tier {tier} is not supported on this machine\");");
            w.Close();
        }

        private static string EmitLayers(ModelSpec spec)
        {
            var a = spec.Weights.Architecture!;
            var w = new SourceWriter();
            Header(w, spec);
            OpenClass(w, spec, out bool hasNamespace);
            const string RoS = "global::System.ReadOnlySpan<float>";
            const string S = "global::System.Span<float>";
            const string Packed = RuntimeNs + ".PackedCapsNetWeights";
            const string Tier = Kernels + ".SimdTier";
            var costs = a.LayerCosts;
            string Cost(int index) => Grouped(costs[index].MultiplyAdds) + " multiply-adds";

            w.Open($"{spec.Target.Accessibility} static partial class {spec.Target.ClassName}");
            w.Line("/// <summary>The forward pass for one image on one thread; the caller has checked the spans and the tier.</summary>");
            w.Open($"private static int Forward({Packed} weights, {S} scratch, {RoS} image, {S} lengths, {S} capsules, {S} reconstruction, {Tier} tier)");
            w.Line("// The parallel Predict's parts, each taken whole (part 0 of 1): the same arithmetic, so the same bits.");
            w.Line("Layers.Conv1(weights, scratch, image, 0, 1, tier);");
            w.Line("Layers.PrimaryPatches(weights, scratch, image, 0, 1, tier);");
            w.Line("Layers.PrimaryConv(weights, scratch, image, 0, 1, tier);");
            w.Line("Layers.Capsules(weights, scratch, image, 0, 1, tier);");
            w.Line("return Finish(weights, scratch, lengths, capsules, reconstruction, tier);");
            w.Close();
            w.Line();
            w.Line("/// <summary>After û: routing, lengths, and what the caller asked for (capsules, reconstruction); one thread.</summary>");
            w.Open($"private static int Finish({Packed} weights, {S} scratch, {S} lengths, {S} capsules, {S} reconstruction, {Tier} tier)");
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
            w.Line("/// <summary>");
            w.Line("/// The layers, one method each, reading and writing the scratch regions. The layers before routing take a part of");
            w.Line("/// <c>parts</c> (<see cref=\"" + RuntimeNs + ".BatchContext.RunParts\"/>) and compute only their share of independent outputs.");
            w.Line("/// Public overloads take a <see cref=\"Workspace\"/> so benchmarks can time a layer alone (run the layers before it first).");
            w.Line("/// </summary>");
            w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"{GeneratorName}\", \"{GeneratorVersion}\")]");
            w.Open("public static class Layers");
            var body = w;
            const string Part = "int part, int parts, ";
            const string Range = RuntimeNs + ".BatchContext.PartRange";

            body.Line($"/// <summary>conv1: [{a.InputChannels}x{a.InputSize}x{a.InputSize}] → im2col [{a.Conv1OutSize * a.Conv1OutSize} x {a.InputChannels * a.Conv1Kernel * a.Conv1Kernel}] · W^T + b, ReLU → [{a.Conv1OutSize * a.Conv1OutSize} pixels x {a.Conv1Channels}]; {Cost(0)}.</summary>");
            body.Line($"public static void Conv1(Weights weights, Workspace workspace, {RoS} image, {Tier} tier)");
            body.Line("    => Conv1(weights.Packed, workspace.Scratch, image, 0, 1, tier);");
            body.Line();
            body.Line("/// <summary>This part's pixel rows of conv1 (im2col rows and GEMM rows), cut at PackedGemm.RowGranule.</summary>");
            body.Open($"internal static void Conv1({Packed} weights, {S} scratch, {RoS} image, {Part}{Tier} tier)");
            body.Line($"var (first, end) = {Range}(Conv1Pixels, {Kernels}.PackedGemm.RowGranule, part, parts);");
            body.Line("int rows = end - first;");
            body.Line("if (rows == 0) return;");
            body.Line($"{Kernels}.Im2Col.Run(image, InputChannels, InputSize, InputSize, Conv1Kernel, Conv1Stride,");
            body.Line("    scratch.Slice(ScratchPatchesOffset, Conv1Pixels * Conv1PatchLength), first, rows);");
            body.Line($"{Kernels}.PackedGemm.Multiply(scratch.Slice(ScratchPatchesOffset + first * Conv1PatchLength, rows * Conv1PatchLength), rows,");
            body.Line($"    Conv1PatchLength, weights.Conv1Weight, Conv1Channels, weights.Conv1Bias, {Kernels}.Activation.Relu,");
            body.Line("    scratch.Slice(ScratchConv1Offset + first * Conv1Channels, rows * Conv1Channels), tier);");
            body.Close();
            body.Line();

            body.Line($"/// <summary>Primary capsules: conv {a.Conv1Channels}→{a.PrimaryChannels} {a.PrimaryKernel}x{a.PrimaryKernel}/{a.PrimaryStride} → [{a.PrimaryGridSize * a.PrimaryGridSize} x {a.PrimaryChannels}], regrouped to {a.PrimaryCapsules} capsules x {a.PrimaryDims}D and squashed (eq. 1); {Cost(1)}.</summary>");
            body.Open($"public static void PrimaryCaps(Weights weights, Workspace workspace, {Tier} tier)");
            body.Line("PrimaryPatches(weights.Packed, workspace.Scratch, default, 0, 1, tier);");
            body.Line("PrimaryConv(weights.Packed, workspace.Scratch, default, 0, 1, tier);");
            body.Line("RegroupAndSquash(workspace.Scratch, 0, PrimaryCapsules, tier);");
            body.Close();
            body.Line();
            body.Line("/// <summary>This part's positions of the primary conv's channels-last im2col: conv1's [y][x][c] output read in place.</summary>");
            body.Open($"internal static void PrimaryPatches({Packed} weights, {S} scratch, {RoS} image, {Part}{Tier} tier)");
            body.Line($"var (first, end) = {Range}(PrimaryPositions, 1, part, parts);");
            body.Line($"{Kernels}.Im2Col.RunChannelsLast(scratch.Slice(ScratchConv1Offset, Conv1Pixels * Conv1Channels), Conv1Channels, Conv1OutSize,");
            body.Line("    Conv1OutSize, PrimaryKernel, PrimaryStride, scratch.Slice(ScratchPatchesOffset, PrimaryPositions * PrimaryPatchLength),");
            body.Line("    first, end - first);");
            body.Close();
            body.Line();
            body.Line("/// <summary>This part's output-channel panels of the primary conv GEMM (whole sums: k is never split).</summary>");
            body.Open($"internal static void PrimaryConv({Packed} weights, {S} scratch, {RoS} image, {Part}{Tier} tier)");
            body.Line("// Panels in pairs: the Vector512 tile covers two.");
            body.Line($"var (first, end) = {Range}({Kernels}.PackedGemm.PanelCount(PrimaryChannels), 2, part, parts);");
            body.Line("if (end == first) return;");
            body.Line($"{Kernels}.PackedGemm.MultiplyPanels(scratch.Slice(ScratchPatchesOffset, PrimaryPositions * PrimaryPatchLength), PrimaryPositions,");
            body.Line($"    PrimaryPatchLength, weights.PrimaryWeight, PrimaryChannels, weights.PrimaryBias, {Kernels}.Activation.None,");
            body.Line("    scratch.Slice(ScratchPrimaryConvOffset, PrimaryPositions * PrimaryChannels), tier, first, end);");
            body.Close();
            body.Line();
            body.Line("/// <summary>This part's capsules: regrouped and squashed (eq. 1), then their predictions û (eq. 2).</summary>");
            body.Open($"internal static void Capsules({Packed} weights, {S} scratch, {RoS} image, {Part}{Tier} tier)");
            body.Line($"var (first, end) = {Range}(PrimaryCapsules, 8, part, parts);");
            body.Line("RegroupAndSquash(scratch, first, end, tier);");
            body.Line("CapsuleTransform(weights, scratch, first, end, tier);");
            body.Close();
            body.Line();
            body.Line("/// <summary>Capsules [first, end): channel k of the primary conv is type k / dims, dimension k % dims; capsule i = type·positions + position (type-major).</summary>");
            body.Open($"internal static void RegroupAndSquash({S} scratch, int first, int end, {Tier} tier)");
            body.Line($"{RoS} conv = scratch.Slice(ScratchPrimaryConvOffset, PrimaryPositions * PrimaryChannels);");
            body.Line($"{S} primary = scratch.Slice(ScratchPrimaryOffset + first * PrimaryDims, (end - first) * PrimaryDims);");
            body.Open("for (int i = first; i < end; i++)");
            body.Line("int type = i / PrimaryPositions, position = i % PrimaryPositions;");
            body.Line("conv.Slice(position * PrimaryChannels + type * PrimaryDims, PrimaryDims).CopyTo(primary.Slice((i - first) * PrimaryDims, PrimaryDims));");
            body.Close();
            body.Line($"{Kernels}.Squash.Run(primary, end - first, PrimaryDims, tier);");
            body.Close();
            body.Line();

            body.Line($"/// <summary>Prediction vectors û_{{j|i}} = W_ij u_i (eq. 2): [{a.PrimaryCapsules} x {a.PrimaryDims}] → [{a.PrimaryCapsules} x {a.Classes} x {a.ClassDims}]; {Cost(2)}.</summary>");
            body.Line($"public static void CapsuleTransform(Weights weights, Workspace workspace, {Tier} tier)");
            body.Line("    => CapsuleTransform(weights.Packed, workspace.Scratch, 0, PrimaryCapsules, tier);");
            body.Line();
            body.Line("/// <summary>û for capsules [first, end): each capsule's predictions depend on it alone.</summary>");
            body.Open($"internal static void CapsuleTransform({Packed} weights, {S} scratch, int first, int end, {Tier} tier)");
            body.Line("int count = end - first;");
            body.Line($"{Kernels}.CapsuleTransform.Run(scratch.Slice(ScratchPrimaryOffset + first * PrimaryDims, count * PrimaryDims),");
            body.Line("    weights.DigitWeight.Slice(first * Classes * ClassDims * PrimaryDims, count * Classes * ClassDims * PrimaryDims),");
            body.Line("    count, Classes, ClassDims, PrimaryDims, scratch.Slice(ScratchUHatOffset + first * Classes * ClassDims, count * Classes * ClassDims), tier);");
            body.Close();
            body.Line();

            body.Line($"/// <summary>Routing by agreement (Procedure 1), r = {a.RoutingIterations}: û → v [{a.Classes} x {a.ClassDims}]; {Cost(3)}.</summary>");
            body.Line($"public static void Route(Workspace workspace, {Tier} tier) => Route(workspace.Scratch, tier);");
            body.Line();
            body.Open($"internal static void Route({S} scratch, {Tier} tier)");
            body.Line($"{Kernels}.Routing.Run(scratch.Slice(ScratchUHatOffset, PrimaryCapsules * Classes * ClassDims), PrimaryCapsules, Classes, ClassDims,");
            body.Line("    RoutingIterations, scratch.Slice(ScratchLogitsOffset, PrimaryCapsules * Classes),");
            body.Line("    scratch.Slice(ScratchCouplingOffset, PrimaryCapsules * Classes), scratch.Slice(ScratchDigitCapsOffset, DecoderInput), tier);");
            body.Close();
            body.Line();

            body.Line("/// <summary>Capsule lengths |v_j| into <paramref name=\"lengths\"/>; returns the class of the longest.</summary>");
            body.Open($"internal static int Lengths({S} scratch, {S} lengths, {Tier} tier)");
            body.Line($"{S} classLengths = lengths.Slice(0, Classes);");
            body.Line($"{Kernels}.CapsuleLengths.Run(scratch.Slice(ScratchDigitCapsOffset, DecoderInput), Classes, ClassDims, classLengths, tier);");
            body.Line("int longest = 0;");
            body.Line("// As ReferenceModel.ArgMax: ties go to the lowest class and NaN never wins.");
            body.Line("for (int j = 1; j < Classes; j++)");
            body.Line("    if (classLengths[j] > classLengths[longest] || float.IsNaN(classLengths[longest]))");
            body.Line("        longest = float.IsNaN(classLengths[j]) ? longest : j;");
            body.Line("return longest;");
            body.Close();
            body.Line();

            body.Line("/// <summary>Decoder input: every digit capsule but <paramref name=\"keep\"/> set to zero, flattened class-major.</summary>");
            body.Open($"internal static void Mask({S} scratch, int keep)");
            body.Line($"{S} masked = scratch.Slice(ScratchMaskedOffset, DecoderInput);");
            body.Line("masked.Clear();");
            body.Line("scratch.Slice(ScratchDigitCapsOffset + keep * ClassDims, ClassDims).CopyTo(masked.Slice(keep * ClassDims, ClassDims));");
            body.Close();
            body.Line();

            body.Line($"/// <summary>Decoder: {a.DecoderInput} → {a.DecoderHidden1} ReLU → {a.DecoderHidden2} ReLU → {a.DecoderOutput} sigmoid (three GEMMs with m = 1); {Cost(4)}.</summary>");
            body.Line($"public static void Decoder(Weights weights, Workspace workspace, int keep, {S} reconstruction, {Tier} tier)");
            body.Line("{");
            body.Line("    Mask(workspace.Scratch, keep);");
            body.Line("    Decoder(weights.Packed, workspace.Scratch, reconstruction.Slice(0, DecoderOutput), tier);");
            body.Line("}");
            body.Line();
            body.Open($"internal static void Decoder({Packed} weights, {S} scratch, {S} reconstruction, {Tier} tier)");
            body.Line($"{S} masked = scratch.Slice(ScratchMaskedOffset, DecoderInput);");
            body.Line($"{S} hidden1 = scratch.Slice(ScratchHidden1Offset, DecoderHidden1);");
            body.Line($"{S} hidden2 = scratch.Slice(ScratchHidden2Offset, DecoderHidden2);");
            body.Line($"{Kernels}.PackedGemm.Multiply(masked, 1, DecoderInput, weights.Fc1Weight, DecoderHidden1, weights.Fc1Bias, {Kernels}.Activation.Relu, hidden1, tier);");
            body.Line($"{Kernels}.PackedGemm.Multiply(hidden1, 1, DecoderHidden1, weights.Fc2Weight, DecoderHidden2, weights.Fc2Bias, {Kernels}.Activation.Relu, hidden2, tier);");
            body.Line($"{Kernels}.PackedGemm.Multiply(hidden2, 1, DecoderHidden2, weights.Fc3Weight, DecoderOutput, weights.Fc3Bias, {Kernels}.Activation.Sigmoid, reconstruction, tier);");
            body.Close();

            w.Close();
            w.Close();
            if (hasNamespace) w.Close();
            return w.ToString();
        }

        /// <summary>The class names as C# literals; the header was validated, so the names are well-formed.</summary>
        internal static List<string> ClassNames(WeightHeader h, int classes)
        {
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in h.Metadata) metadata[pair.Key] = pair.Value;
            var names = global::CapsEmbedded.Weights.CapsNetClassNames.Read(metadata, classes, h.FileName)
                ?? global::CapsEmbedded.Weights.CapsNetClassNames.Default(classes);
            var literals = new List<string>(names.Length);
            foreach (string name in names)
            {
                // ASCII only in the generated file: anything else as \uXXXX, so no name can break the literal.
                var literal = new StringBuilder("\"");
                foreach (char c in name)
                {
                    if (c == '"' || c == '\\') literal.Append('\\').Append(c);
                    else if (c >= ' ' && c <= '~') literal.Append(c);
                    else literal.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                }
                literals.Add(literal.Append('"').ToString());
            }
            return literals;
        }

        internal static string Quote(string value)
            => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n").Replace("\r", "\\r") + "\"";

        internal static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
    }
}
