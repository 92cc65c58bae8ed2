using System.CommandLine;
using CapsEmbedded.IO;
using CapsEmbedded.Models;
using CapsEmbedded.Onnx;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet export --onnx model.onnx [--model NAME | --weights F] [--decoder]</c>: the network as a standard ONNX graph;
/// either family (a file's <c>capsnet.family</c>, a compiled model's family), Efficient-CapsNet with its batch norms folded.
/// </summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var onnx = new Option<string>("--onnx") { Description = "Output ONNX file (opset 17)", Required = true };
        var chosen = new ModelOptions();
        var decoder = new Option<bool>("--decoder")
        {
            Description = "Also output the capsules and the reconstruction of the longest capsule",
        };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing file" };
        var command = new Command("export", "Write the network as an ONNX model (input \"image\", output \"lengths\")")
        {
            onnx, chosen.Model, chosen.Weights, decoder, force,
        };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string path = parse.GetValue(onnx)!;
            // Checked before the model is read: a device or FIFO (/dev/null, /dev/stdout) needs no --force.
            CommonOptions.OutputPath(path, "--onnx", parse.GetValue(force));
            string? weightsPath = chosen.WeightsPath(parse), modelName = chosen.ModelName(parse);
            if (weightsPath is not null && modelName is not null)
                throw new CliException("--model picks a compiled model's embedded weights and --weights a file: give one of them");
            var options = new OnnxExportOptions { IncludeDecoder = parse.GetValue(decoder) };
            // The family picks the exporter: a file's capsnet.family, or the compiled model's.
            var compiled = weightsPath is null ? ModelChoice.Named(modelName) : null;
            var family = compiled?.Family ?? CompiledModel.FamilyOf(weightsPath!);
            var (bytes, architecture) = family == CapsNetFamily.Efficient
                ? Efficient(compiled?.ReadEmbeddedEfficient() ?? EfficientCapsNetWeightsFile.Load(weightsPath!), options)
                : Paper(compiled?.ReadEmbedded() ?? CapsNetWeightsFile.Load(weightsPath!), options);
            AtomicFile.Write(path, bytes);
            string outputs = options.IncludeDecoder ? "lengths, capsules, reconstruction" : "lengths";
            parse.InvocationConfiguration.Output.WriteLine(UntrustedText.Line(
                $"wrote {path}: {architecture}, opset {OnnxModelWriter.Opset}, outputs {outputs}, {bytes.Length:N0} bytes"));
            return 0;
        }));
        return command;
    }

    private static (byte[] Bytes, string Architecture) Paper(CapsNetWeights weights, OnnxExportOptions options) =>
        (CapsNetOnnxExporter.Export(weights, options), weights.Architecture.ToString());

    private static (byte[] Bytes, string Architecture) Efficient(EfficientCapsNetWeights weights, OnnxExportOptions options) =>
        (EfficientCapsNetOnnxExporter.Export(weights, options), "Efficient-CapsNet " + weights.Architecture);
}
