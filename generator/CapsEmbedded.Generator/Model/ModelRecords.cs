using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace CapsEmbedded.Generator.Model
{
    /// <summary>The attributed class, as plain values (never a symbol or syntax node, so the step caches).</summary>
    /// <param name="Namespace">Containing namespace, or null for the global namespace.</param>
    /// <param name="ClassName">The class name.</param>
    /// <param name="Accessibility">"public" or "internal".</param>
    /// <param name="WeightPath">The path written in the attribute, relative to the project directory.</param>
    /// <param name="NativeExportPrefix">The C export prefix (NativeExportPrefix), or null when no C exports are wanted.</param>
    internal sealed record ModelTarget(string? Namespace, string ClassName, string Accessibility, string WeightPath,
        string? NativeExportPrefix = null);

    /// <summary>One tensor of the weight file: name, shape, byte range in the data area and dtype (F32, F16 or BF16).</summary>
    internal sealed record TensorInfo(string Name, EquatableArray<long> Shape, long Begin, long End, string DType = "F32");

    /// <summary>
    /// What the build extracted from one <c>CapsNetWeights</c> item: the source path, the embedded resource name,
    /// the file length and hash, and the parsed header (architecture and tensor offsets) — or why it is unusable.
    /// An Efficient-CapsNet file (capsnet.family = "efficient") has <c>Efficient</c> set and no <c>Architecture</c>.
    /// </summary>
    internal sealed record WeightHeader(
        string HeaderPath,
        string SourcePath,
        string FileName,
        string ResourceName,
        long FileLength,
        long HeaderLength,
        string Sha256,
        CapsNetArchitecture? Architecture,
        EquatableArray<TensorInfo> Tensors,
        EquatableArray<KeyValue> Metadata,
        DiagnosticInfo? Error,
        EfficientCapsNetArchitecture? Efficient = null)
    {
        /// <summary>
        /// Whether the targets embedded the file packed at build time in F16 (their packed_length= line; then
        /// <see cref="ResourceName"/> holds the PackedWeightFile, not the file as it is), false when they embedded it as it
        /// is (a file not wholly F16, an int8 or an Efficient-CapsNet file).
        /// </summary>
        public bool Packed { get; init; }

        /// <summary>Whether the file is int8-quantised (validated by QuantizedHeaderValidator): the int8 model is emitted.</summary>
        public bool IsQuantized
        {
            get
            {
                foreach (var pair in Metadata)
                    if (pair.Key == global::CapsEmbedded.Quantization.QuantizedHeaderValidator.SchemeKey) return true;
                return false;
            }
        }
    }

    internal sealed record KeyValue(string Key, string Value);

    /// <summary>Everything the emitter needs for one model: it writes source from this and nothing else.</summary>
    internal sealed record ModelSpec(ModelTarget Target, WeightHeader Weights);

    /// <summary>The result of one pipeline step: a value (when usable) and diagnostics kept apart for caching.</summary>
    internal sealed record StepResult<T>(T? Value, EquatableArray<DiagnosticInfo> Diagnostics)
        where T : class;

    /// <summary>A diagnostic as values: descriptor id, message arguments and an equatable location.</summary>
    internal sealed record DiagnosticInfo(string Id, EquatableArray<string> Arguments, LocationInfo? Location)
    {
        public Diagnostic ToDiagnostic()
        {
            var args = new object[Arguments.Count];
            for (int k = 0; k < args.Length; k++) args[k] = Arguments[k];
            return Diagnostic.Create(Diagnostics.ById(Id), Location?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None, args);
        }

        public DiagnosticInfo WithLocation(LocationInfo? location) => this with { Location = location };

        public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] args)
            => new DiagnosticInfo(descriptor.Id, new EquatableArray<string>(args), location);
    }

    /// <summary>A source location as values (file path, span, line span).</summary>
    internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
    {
        public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

        public static LocationInfo? From(Location? location)
            => location is null || location.SourceTree is null
                ? null
                : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }
}
