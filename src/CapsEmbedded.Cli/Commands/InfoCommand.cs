using System.CommandLine;
using System.Globalization;
using CapsEmbedded.IO;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary><c>capsnet info &lt;weights&gt;</c>: architecture, parameters per layer, metadata, FLOPs per image.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("weights") { Description = "Weight file (.safetensors)" };
        var command = new Command("info", "Describe a weight file: architecture, parameters, metadata, FLOPs") { file };
        command.SetAction(CommandRunner.Guard(parse => Run(parse.GetValue(file)!, parse.InvocationConfiguration.Output)));
        return command;
    }

    public static int Run(string path, TextWriter output)
    {
        var weights = CapsNetWeightsFile.Load(path);
        var a = weights.Architecture;
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine($"file          {path}");
        output.WriteLine($"size          {new FileInfo(path).Length.ToString("N0", inv)} bytes");
        output.WriteLine($"sha256        {FileHash.Sha256(path)}");
        output.WriteLine($"architecture  {a}");
        output.WriteLine();
        output.WriteLine($"{"tensor",-22} {"shape",-18} {"parameters",12}");
        foreach (var t in a.Tensors)
            output.WriteLine($"{t.Name,-22} {t.ShapeText,-18} {t.ElementCount.ToString("N0", inv),12}");
        output.WriteLine($"{"total",-22} {"",-18} {a.ParameterCount.ToString("N0", inv),12}");
        output.WriteLine();
        output.WriteLine($"{"layer",-14} {"multiply-adds",15} {"MFLOP",10}");
        foreach (var cost in a.LayerCosts)
            output.WriteLine($"{cost.Layer,-14} {cost.MultiplyAdds.ToString("N0", inv),15} {(2e-6 * cost.MultiplyAdds).ToString("F1", inv),10}");
        output.WriteLine($"{"per image",-14} {a.MultiplyAdds.ToString("N0", inv),15} {(2e-6 * a.MultiplyAdds).ToString("F1", inv),10}");
        output.WriteLine();
        output.WriteLine("metadata");
        foreach (var (key, value) in weights.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            output.WriteLine($"  {key} = {value}");
        return 0;
    }
}
