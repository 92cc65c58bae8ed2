using CapsEmbedded.Models;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// The generated Scratch*Offset constants are the runtime's one <see cref="ScratchLayout"/> (the generator compiles the
/// same file), for the tiny test model and the shipped models alike.
/// </summary>
public class ScratchLayoutTests
{
    /// <summary>Each model, its architecture, and whether its weights are read in place (the shipped F16 files are).</summary>
    public static TheoryData<Type, CapsNetArchitecture, bool> Models => new()
    {
        { typeof(TinyCapsNet), TinyCapsNet.Architecture, false },
        { typeof(MnistCapsNet), MnistCapsNet.Architecture, true },
        { typeof(MultiMnistCapsNet), MultiMnistCapsNet.Architecture, true },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Every_generated_offset_is_the_float_layouts(Type model, CapsNetArchitecture architecture, bool inPlace)
    {
        // A model reads its weights in place when its one weight resource is the packed form the targets made.
        Assert.Equal(inPlace, ((string)model.GetField("WeightsResourceName")!.GetRawConstantValue()!).EndsWith(".packed", StringComparison.Ordinal));
        var layout = ScratchLayout.Float(architecture, halfWeightsInPlace: inPlace);
        Assert.Equal(inPlace, layout.PrimaryWidened is not null);
        int Constant(string name) => (int)model.GetField(name)!.GetRawConstantValue()!;
        foreach (var region in layout.Regions) Assert.Equal(region.Offset, Constant("Scratch" + region.Name + "Offset"));
        Assert.Equal(layout.Length, Constant("ScratchLength"));
        Assert.Null(layout.Codes);
    }

    [Fact]
    public void The_int8_layout_adds_the_code_regions_each_64_byte_aligned()
    {
        var a = CapsNetArchitecture.Paper;
        var layout = ScratchLayout.Int8(a);
        Assert.Equal(["Patches", "Conv1", "Codes", "CodePatches", "Accumulators", "PrimaryConv", "Primary", "UHat", "Logits",
            "Coupling", "DigitCaps", "Masked", "Hidden1", "Hidden2"], layout.Regions.Select(r => r.Name));
        Assert.All(layout.Regions, r => Assert.Equal(0, r.Offset % ScratchLayout.AlignFloats));
        for (int k = 1; k < layout.Regions.Count; k++)
            Assert.True(layout.Regions[k].Offset >= layout.Regions[k - 1].Offset + layout.Regions[k - 1].Floats);
        Assert.Equal(a.Conv1OutSize * a.Conv1OutSize * a.Conv1Channels, layout.Codes!.Floats * 4);
        Assert.True(layout.Length >= layout.Hidden2.Offset + layout.Hidden2.Floats);
    }
}
