using System.CommandLine;
using CapsEmbedded.IO;
using CapsEmbedded.Onnx;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary><c>capsnet export --onnx model.onnx [--model mnist|fashion | --weights F] [--decoder]</c>: the network as a standard ONNX graph.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var onnx = new Option<string>("--onnx") { Description = "Output ONNX file (opset 17)", Required = true };
        var model = ModelChoice.Model();
        var weights = CommonOptions.Weights(required: false);
        var decoder = new Option<bool>("--decoder")
        {
            Description = "Also output the capsules and the reconstruction of the longest capsule",
        };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing file" };
        var command = new Command("export", "Write the network as an ONNX model (input \"image\", output \"lengths\")")
        {
            onnx, model, weights, decoder, force,
        };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string path = parse.GetValue(onnx)!;
            // Checked before the model is read: a device or FIFO (/dev/null, /dev/stdout) needs no --force.
            CommonOptions.OutputPath(path, "--onnx", parse.GetValue(force));
            string? weightsPath = parse.GetValue(weights), modelName = parse.GetValue(model);
            if (weightsPath is not null && modelName is not null)
                throw new CliException("--model picks a compiled model's embedded weights and --weights a file: give one of them");
            var network = weightsPath is null
                ? ModelChoice.Named(modelName).ReadEmbedded()
                : CapsNetWeightsFile.Load(weightsPath);
            var options = new OnnxExportOptions { IncludeDecoder = parse.GetValue(decoder) };
            byte[] bytes = CapsNetOnnxExporter.Export(network, options);
            AtomicFile.Write(path, bytes);
            string outputs = options.IncludeDecoder ? "lengths, capsules, reconstruction" : "lengths";
            parse.InvocationConfiguration.Output.WriteLine(UntrustedText.Line(
                $"wrote {path}: {network.Architecture}, opset {OnnxModelWriter.Opset}, outputs {outputs}, {bytes.Length:N0} bytes"));
            return 0;
        }));
        return command;
    }
}
