extern alias generator;

using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using generator::CapsEmbedded.Generator;

namespace CapsEmbedded.Generator.Tests.Driver;

/// <summary>A second run after an edit that does not concern the model reuses every step (the model is equatable).</summary>
public class CachingTests
{
    private static readonly string[] TrackedSteps =
        { TrackingNames.Targets, TrackingNames.Headers, TrackingNames.AllHeaders, TrackingNames.ProjectDirectory, TrackingNames.Models };

    [Fact]
    public void Unrelated_edit_leaves_every_step_cached()
    {
        var compilation = GeneratorHarness.Compilation(GeneratorHarness.TinySource, "namespace Demo; public class Other { }");
        var driver = GeneratorHarness.Driver(new[] { GeneratorHarness.TinyHeader() }).RunGenerators(compilation);
        var first = driver.GetRunResult();
        Assert.Equal(3, first.GeneratedTrees.Length); // Constants, Model, Layers

        // Edit the other file: a new member in an unrelated class.
        var oldTree = compilation.SyntaxTrees.Last();
        var newTree = oldTree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(
            "namespace Demo; public class Other { public int Added => 1; }"));
        var second = driver.RunGenerators(compilation.ReplaceSyntaxTree(oldTree, newTree)).GetRunResult();

        var steps = second.Results.Single().TrackedSteps;
        foreach (var name in TrackedSteps)
        {
            Assert.True(steps.ContainsKey(name), $"step {name} was not tracked");
            foreach (var step in steps[name])
                foreach (var (_, reason) in step.Outputs)
                    Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                        $"step {name} output was {reason}");
        }
        Assert.All(second.Results.Single().TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            output => Assert.True(output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));
    }

    [Fact]
    public void Editing_the_weight_header_regenerates()
    {
        var compilation = GeneratorHarness.Compilation(GeneratorHarness.TinySource);
        var header = GeneratorHarness.TinyHeader();
        var driver = GeneratorHarness.Driver(new[] { header }).RunGenerators(compilation);
        var edited = GeneratorHarness.TinyHeader(json => json.Replace("random seed=1", "random seed=7"));
        driver = driver.ReplaceAdditionalText(header, edited).RunGenerators(compilation);
        var steps = driver.GetRunResult().Results.Single().TrackedSteps[TrackingNames.Models];
        Assert.Contains(steps.SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
    }
}
