using System;
using System.Collections.Immutable;
using System.Linq;
using CapsEmbedded.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace CapsEmbedded.Generator
{
    /// <summary>
    /// <c>[CapsNetModel("weights/mnist.safetensors")] static partial class MnistCapsNet;</c> → a fixed-shape forward pass.
    /// Pipeline: attributed class → <see cref="ModelTarget"/>; extracted weight header → <see cref="WeightHeader"/>;
    /// match both → <see cref="ModelSpec"/> → <see cref="Emitter"/>. Every step holds only equatable values.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class CapsNetModelGenerator : IIncrementalGenerator
    {
        /// <summary>The attribute the generator looks for (defined in src/CapsEmbedded/Runtime).</summary>
        public const string AttributeName = "CapsEmbedded.Runtime.CapsNetModelAttribute";

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var targets = context.SyntaxProvider
                .ForAttributeWithMetadataName(AttributeName,
                    static (node, _) => node is ClassDeclarationSyntax,
                    static (ctx, _) => Parser.ParseTarget(ctx))
                .WithTrackingName(TrackingNames.Targets);

            var headers = context.AdditionalTextsProvider
                .Where(static text => text.Path.EndsWith(Parser.HeaderFileSuffix, StringComparison.OrdinalIgnoreCase))
                .Select(static (text, token) => Parser.ParseHeader(text.Path, text.GetText(token)))
                .WithTrackingName(TrackingNames.Headers)
                .Collect()
                .WithTrackingName(TrackingNames.AllHeaders);

            var projectDirectory = context.AnalyzerConfigOptionsProvider
                .Select(static (options, _) => options.GlobalOptions.TryGetValue(Parser.ProjectDirectoryProperty, out var dir) ? dir : null)
                .WithTrackingName(TrackingNames.ProjectDirectory);

            var models = targets
                .Combine(headers.Combine(projectDirectory))
                .Select(static (pair, _) => Parser.Match(pair.Left, pair.Right.Left, pair.Right.Right))
                .WithTrackingName(TrackingNames.Models);

            context.RegisterSourceOutput(models.Select(static (m, _) => m.Diagnostics), static (spc, diagnostics) =>
            {
                foreach (var d in diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
            });
            context.RegisterSourceOutput(models.Select(static (m, _) => m.Spec), static (spc, spec) =>
            {
                if (spec is null) return;
                try
                {
                    foreach (var (hintName, source) in Emitter.Emit(spec)) spc.AddSource(hintName, source);
                    if (spec.Target.NativeExportPrefix is not null)
                        spc.AddSource(NativeExportsEmitter.HintName(spec), NativeExportsEmitter.Emit(spec));
                }
                catch (Exception e)
                {
                    // An exception here is a generator bug: report it naming the class (no location: the cached spec holds none) instead of failing the whole compilation.
                    spc.ReportDiagnostic(Diagnostic.Create(Diagnostics.InternalError, Location.None, spec.Target.ClassName,
                        e.GetType().Name + ": " + e.Message));
                }
            });
        }
    }
}
