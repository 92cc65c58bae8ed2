using System.CommandLine;
using System.Globalization;
using CapsEmbedded.Cli.Engines;
using CapsEmbedded.Data;
using CapsEmbedded.IO;

namespace CapsEmbedded.Cli.Commands;

/// <summary><c>capsnet predict [--model mnist|fashion] [--weights file] image.png|image.pgm</c>: class and the capsule lengths.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var weights = CommonOptions.Weights(required: false);
        var model = CommonOptions.Model();
        var image = new Argument<string>("image") { Description = "A 28x28 PNG or PGM image, white digit (or garment) on black" };
        var reconstruction = new Option<string?>("--reconstruction")
        {
            Description = "Also write the decoder's reconstruction as a PGM image",
        };
        var engine = PrecisionOption.Engine();
        var precision = PrecisionOption.Create();
        var command = new Command("predict", "Classify one image") { model, weights, image, reconstruction, engine, precision };
        command.SetAction(CommandRunner.Guard(parse => Run(parse.GetValue(weights), parse.GetValue(image)!,
            parse.GetValue(reconstruction), parse.GetValue(engine), parse.InvocationConfiguration.Output, parse.GetValue(precision), parse.GetValue(model))));
        return command;
    }

    internal static int Run(string? weightsPath, string imagePath, string? reconstructionPath, EngineChoice choice, TextWriter output,
        Precision precision = Precision.Float32, string? model = null)
    {
        if (reconstructionPath is not null) CommonOptions.OutputPath(reconstructionPath, "--reconstruction", overwrite: true);
        using var engine = PrecisionOption.Open(weightsPath, choice, precision, model);
        var a = engine.Architecture;
        var picture = ImageDecoder.LoadGray(imagePath, (a.InputSize, a.InputSize)); // the size is checked from the header first
        if (picture.Width != a.InputSize || picture.Height != a.InputSize)
            throw new CliException($"{imagePath} is {picture.Width}x{picture.Height}; the model needs {a.InputSize}x{a.InputSize} gray images (resize it first)");
        if (a.InputChannels != 1)
            throw new CliException($"the model takes {a.InputChannels} input channels; predict reads gray images only");
        var lengths = new float[a.Classes];
        var reconstruction = reconstructionPath is null ? Array.Empty<float>() : new float[a.InputLength];
        int predicted = engine.Predict(picture.Pixels, lengths, Span<float>.Empty, reconstruction);
        if (CapsEmbedded.Weights.CapsNetWeights.IndexOfNonFinite(lengths) >= 0)
            throw new CliException($"the model gave {imagePath} non-finite capsule lengths (NaN/Inf): its weights are unusable for this input; no class reported");
        var inv = CultureInfo.InvariantCulture;
        string name = engine.ClassNames[predicted];
        output.WriteLine(name == predicted.ToString(inv) ? $"class    {predicted}" : $"class    {predicted} ({name})");
        output.WriteLine($"lengths  {string.Join(' ', lengths.Select(l => l.ToString("F6", inv)))}");
        if (reconstructionPath is not null)
        {
            WritePgm(reconstructionPath, reconstruction, a.InputSize);
            output.WriteLine($"wrote reconstruction to {reconstructionPath}");
        }
        return 0;
    }

    private static void WritePgm(string path, float[] pixels, int size)
    {
        var header = System.Text.Encoding.ASCII.GetBytes($"P5\n{size} {size}\n255\n");
        var bytes = new byte[header.Length + pixels.Length];
        header.CopyTo(bytes, 0);
        for (int i = 0; i < pixels.Length; i++)
            bytes[header.Length + i] = (byte)Math.Clamp(MathF.Round(pixels[i] * 255f), 0f, 255f);
        AtomicFile.Write(path, bytes);
    }
}
