using System.CommandLine;
using System.Globalization;
using CapsEmbedded.Models;
using CapsEmbedded.Data;
using CapsEmbedded.IO;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet predict [--model mnist|fashion|multimnist] [--weights file] [--top K] image.png|image.pgm ...</c>: class and
/// the capsule lengths of each image. With several images each block starts with an <c>image</c> line (the C example's
/// format); an image that cannot be read is reported on stderr, the others are still classified, and the exit status is
/// then 1. <c>--top K</c> (K ≥ 2) replaces the <c>class</c> line by K lines <c>top k    length  class</c>, longest first
/// (<see cref="TopK.Longest(ReadOnlySpan{float}, Span{int}, Span{float})"/>); a MultiMNIST model reads two digits, so
/// its default is 2: <c>--model multimnist</c>, or a <c>--weights</c> file of its architecture (the int8 one included).
/// </summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var chosen = new ModelOptions();
        var images = new Argument<string[]>("image")
        {
            Description = "PNG or PGM images of the model's size (28x28; 36x36 for --model multimnist), white digit (or garment) on black",
            Arity = ArgumentArity.OneOrMore,
        };
        // Several images: an unknown option would otherwise be taken for one (a file named "-x.png" is "./-x.png").
        images.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
                if (token.Value.Length > 1 && token.Value[0] == '-')
                    result.AddError($"unknown option '{token.Value}'");
        });
        var reconstruction = new Option<string?>("--reconstruction")
        {
            Description = "Also write the decoder's reconstruction as a PGM image (one image only)",
        };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing --reconstruction file" };
        var top = new Option<int?>("--top")
        {
            Description = $"Print the K longest capsules' classes and lengths, longest first (1..classes; default 1, {CompiledModel.MultiMnist.DefaultTop} for two digits: --model multimnist, or --weights of its architecture, int8 too)",
        };
        var command = new Command("predict", "Classify images")
        {
            chosen.Model, chosen.Weights, images, reconstruction, force, chosen.Engine, chosen.Precision, top,
        };
        command.SetAction(parse => Run(chosen, parse, parse.GetValue(images)!, parse.GetValue(reconstruction), parse.GetValue(force), parse.GetValue(top)));
        return command;
    }

    private static int Run(ModelOptions chosen, ParseResult parse, IReadOnlyList<string> imagePaths, string? reconstructionPath, bool force, int? top)
    {
        TextWriter output = parse.InvocationConfiguration.Output, error = parse.InvocationConfiguration.Error;
        string? model = chosen.ModelName(parse);
        ICapsNetSession? session = null;
        // --model multimnist reads two digits (paper §6): its default --top is 2.
        int k = top ?? CompiledModel.Find(model)?.DefaultTop ?? 1;
        int status = CommandRunner.Errors.Run(() =>
        {
            CommonOptions.Positive(k, "--top");
            if (reconstructionPath is not null && imagePaths.Count > 1)
                throw new CliException($"--reconstruction takes one image; {imagePaths.Count} were given");
            if (reconstructionPath is not null) CommonOptions.OutputPath(reconstructionPath, "--reconstruction", force);
            session = chosen.Open(parse, model).Session;
            return 0;
        }, error);
        if (session is null) return status;
        using (session)
        {
            var a = session.Shape;
            // A --weights file (float or int8) of a compiled model's architecture reads as many capsules as that model.
            if (top is null && model is null) k = CompiledModel.All.FirstOrDefault(m => m.Shape == a)?.DefaultTop ?? 1;
            status = CommandRunner.Errors.Run(() => k <= a.Classes ? 0
                : throw new CliException($"--top {k} asks for more capsules than the model's {a.Classes} classes"), error);
            if (status != 0) return status;
            var lengths = new float[a.Classes];
            var ranked = new int[k];
            var longest = new float[k];
            var reconstruction = reconstructionPath is null ? Array.Empty<float>() : new float[a.InputLength];
            foreach (string imagePath in imagePaths)
                status = Math.Max(status, CommandRunner.Errors.Run(() =>
                {
                    int predicted = PredictOne(session, imagePath, lengths, reconstruction);
                    var inv = CultureInfo.InvariantCulture;
                    if (imagePaths.Count > 1) output.WriteLine(UntrustedText.Line($"image    {imagePath}"));
                    if (k == 1) output.WriteLine($"class    {ClassText(session, predicted)}");
                    else
                    {
                        TopK.Longest(lengths, ranked, longest);
                        for (int r = 0; r < k; r++)
                            output.WriteLine($"top {(r + 1).ToString(inv),-4} {longest[r].ToString("F6", inv)}  {ClassText(session, ranked[r])}");
                    }
                    output.WriteLine($"lengths  {string.Join(' ', lengths.Select(l => l.ToString("F6", inv)))}");
                    if (reconstructionPath is not null)
                    {
                        WritePgm(reconstructionPath, reconstruction, a.InputSize);
                        output.WriteLine(UntrustedText.Line($"wrote reconstruction to {reconstructionPath}"));
                    }
                    return 0;
                }, error));
        }
        return status;
    }

    /// <summary>"3", or "9 (Ankle boot)" when the class has a name of its own.</summary>
    private static string ClassText(ICapsNetSession session, int k)
    {
        string number = k.ToString(CultureInfo.InvariantCulture), name = session.ClassNames[k];
        return name == number ? number : $"{number} ({name})";
    }

    /// <summary>Reads and classifies one image; a file that is not a gray image of the model's size is a CliException naming it.</summary>
    private static int PredictOne(ICapsNetSession session, string imagePath, float[] lengths, float[] reconstruction)
    {
        var a = session.Shape;
        var picture = ImageDecoder.LoadGray(imagePath, (a.InputSize, a.InputSize)); // the size is checked from the header first
        if (picture.Width != a.InputSize || picture.Height != a.InputSize)
            throw new CliException($"{imagePath} is {picture.Width}x{picture.Height}; the model needs {a.InputSize}x{a.InputSize} gray images (resize it first)");
        if (a.InputChannels != 1)
            throw new CliException($"the model takes {a.InputChannels} input channels; predict reads gray images only");
        int predicted = session.Predict(picture.Pixels, lengths, Span<float>.Empty, reconstruction);
        if (NonFiniteLengths.Any(lengths))
            throw new CliException(NonFiniteLengths.Message(imagePath));
        return predicted;
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
