using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using CapsEmbedded.Generator.Model;
using CapsEmbedded.Quantization;
using CapsEmbedded.Weights;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace CapsEmbedded.Generator
{
    /// <summary>The attributed class as a target, or the diagnostics that say why it cannot be one.</summary>
    internal sealed record TargetResult(ModelTarget? Target, LocationInfo? Location, EquatableArray<DiagnosticInfo> Diagnostics);

    /// <summary>A target matched with its weight header: the model to emit, or diagnostics.</summary>
    internal sealed record ModelResult(ModelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);

    /// <summary>
    /// Turns Roslyn inputs into the equatable model: the attributed class (<see cref="ParseTarget"/>), the header
    /// file that CapsEmbedded.Generator.targets extracted from a weight file (<see cref="ParseHeader"/>), and the match
    /// of the two (<see cref="Match"/>). Nothing here keeps a symbol, node or compilation.
    /// </summary>
    internal static class Parser
    {
        /// <summary>Suffix of the files CapsEmbedded.Generator.targets writes, one per CapsNetWeights item.</summary>
        public const string HeaderFileSuffix = ".capsnet-header.txt";

        /// <summary>Where the attribute paths are resolved from (a CompilerVisibleProperty of the targets file).</summary>
        public const string ProjectDirectoryProperty = "build_property.MSBuildProjectDirectory";

        /// <summary>The attribute property that asks for C exports.</summary>
        public const string NativeExportPrefixProperty = "NativeExportPrefix";

        public static TargetResult ParseTarget(GeneratorAttributeSyntaxContext context)
        {
            var symbol = (INamedTypeSymbol)context.TargetSymbol;
            var attribute = context.Attributes[0];
            var location = LocationInfo.From(attribute.ApplicationSyntaxReference?.GetSyntax().GetLocation())
                ?? LocationInfo.From(symbol.Locations.Length > 0 ? symbol.Locations[0] : null);
            var diagnostics = new List<DiagnosticInfo>();
            string name = symbol.Name;

            if (context.Attributes.Length > 1) diagnostics.Add(DiagnosticInfo.Create(Diagnostics.DuplicateAttribute, location, name));
            var node = (ClassDeclarationSyntax)context.TargetNode;
            bool isPartial = false;
            foreach (var modifier in node.Modifiers)
                if (modifier.IsKind(SyntaxKind.PartialKeyword)) isPartial = true;
            if (!isPartial) diagnostics.Add(DiagnosticInfo.Create(Diagnostics.NotPartial, location, name));
            if (!symbol.IsStatic) diagnostics.Add(DiagnosticInfo.Create(Diagnostics.NotStatic, location, name));
            if (symbol.IsGenericType) diagnostics.Add(DiagnosticInfo.Create(Diagnostics.Generic, location, name));
            if (symbol.ContainingType is not null)
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.Nested, location, name, symbol.ContainingType.Name));

            string? path = attribute.ConstructorArguments.Length == 1 ? attribute.ConstructorArguments[0].Value as string : null;
            if (path is null || path.Trim().Length == 0) diagnostics.Add(DiagnosticInfo.Create(Diagnostics.EmptyPath, location, name));
            string? nativePrefix = null;
            foreach (var named in attribute.NamedArguments)
            {
                if (named.Key != NativeExportPrefixProperty) continue;
                nativePrefix = named.Value.Value as string;
                string? problem = NativeExportsEmitter.PrefixProblem(nativePrefix);
                if (problem is not null)
                    diagnostics.Add(DiagnosticInfo.Create(Diagnostics.BadNativePrefix, location, name, nativePrefix ?? "null", problem));
            }

            if (diagnostics.Count > 0) return new TargetResult(null, location, new EquatableArray<DiagnosticInfo>(diagnostics.ToArray()));

            string? ns = symbol.ContainingNamespace.IsGlobalNamespace ? null : symbol.ContainingNamespace.ToDisplayString();
            string accessibility = symbol.DeclaredAccessibility == Accessibility.Public ? "public" : "internal";
            return new TargetResult(new ModelTarget(ns, name, accessibility, path!.Trim(), nativePrefix), location, default);
        }

        /// <summary>
        /// Reads one extracted header file: "key=value" lines, a blank line, then the safetensors JSON header verbatim.
        /// Keys: source (full path of the weight file), resource (manifest resource name), length (file bytes),
        /// header_length (the 8-byte prefix's value), sha256, packed_length (bytes of the packed form, when the targets
        /// embedded the file packed in F16: then resource names that form), and error (set when the file could not be read).
        /// </summary>
        public static WeightHeader ParseHeader(string headerPath, SourceText? text)
        {
            string content = text?.ToString() ?? "";
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            int position = 0;
            while (position < content.Length)
            {
                int end = content.IndexOf('\n', position);
                if (end < 0) end = content.Length;
                string line = content.Substring(position, end - position).TrimEnd('\r');
                position = end + 1;
                if (line.Length == 0) break;
                if (line[0] == '#') continue;
                int eq = line.IndexOf('=');
                if (eq > 0) fields[line.Substring(0, eq)] = line.Substring(eq + 1);
            }
            string json = position < content.Length ? content.Substring(position) : "";

            string Get(string key) => fields.TryGetValue(key, out var value) ? value : "";
            long GetLong(string key) => long.TryParse(Get(key), NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : -1;
            string source = Get("source");
            if (source.Length == 0) source = headerPath.EndsWith(HeaderFileSuffix, StringComparison.OrdinalIgnoreCase)
                ? headerPath.Substring(0, headerPath.Length - HeaderFileSuffix.Length) : headerPath;
            string fileName = FileNameOf(source);
            string resource = Get("resource");
            if (resource.Length == 0) resource = "CapsNetWeights/" + fileName;
            long fileLength = GetLong("length"), headerLength = GetLong("header_length");
            string sha256 = Get("sha256");

            WeightHeader Result(CapsNetArchitecture? architecture, TensorInfo[]? tensors, KeyValue[]? metadata, DiagnosticInfo? error)
                => new WeightHeader(headerPath, source, fileName, resource, fileLength, headerLength, sha256, architecture,
                    new EquatableArray<TensorInfo>(tensors ?? Array.Empty<TensorInfo>()),
                    new EquatableArray<KeyValue>(metadata ?? Array.Empty<KeyValue>()), error)
                {
                    Packed = GetLong("packed_length") > 0,
                };
            DiagnosticInfo Error(DiagnosticDescriptor descriptor, params string[] args) => DiagnosticInfo.Create(descriptor, null, args);

            string error = Get("error");
            if (error.Length > 0)
                return Result(null, null, null, error.StartsWith("missing:", StringComparison.Ordinal)
                    ? Error(Diagnostics.WeightFileMissing, source, error.Substring("missing:".Length).Trim())
                    : Error(Diagnostics.UnreadableHeader, source, error));
            if (fileLength < 8 || headerLength < 0 || fileLength - 8 - headerLength < 0)
                return Result(null, null, null, Error(Diagnostics.UnreadableHeader, source,
                    $"the extracted header '{headerPath}' lacks a valid length / header_length (rebuild to re-extract it)"));

            try
            {
                var header = SafeTensorsHeader.Parse(Encoding.UTF8.GetBytes(json), fileLength - 8 - headerLength, fileName);
                var tensors = new List<TensorInfo>();
                foreach (var entry in header.Entries)
                {
                    var shape = new long[entry.Shape.Count];
                    for (int k = 0; k < shape.Length; k++) shape[k] = entry.Shape[k];
                    tensors.Add(new TensorInfo(entry.Name, new EquatableArray<long>(shape), entry.Begin, entry.End, entry.DType));
                }
                var metadata = new List<KeyValue>();
                foreach (var pair in header.Metadata) metadata.Add(new KeyValue(pair.Key, pair.Value));
                metadata.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));

                // A quantised file (capsnet.quantization) is checked by the runtime's own validator: an int8 model is emitted.
                if (QuantizedHeaderValidator.IsQuantized(header))
                {
                    try
                    {
                        var quantized = QuantizedHeaderValidator.Validate(header, fileName);
                        return Result(quantized, tensors.ToArray(), metadata.ToArray(), null);
                    }
                    catch (WeightFormatException e)
                    {
                        return Result(null, null, null, Error(Diagnostics.BadQuantizedFile, source, e.TensorName ?? "(metadata)", e.Problem));
                    }
                }
                // An Efficient-CapsNet file is checked by its own validator (it also accepts PyTorch's I64 BN counters).
                if (CapsNetFamily.Of(header.Metadata, fileName) == CapsNetFamily.Efficient)
                {
                    try
                    {
                        var efficient = EfficientCapsNetHeaderValidator.Validate(header, fileName);
                        return new WeightHeader(headerPath, source, fileName, resource, fileLength, headerLength, sha256, null,
                            new EquatableArray<TensorInfo>(tensors.ToArray()), new EquatableArray<KeyValue>(metadata.ToArray()), null,
                            efficient);
                    }
                    catch (WeightFormatException e)
                    {
                        return Result(null, null, null, Error(Diagnostics.ShapeMismatch, source, e.TensorName ?? "(metadata)", e.Problem));
                    }
                }
                foreach (var entry in header.Entries)
                    if (entry.DType != SafeTensorsDType.F32 && entry.DType != SafeTensorsDType.F16 && entry.DType != SafeTensorsDType.BF16)
                        return Result(null, null, null, Error(Diagnostics.UnsupportedDType, source, entry.Name, entry.DType));
                CapsNetArchitecture architecture;
                try
                {
                    architecture = CapsNetHeaderValidator.Validate(header, fileName);
                }
                catch (WeightFormatException e)
                {
                    return Result(null, null, null, Error(Diagnostics.ShapeMismatch, source, e.TensorName ?? "(metadata)", e.Problem));
                }
                return Result(architecture, tensors.ToArray(), metadata.ToArray(), null);
            }
            catch (WeightFormatException e)
            {
                string problem = e.TensorName is null ? e.Problem : $"tensor '{e.TensorName}': {e.Problem}";
                return Result(null, null, null, Error(Diagnostics.UnreadableHeader, source, problem));
            }
            catch (Exception e)
            {
                // Anything else escaping the linked parser is a bug; report it rather than crash the compiler.
                return Result(null, null, null, Error(Diagnostics.InternalError, source, e.GetType().Name + ": " + e.Message));
            }
        }

        /// <summary>Matches a target with the header of the weight file its attribute names.</summary>
        public static ModelResult Match(TargetResult target, ImmutableArray<WeightHeader> headers, string? projectDirectory)
        {
            if (target.Target is null) return new ModelResult(null, target.Diagnostics);
            string path = target.Target.WeightPath;
            string resolved = Normalize(IsRooted(path) || string.IsNullOrEmpty(projectDirectory) ? path : projectDirectory + "/" + path);
            WeightHeader? match = null;
            foreach (var header in headers)
            {
                string source = Normalize(header.SourcePath);
                bool same = string.Equals(source, resolved, StringComparison.OrdinalIgnoreCase)
                    || (string.IsNullOrEmpty(projectDirectory) && !IsRooted(path)
                        && source.EndsWith("/" + TrimParents(Normalize(path)), StringComparison.OrdinalIgnoreCase));
                if (same)
                {
                    match = header;
                    break;
                }
            }
            if (match is null)
                return Error(DiagnosticInfo.Create(Diagnostics.WeightFileNotPassed, target.Location, path, resolved));
            if (match.Error is not null) return Error(match.Error.WithLocation(target.Location));
            return new ModelResult(new ModelSpec(target.Target, match), default);

            static ModelResult Error(DiagnosticInfo d) => new ModelResult(null, new EquatableArray<DiagnosticInfo>(new[] { d }));
        }

        private static bool IsRooted(string path)
            => path.StartsWith("/", StringComparison.Ordinal) || path.StartsWith("\\", StringComparison.Ordinal)
                || (path.Length > 1 && path[1] == ':');

        /// <summary>Forward slashes, "." and ".." segments folded (no file-system access: generators must not touch it).</summary>
        internal static string Normalize(string path)
        {
            var parts = path.Replace('\\', '/').Split('/');
            var stack = new List<string>();
            for (int k = 0; k < parts.Length; k++)
            {
                string part = parts[k];
                if (part == "." || (part.Length == 0 && k > 0)) continue;
                if (part == ".." && stack.Count > 0 && stack[stack.Count - 1] != ".." && stack[stack.Count - 1].Length > 0)
                    stack.RemoveAt(stack.Count - 1);
                else stack.Add(part);
            }
            return string.Join("/", stack);
        }

        private static string TrimParents(string path)
        {
            while (path.StartsWith("../", StringComparison.Ordinal)) path = path.Substring(3);
            return path;
        }

        internal static string FileNameOf(string path)
        {
            int slash = Math.Max(path.LastIndexOf('/'), path.LastIndexOf('\\'));
            return slash < 0 ? path : path.Substring(slash + 1);
        }
    }
}
