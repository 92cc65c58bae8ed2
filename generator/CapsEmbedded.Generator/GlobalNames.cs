namespace CapsEmbedded.Generator
{
    /// <summary>
    /// The types the generated code names, in one place for every emitter: each spelled from <c>global::</c> so that no
    /// type of the user's project can shadow it.
    /// </summary>
    internal static class GlobalNames
    {
        private const string Library = "global::CapsEmbedded";
        private const string Bcl = "global::System";

        public const string Kernels = Library + ".Kernels";
        public const string RuntimeNs = Library + ".Runtime";
        public const string Tier = Kernels + ".SimdTier";
        public const string RoS = Bcl + ".ReadOnlySpan<float>";
        public const string S = Bcl + ".Span<float>";
        public const string Marshal = Bcl + ".Runtime.InteropServices.MemoryMarshal";

        // The int8 model's kernels and packed weights.
        public const string Int8 = Kernels + ".Int8";
        public const string Int8Tier = Int8 + ".Int8Tier";
        public const string Q = Library + ".Quantization";
        public const string Net = Q + ".QuantizedCapsNet";

        // The C exports' helpers.
        public const string Api = Library + ".Interop.NativeApi";
        public const string Status = Library + ".Interop.NativeStatus";
        public const string Handles = Library + ".Interop.NativeHandles";
        public const string Failure = Library + ".Interop.NativeCallException";
    }
}
