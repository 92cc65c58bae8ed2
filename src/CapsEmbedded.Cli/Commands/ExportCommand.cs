using System.CommandLine;
using CapsEmbedded.Cli.Engines;
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
        var model = CommonOptions.Model();
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
            if (string.IsNullOrWhiteSpace(path)) throw new CliException("--onnx needs a file name");
            if (Directory.Exists(path)) throw new CliException($"{path} is a directory");
            if (File.Exists(path) && !parse.GetValue(force))
                throw new CliException($"{path} exists; pass --force to overwrite it");
            string? weightsPath = parse.GetValue(weights), modelName = parse.GetValue(model);
            if (weightsPath is not null && modelName is not null)
                throw new CliException("--model picks a compiled model's embedded weights and --weights a file: give one of them");
            var network = weightsPath is null
                ? CompiledModel.Named(modelName).ReadEmbedded()
                : CapsNetWeightsFile.Load(weightsPath);
            var options = new OnnxExportOptions { IncludeDecoder = parse.GetValue(decoder) };
            try
            {
                CapsNetOnnxExporter.Save(network, path, options);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
                string why = e switch
                {
                    DirectoryNotFoundException => $"directory {directory} does not exist",
                    UnauthorizedAccessException => $"permission denied in {directory}",
                    _ => $"{directory} does not take a new file ({e.Message.TrimEnd('.')})",
                };
                throw new CliException($"cannot write {path}: {why}");
            }
            string outputs = options.IncludeDecoder ? "lengths, capsules, reconstruction" : "lengths";
            parse.InvocationConfiguration.Output.WriteLine(UntrustedText.Line(
                $"wrote {path}: {network.Architecture}, opset {OnnxModelWriter.Opset}, outputs {outputs}, {new FileInfo(path).Length:N0} bytes"));
            return 0;
        }));
        return command;
    }
}
