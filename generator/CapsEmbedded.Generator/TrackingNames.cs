namespace CapsEmbedded.Generator
{
    /// <summary>Names of the incremental pipeline steps, public so tests can assert each one is cached.</summary>
    public static class TrackingNames
    {
        /// <summary>Attributed classes turned into <c>ModelTarget</c> values.</summary>
        public const string Targets = "CapsNet.Targets";

        /// <summary>Extracted weight headers parsed into <c>WeightHeader</c> values.</summary>
        public const string Headers = "CapsNet.Headers";

        /// <summary>All headers of the project, collected.</summary>
        public const string AllHeaders = "CapsNet.AllHeaders";

        /// <summary>The project directory the attribute paths are relative to.</summary>
        public const string ProjectDirectory = "CapsNet.ProjectDirectory";

        /// <summary>Each target matched with its weight header: the model the emitter writes.</summary>
        public const string Models = "CapsNet.Models";
    }
}
