using Microsoft.CodeAnalysis;

namespace CapsEmbedded.Generator
{
    /// <summary>Every diagnostic the generator reports. Messages name the weight file and, where one is at fault, the tensor.</summary>
    public static class Diagnostics
    {
        private const string Category = "CapsEmbedded.Generator";

        public static readonly DiagnosticDescriptor WeightFileNotPassed = new(
            "CAPS0001", "Weight file not passed to the generator",
            "'{0}' is not a CapsNetWeights item of this project: add <CapsNetWeights Include=\"{0}\" /> and import CapsEmbedded.Generator.targets (resolved to '{1}')",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor WeightFileMissing = new(
            "CAPS0002", "Weight file missing",
            "{0}: the weight file does not exist or cannot be read: {1}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnreadableHeader = new(
            "CAPS0003", "Unreadable weight-file header",
            "{0}: the safetensors header cannot be read: {1}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ShapeMismatch = new(
            "CAPS0004", "Tensor shape or metadata mismatch",
            "{0}: tensor '{1}': {2}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnsupportedDType = new(
            "CAPS0005", "Unsupported tensor dtype",
            "{0}: tensor '{1}': dtype {2} is not supported, only F32, F16 or BF16",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NotPartial = new(
            "CAPS0006", "Model class is not partial",
            "[CapsNetModel] class '{0}' must be declared 'static partial' so the generator can add the model to it",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NotStatic = new(
            "CAPS0007", "Model class is not static",
            "[CapsNetModel] class '{0}' must be static: the model is a set of static members",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor Generic = new(
            "CAPS0008", "Model class is generic",
            "[CapsNetModel] class '{0}' must not be generic",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor Nested = new(
            "CAPS0009", "Model class is nested",
            "[CapsNetModel] class '{0}' must be a top-level class, not nested in '{1}'",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor EmptyPath = new(
            "CAPS0010", "Empty weight-file path",
            "[CapsNetModel] on class '{0}' needs the path of a .safetensors weight file",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor DuplicateAttribute = new(
            "CAPS0011", "Two models from one class",
            "class '{0}' has more than one [CapsNetModel] attribute",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor InternalError = new(
            "CAPS0012", "Internal generator error",
            "CapsEmbedded.Generator failed on '{0}' (a bug, please report): {1}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor BadNativePrefix = new(
            "CAPS0013", "NativeExportPrefix is not a C identifier",
            "[CapsNetModel] on class '{0}': NativeExportPrefix \"{1}\" cannot start C function names: {2}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor BadQuantizedFile = new(
            "CAPS0014", "Invalid int8-quantised weight file",
            "{0}: quantised weight file, tensor '{1}': {2}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        private static readonly DiagnosticDescriptor[] All =
        {
            WeightFileNotPassed, WeightFileMissing, UnreadableHeader, ShapeMismatch, UnsupportedDType, NotPartial,
            NotStatic, Generic, Nested, EmptyPath, DuplicateAttribute, InternalError,
            BadNativePrefix, BadQuantizedFile,
        };

        internal static DiagnosticDescriptor ById(string id)
        {
            foreach (var d in All)
                if (d.Id == id) return d;
            return InternalError;
        }
    }
}
