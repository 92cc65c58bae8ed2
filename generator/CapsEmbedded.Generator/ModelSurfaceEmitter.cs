using System;
using System.Collections.Generic;
using CapsEmbedded.Generator.Model;
using static CapsEmbedded.Generator.Emitter;
using static CapsEmbedded.Generator.GlobalNames;

namespace CapsEmbedded.Generator
{
    /// <summary>
    /// The parts of <c>{Class}.Model.g.cs</c> that the float model (<see cref="Emitter"/>) and the int8 model
    /// (<see cref="Int8Emitter"/>) write alike: the class opening, the size and weight-file constants, the scratch layout,
    /// the architecture, the Workspace, the argument checks and the layers that run in float32 in both. Where the two
    /// differ (a doc line, a weight field's name) the difference is a parameter.
    /// </summary>
    internal static class ModelSurfaceEmitter
    {
        /// <summary>
        /// <c>{Class}.Model.g.cs</c> in the order both models write it: the header; the class (documented by
        /// <paramref name="summary"/>); the sizes (<see cref="SizeConstants"/>); the weight file, ended by
        /// <paramref name="weightFileTail"/>, and the class names; the scratch layout (<paramref name="scratchHeading"/>,
        /// <paramref name="convRegions"/>); the API (ActiveTier documented by <paramref name="activeTierDoc"/>, then
        /// <paramref name="apiTail"/>); the Weights class (<paramref name="weightsClass"/>), the Workspace, then
        /// <paramref name="methods"/>.
        /// </summary>
        public static string ModelFile(ModelSpec spec, string[] summary, string primaryGemm, string primaryChannelsNote,
            Action<SourceWriter> weightFileTail, string scratchHeading, List<(string Name, long Floats, string Doc)> convRegions,
            string activeTierDoc, Action<SourceWriter> apiTail, Action<SourceWriter> weightsClass, Action<SourceWriter> methods)
        {
            var a = spec.Weights.Architecture!;
            var w = new SourceWriter();
            Header(w, spec);
            bool hasNamespace = spec.Target.Namespace is not null;
            if (hasNamespace) w.Open($"namespace {spec.Target.Namespace}");
            Summary(w, summary);
            w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"{GeneratorName}\", \"{GeneratorVersion}\")]");
            w.Open($"{spec.Target.Accessibility} static partial class {spec.Target.ClassName}");
            SizeConstants(w, a, primaryGemm, primaryChannelsNote);
            WeightFileConstants(w, spec.Weights);
            weightFileTail(w);
            ClassNamesProperty(w, spec.Weights, a);
            ScratchConstants(w, scratchHeading, a, convRegions);
            ArchitectureAndTier(w, a, activeTierDoc);
            apiTail(w);
            weightsClass(w);
            Workspace(w);
            methods(w);
            w.Close();
            if (hasNamespace) w.Close();
            return w.ToString();
        }

        /// <summary>One documented <c>public const</c>.</summary>
        public static void Const(SourceWriter w, string type, string name, string value, string doc)
        {
            w.Line($"/// <summary>{doc}</summary>");
            w.Line($"public const {type} {name} = {value};");
        }

        /// <summary>
        /// The "Sizes" section. <paramref name="primaryGemm"/> names the GEMM of the primary conv in the docs ("GEMM",
        /// "int8 GEMM"); <paramref name="primaryChannelsNote"/> ends the PrimaryChannels doc.
        /// </summary>
        public static void SizeConstants(SourceWriter w, CapsNetArchitecture a, string primaryGemm, string primaryChannelsNote)
        {
            w.Line("// ---- Sizes ------------------------------------------------------------------------------------");
            w.Line();
            Const(w, "int", "InputSize", N(a.InputSize), "Input side S.");
            Const(w, "int", "InputChannels", N(a.InputChannels), "Input channels.");
            Const(w, "int", "InputLength", N(a.InputLength), "Values of one image: S·S·channels, [channel][y][x], in [0, 1].");
            Const(w, "int", "Conv1Channels", N(a.Conv1Channels), "conv1 kernels.");
            Const(w, "int", "Conv1Kernel", N(a.Conv1Kernel), "conv1 kernel side.");
            Const(w, "int", "Conv1Stride", N(a.Conv1Stride), "conv1 stride.");
            Const(w, "int", "Conv1OutSize", N(a.Conv1OutSize), "conv1 output side.");
            Const(w, "int", "Conv1Pixels", N((long)a.Conv1OutSize * a.Conv1OutSize), "conv1 output pixels: the GEMM's m.");
            Const(w, "int", "Conv1PatchLength", N((long)a.InputChannels * a.Conv1Kernel * a.Conv1Kernel), "conv1 patch length: the GEMM's k.");
            Const(w, "int", "PrimaryTypes", N(a.PrimaryTypes), "Primary capsule types.");
            Const(w, "int", "PrimaryDims", N(a.PrimaryDims), "Primary capsule dimensions.");
            Const(w, "int", "PrimaryKernel", N(a.PrimaryKernel), "Primary conv kernel side.");
            Const(w, "int", "PrimaryStride", N(a.PrimaryStride), "Primary conv stride.");
            Const(w, "int", "PrimaryGridSize", N(a.PrimaryGridSize), "Primary capsule grid side.");
            Const(w, "int", "PrimaryPositions", N((long)a.PrimaryGridSize * a.PrimaryGridSize), $"Primary grid positions: the {primaryGemm}'s m.");
            Const(w, "int", "PrimaryChannels", N(a.PrimaryChannels), "Primary conv output channels: types·dims" + primaryChannelsNote);
            Const(w, "int", "PrimaryPatchLength", N((long)a.Conv1Channels * a.PrimaryKernel * a.PrimaryKernel), $"Primary conv patch length: the {primaryGemm}'s k.");
            Const(w, "int", "PrimaryCapsules", N(a.PrimaryCapsules), "Primary capsules i = type·grid² + y·grid + x.");
            Const(w, "int", "Classes", N(a.Classes), "Digit capsules j (classes).");
            Const(w, "int", "ClassDims", N(a.ClassDims), "Digit capsule dimensions.");
            Const(w, "int", "RoutingIterations", N(a.RoutingIterations), "Routing iterations r (Procedure 1).");
            Const(w, "int", "DecoderInput", N(a.DecoderInput), "Decoder input: classes·classDims, class-major.");
            Const(w, "int", "DecoderHidden1", N(a.DecoderHidden1), "Decoder fc1 width.");
            Const(w, "int", "DecoderHidden2", N(a.DecoderHidden2), "Decoder fc2 width.");
            Const(w, "int", "DecoderOutput", N(a.DecoderOutput), "Decoder output: one value per input pixel.");
            Const(w, "long", "ParameterCount", N(a.ParameterCount), "Parameters of the model.");
            Const(w, "long", "MultiplyAdds", N(a.MultiplyAdds), "Multiply-adds of one forward pass with the decoder.");
            w.Line();
        }

        /// <summary>The "Weight file" section's heading and the file's name, resource, SHA-256 and length.</summary>
        public static void WeightFileConstants(SourceWriter w, WeightHeader h)
        {
            w.Line("// ---- Weight file ------------------------------------------------------------------------------");
            w.Line();
            Const(w, "string", "WeightsFileName", Quote(h.FileName), "The weight file this model was generated from.");
            Const(w, "string", "WeightsResourceName", Quote(h.ResourceName), "The manifest resource that embeds it.");
            Const(w, "string", "WeightsSha256", Quote(h.Sha256), "SHA-256 of the weight file, lower-case hex.");
            Const(w, "long", "WeightsFileLength", N(h.FileLength), "Bytes of the weight file.");
        }

        /// <summary>The ClassNames property (which ends the "Weight file" section).</summary>
        public static void ClassNamesProperty(SourceWriter w, WeightHeader h, CapsNetArchitecture a)
        {
            w.Line($"/// <summary>One name per class j, from the weight file's capsnet.class_names metadata (\"0\"..\"{N(a.Classes - 1)}\" when it has none).</summary>");
            w.Line($"public static global::System.Collections.Generic.IReadOnlyList<string> ClassNames {{ get; }} = global::System.Array.AsReadOnly(new string[] {{ {string.Join(", ", ClassNames(h, a.Classes))} }});");
            w.Line();
        }

        /// <summary>
        /// The "Scratch" section: one offset per region in order, each region 64-byte aligned (16 floats): the model's own
        /// <paramref name="convRegions"/> up to the primary conv's output, then those of the capsules and the decoder, alike
        /// in both models; then ScratchLength, which it returns.
        /// </summary>
        public static long ScratchConstants(SourceWriter w, string heading, CapsNetArchitecture a, List<(string Name, long Floats, string Doc)> convRegions)
        {
            long n = a.PrimaryCapsules, j = a.Classes, d = a.ClassDims;
            var regions = new List<(string Name, long Floats, string Doc)>(convRegions)
            {
                ("Primary", n * a.PrimaryDims, "primary capsules u_i [i][d], i = type·grid² + position, squashed (eq. 1)"),
                ("UHat", n * j * d, "predictions û_{j|i} = W_ij u_i [i][j][d] (eq. 2)"),
                ("Logits", n * j, "routing logits b_ij (Procedure 1)"),
                ("Coupling", n * j, "coupling coefficients c_ij = softmax_j(b_ij) (eq. 3)"),
                ("DigitCaps", j * d, "digit capsules v_j [j][d]"),
                ("Masked", j * d, "decoder input: v with every capsule but the predicted one zeroed"),
                ("Hidden1", a.DecoderHidden1, "decoder fc1 output (ReLU)"),
                ("Hidden2", a.DecoderHidden2, "decoder fc2 output (ReLU)"),
            };
            w.Line(heading);
            w.Line();
            long offset = 0;
            foreach (var (name, floats, doc) in regions)
            {
                Const(w, "int", "Scratch" + name + "Offset", N(offset), $"Scratch region: {Escape(doc)}; {N(floats)} floats.");
                offset += (floats + 15) / 16 * 16;
            }
            Const(w, "int", "ScratchLength", N(offset), $"Floats of scratch one forward pass needs ({Grouped(offset * 4)} bytes).");
            w.Line();
            return offset;
        }

        /// <summary>The "API" section's heading, the Architecture property and ActiveTier (documented by <paramref name="activeTierDoc"/>).</summary>
        public static void ArchitectureAndTier(SourceWriter w, CapsNetArchitecture a, string activeTierDoc)
        {
            w.Line("// ---- API ----------------------------------------------------------------------------------------");
            w.Line();
            w.Line("/// <summary>The architecture this code was generated for.</summary>");
            w.Open("public static global::CapsEmbedded.CapsNetArchitecture Architecture { get; } = new global::CapsEmbedded.CapsNetArchitecture");
            foreach (var (name, value) in a.Fields()) w.Line($"{PascalName(name)} = {N(value)},");
            w.Close(";");
            w.Line();
            w.Line($"/// <summary>{activeTierDoc}</summary>");
            w.Line($"public static {Tier} ActiveTier => {Kernels}.SimdTiers.Best;");
            w.Line();
        }

        /// <summary>Opens the nested Weights class: its doc, the embedded instance's field and the packed tensors of type <paramref name="packedType"/>.</summary>
        public static void OpenWeightsClass(SourceWriter w, string[] summary, string packedType)
        {
            Summary(w, summary);
            w.Open("public sealed class Weights : global::System.IDisposable");
            w.Line("private static Weights? s_embedded;");
            w.Line();
            w.Open($"private Weights({packedType} packed, global::System.Collections.Generic.IReadOnlyList<string> classNames)");
            w.Line("Packed = packed;");
            w.Line("ClassNames = classNames;");
            w.Close();
            w.Line();
            w.Line("/// <summary>The packed tensors.</summary>");
            w.Line($"internal {packedType} Packed {{ get; }}");
            w.Line();
            w.Line("/// <summary>One name per class j, from these weights' capsnet.class_names metadata (\"0\"..\"N-1\" when they have none); the model's ClassNames for Embedded.</summary>");
            w.Line("public global::System.Collections.Generic.IReadOnlyList<string> ClassNames { get; }");
            w.Line();
        }

        /// <summary>The Embedded property (which the caller's CreateEmbedded builds at first use).</summary>
        public static void EmbeddedProperty(SourceWriter w)
            => w.Line("public static Weights Embedded => global::System.Threading.Volatile.Read(ref s_embedded) ?? CreateEmbedded();");

        /// <summary>CreateEmbedded's end: publishes <c>created</c> unless another thread won, then the winner's packing is kept.</summary>
        public static void PublishEmbedded(SourceWriter w, string disposeLoser)
        {
            w.Line("var winner = global::System.Threading.Interlocked.CompareExchange(ref s_embedded, created, null);");
            w.Open("if (winner is not null)");
            w.Line(disposeLoser);
            w.Line("return winner;");
            w.Close();
            w.Line("return created;");
            w.Close();
            w.Line();
        }

        /// <summary>
        /// Weights.Load (documented by <paramref name="loadDoc"/>, reading the file with <paramref name="readFile"/>) and
        /// Weights.FromWeights (documented by <paramref name="fromDoc"/>), which checks weights of type
        /// <paramref name="weightsType"/> and packs them with <paramref name="pack"/>, keeping the names <paramref name="classNames"/> reads from them.
        /// </summary>
        public static void LoadAndFromWeights(SourceWriter w, string[] loadDoc, string readFile, string fromDoc, string weightsType, string pack,
            string classNames)
        {
            Summary(w, loadDoc);
            w.Line($"public static Weights Load(string path) => FromWeights({readFile}(path), path);");
            w.Line();
            w.Line($"/// <summary>{fromDoc}</summary>");
            w.Open($"public static Weights FromWeights({weightsType} weights, string? source = null)");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(weights);");
            w.Line($"{RuntimeNs}.PackedCapsNetWeights.ThrowIfArchitectureDiffers(weights.Architecture, Architecture, source ?? \"weights\");");
            w.Line($"return new Weights({pack}, {classNames});");
            w.Close();
            w.Line();
        }

        /// <summary>
        /// The SIMD tiers a model's public methods take: the best ones as arguments (<see cref="Best"/>), the forced ones as
        /// parameters (<see cref="Parameters"/>, passed on as <see cref="Arguments"/>) and the statement that checks them.
        /// </summary>
        public sealed class Tiers
        {
            public Tiers(string best, string parameters, string check)
            {
                Best = best;
                Parameters = parameters;
                Arguments = string.Join(", ", ParameterNames(parameters));
                Check = check;
            }

            public string Best { get; }
            public string Parameters { get; }
            public string Arguments { get; }
            public string Check { get; }
        }

        /// <summary>The float model's one SIMD tier.</summary>
        public static readonly Tiers FloatTiers = new Tiers(Kernels + ".SimdTiers.Best", Tier + " tier", "CheckTier(tier);");

        /// <summary>
        /// A public method as two overloads: the first (documented by <paramref name="summary"/>) passes the best tiers to
        /// the second, which takes them forced (documented by <paramref name="forcedDoc"/>), null-checks
        /// <paramref name="nullChecked"/>, checks the tiers and runs <paramref name="body"/>. The shared parameters are
        /// <paramref name="parameters"/> on the first line and <paramref name="moreParameters"/> (when given) on the next;
        /// their "= default"s stay on the first overload.
        /// </summary>
        public static void TierOverloads(SourceWriter w, string[] summary, string method, string parameters, string? moreParameters,
            Tiers tiers, string forcedDoc, string[] nullChecked, Action<SourceWriter> body)
        {
            string name = method.Substring(method.IndexOf(' ') + 1);
            string arguments = string.Join(", ", ParameterNames(moreParameters is null ? parameters : parameters + ", " + moreParameters));
            Summary(w, summary);
            w.Line($"public static {method}({parameters}{(moreParameters is null ? ")" : ",")}");
            if (moreParameters is not null) w.Line($"    {moreParameters})");
            w.Line($"    => {name}({arguments}, {tiers.Best});");
            w.Line();
            w.Line($"/// <summary>{forcedDoc}</summary>");
            w.Line($"public static {method}({parameters},");
            w.Line($"    {(moreParameters is null ? "" : moreParameters.Replace(" = default", "") + ", ")}{tiers.Parameters})");
            w.Open("");
            NullChecks(w, nullChecked);
            w.Line(tiers.Check);
            body(w);
            w.Close();
            w.Line();
        }

        /// <summary>"Weights weights, Span&lt;float&gt; capsules = default" → weights, capsules.</summary>
        private static IEnumerable<string> ParameterNames(string parameters)
        {
            foreach (string parameter in parameters.Split(','))
            {
                string declaration = parameter.Split('=')[0].Trim();
                yield return declaration.Substring(declaration.LastIndexOf(' ') + 1);
            }
        }

        /// <summary>A doc comment's summary, one line of <paramref name="lines"/> per line.</summary>
        public static void Summary(SourceWriter w, string[] lines)
        {
            w.Line("/// <summary>");
            foreach (string line in lines) w.Line("/// " + line);
            w.Line("/// </summary>");
        }

        /// <summary>
        /// The one-image Predict on a Workspace (documented by <paramref name="summary"/>, and <paramref name="forcedDoc"/> for
        /// the tiers forced): the arguments checked, then Forward on the workspace's scratch.
        /// </summary>
        public static void WorkspacePredict(SourceWriter w, string[] summary, Tiers tiers, string forcedDoc)
            => TierOverloads(w, summary, "int Predict", $"Weights weights, Workspace workspace, {RoS} image, {S} lengths",
                $"{S} capsules = default, {S} reconstruction = default", tiers, forcedDoc, new[] { "weights", "workspace" }, body =>
                {
                    body.Line("CheckImageArguments(image, lengths, capsules, reconstruction);");
                    body.Line($"return Forward(weights.Packed, workspace.Scratch, image, lengths, capsules, reconstruction, {tiers.Arguments});");
                });

        /// <summary>Weights.Dispose (documented by <paramref name="doc"/>) and the end of the Weights class.</summary>
        public static void CloseWeightsClass(SourceWriter w, string doc)
        {
            w.Line($"/// <summary>{doc}</summary>");
            w.Open("public void Dispose()");
            w.Line("if (!ReferenceEquals(this, global::System.Threading.Volatile.Read(ref s_embedded))) Packed.Dispose();");
            w.Close();
            w.Close();
            w.Line();
        }

        /// <summary>The nested Workspace class: one aligned scratch buffer of ScratchLength floats.</summary>
        public static void Workspace(SourceWriter w)
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

        /// <summary><c>ArgumentNullException.ThrowIfNull</c> for each named argument.</summary>
        public static void NullChecks(SourceWriter w, params string[] arguments)
        {
            foreach (string argument in arguments) w.Line($"global::System.ArgumentNullException.ThrowIfNull({argument});");
        }

        /// <summary>The check that <c>images</c> holds whole images.</summary>
        public static void ImagesMultipleCheck(SourceWriter w, string condition)
        {
            w.Line(condition);
            w.Line("    throw new global::System.ArgumentException($\"images has {images.Length} values, not a multiple of the image size {InputLength}\", nameof(images));");
        }

        /// <summary>CheckImageArguments: the image's length and room in lengths, capsules and reconstruction.</summary>
        public static void CheckImageArguments(SourceWriter w)
        {
            w.Method(null, $"private static void CheckImageArguments({RoS} image, {S} lengths, {S} capsules, {S} reconstruction)",
                "if (image.Length != InputLength)",
                "    throw new global::System.ArgumentException($\"the image has {image.Length} values; this model takes {InputLength} ({InputSize}x{InputSize}x{InputChannels})\", nameof(image));",
                "if (lengths.Length < Classes)",
                "    throw new global::System.ArgumentException($\"lengths has room for {lengths.Length} values; the model has {Classes} classes\", nameof(lengths));",
                "if (!capsules.IsEmpty && capsules.Length < DecoderInput)",
                "    throw new global::System.ArgumentException($\"capsules has room for {capsules.Length} values; {Classes}x{ClassDims} are needed\", nameof(capsules));",
                "if (!reconstruction.IsEmpty && reconstruction.Length < DecoderOutput)",
                "    throw new global::System.ArgumentException($\"reconstruction has room for {reconstruction.Length} values; {DecoderOutput} are needed\", nameof(reconstruction));");
        }

        /// <summary>Reconstruct's body after its null and tier checks, up to the decoder call: the spans checked, the capsules copied in and masked.</summary>
        public static void ReconstructChecksAndMask(SourceWriter w)
        {
            w.Line("if (capsules.Length != DecoderInput)");
            w.Line("    throw new global::System.ArgumentException($\"capsules has {capsules.Length} values; the decoder takes {Classes}x{ClassDims}\", nameof(capsules));");
            w.Line("if ((uint)keep >= (uint)Classes)");
            w.Line("    throw new global::System.ArgumentOutOfRangeException(nameof(keep), keep, $\"the class to keep must be in 0..{Classes - 1}\");");
            w.Line("if (reconstruction.Length < DecoderOutput)");
            w.Line("    throw new global::System.ArgumentException($\"reconstruction has room for {reconstruction.Length} values; {DecoderOutput} are needed\", nameof(reconstruction));");
            w.Line($"{S} scratch = workspace.Scratch;");
            w.Line("capsules.CopyTo(scratch.Slice(ScratchDigitCapsOffset, DecoderInput));");
            w.Line("Layers.Mask(scratch, keep);");
        }

        /// <summary>The float SIMD tier's support check (the first lines of CheckTier / CheckTiers).</summary>
        public static void SimdTierCheck(SourceWriter w)
        {
            w.Line($"if (!{Kernels}.SimdTiers.IsSupported(tier))");
            w.Line("    throw new global::System.PlatformNotSupportedException($\"SIMD tier {tier} is not supported on this machine\");");
        }

        /// <summary>The forward pass after û: routing, lengths, the capsules and reconstruction the caller asked for; closes the method.</summary>
        public static void FinishForward(SourceWriter w)
        {
            w.Line("Layers.Route(scratch, tier);");
            w.Line("int predicted = Layers.Lengths(scratch, lengths, tier);");
            w.Line("if (!capsules.IsEmpty) scratch.Slice(ScratchDigitCapsOffset, DecoderInput).CopyTo(capsules);");
            w.Open("if (!reconstruction.IsEmpty)");
            w.Line("Layers.Mask(scratch, predicted);");
            w.Line("Layers.Decoder(weights, scratch, reconstruction.Slice(0, DecoderOutput), tier);");
            w.Close();
            w.Line("return predicted;");
            w.Close();
        }

        /// <summary>
        /// Layers.RegroupAndSquash (documented by <paramref name="doc"/>): the primary conv's channels regrouped into
        /// capsules and squashed (eq. 1); all of them, or with <paramref name="ranged"/> the capsules [first, end).
        /// </summary>
        public static void RegroupAndSquashLayer(SourceWriter w, string doc, bool ranged)
        {
            w.Line($"/// <summary>{doc}</summary>");
            w.Open($"internal static void RegroupAndSquash({S} scratch, {(ranged ? "int first, int end, " : "")}{Tier} tier)");
            w.Line($"{RoS} conv = scratch.Slice(ScratchPrimaryConvOffset, PrimaryPositions * PrimaryChannels);");
            w.Line(ranged
                ? $"{S} primary = scratch.Slice(ScratchPrimaryOffset + first * PrimaryDims, (end - first) * PrimaryDims);"
                : $"{S} primary = scratch.Slice(ScratchPrimaryOffset, PrimaryCapsules * PrimaryDims);");
            w.Open(ranged ? "for (int i = first; i < end; i++)" : "for (int i = 0; i < PrimaryCapsules; i++)");
            w.Line("int type = i / PrimaryPositions, position = i % PrimaryPositions;");
            w.Line($"conv.Slice(position * PrimaryChannels + type * PrimaryDims, PrimaryDims).CopyTo(primary.Slice({(ranged ? "(i - first)" : "i")} * PrimaryDims, PrimaryDims));");
            w.Close();
            w.Line($"{Kernels}.Squash.Run(primary, {(ranged ? "end - first" : "PrimaryCapsules")}, PrimaryDims, tier);");
            w.Close();
            w.Line();
        }

        /// <summary>Layers.Route's scratch overload: routing by agreement over the whole of û.</summary>
        public static void RouteLayer(SourceWriter w)
        {
            w.Method(null, $"internal static void Route({S} scratch, {Tier} tier)",
                $"{Kernels}.Routing.Run(scratch.Slice(ScratchUHatOffset, PrimaryCapsules * Classes * ClassDims), PrimaryCapsules, Classes, ClassDims,",
                "    RoutingIterations, scratch.Slice(ScratchLogitsOffset, PrimaryCapsules * Classes),",
                "    scratch.Slice(ScratchCouplingOffset, PrimaryCapsules * Classes), scratch.Slice(ScratchDigitCapsOffset, DecoderInput), tier);");
        }

        /// <summary>Layers.Lengths (documented by <paramref name="doc"/>; <paramref name="tieComment"/>, when given, before the arg-max loop).</summary>
        public static void LengthsLayer(SourceWriter w, string doc, string? tieComment)
        {
            var body = new List<string>
            {
                $"{S} classLengths = lengths.Slice(0, Classes);",
                $"{Kernels}.CapsuleLengths.Run(scratch.Slice(ScratchDigitCapsOffset, DecoderInput), Classes, ClassDims, classLengths, tier);",
                "int longest = 0;",
            };
            if (tieComment is not null) body.Add(tieComment);
            body.Add("for (int j = 1; j < Classes; j++)");
            body.Add("    if (classLengths[j] > classLengths[longest] || float.IsNaN(classLengths[longest]))");
            body.Add("        longest = float.IsNaN(classLengths[j]) ? longest : j;");
            body.Add("return longest;");
            w.Method(doc, $"internal static int Lengths({S} scratch, {S} lengths, {Tier} tier)", body.ToArray());
        }

        /// <summary>Layers.Mask (documented by <paramref name="doc"/>): the decoder input with one capsule kept.</summary>
        public static void MaskLayer(SourceWriter w, string doc)
        {
            w.Method(doc, $"internal static void Mask({S} scratch, int keep)",
                $"{S} masked = scratch.Slice(ScratchMaskedOffset, DecoderInput);",
                "masked.Clear();",
                "scratch.Slice(ScratchDigitCapsOffset + keep * ClassDims, ClassDims).CopyTo(masked.Slice(keep * ClassDims, ClassDims));");
        }

        /// <summary>
        /// Layers.Decoder's scratch overload over weights of type <paramref name="packedType"/>, whose packed fc matrices
        /// are named <paramref name="fcPrefix"/>Fc1Weight..: three GEMMs with m = 1.
        /// </summary>
        public static void DecoderLayer(SourceWriter w, string packedType, string fcPrefix)
        {
            w.Open($"internal static void Decoder({packedType} weights, {S} scratch, {S} reconstruction, {Tier} tier)");
            w.Line($"{S} masked = scratch.Slice(ScratchMaskedOffset, DecoderInput);");
            w.Line($"{S} hidden1 = scratch.Slice(ScratchHidden1Offset, DecoderHidden1);");
            w.Line($"{S} hidden2 = scratch.Slice(ScratchHidden2Offset, DecoderHidden2);");
            w.Line($"{Kernels}.PackedGemm.Multiply(masked, 1, DecoderInput, weights.{fcPrefix}Fc1Weight, DecoderHidden1, weights.Fc1Bias, {Kernels}.Activation.Relu, hidden1, tier);");
            w.Line($"{Kernels}.PackedGemm.Multiply(hidden1, 1, DecoderHidden1, weights.{fcPrefix}Fc2Weight, DecoderHidden2, weights.Fc2Bias, {Kernels}.Activation.Relu, hidden2, tier);");
            w.Line($"{Kernels}.PackedGemm.Multiply(hidden2, 1, DecoderHidden2, weights.{fcPrefix}Fc3Weight, DecoderOutput, weights.Fc3Bias, {Kernels}.Activation.Sigmoid, reconstruction, tier);");
            w.Close();
        }
    }
}
