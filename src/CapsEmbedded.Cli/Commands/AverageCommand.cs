using System.CommandLine;
using CapsEmbedded.IO;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet average --out OUT a.safetensors b.safetensors …</c>: stochastic weight averaging (see
/// <see cref="WeightAveraging"/>) of weight files of one architecture, e.g. the per-epoch files of
/// <c>capsnet train --save-epochs</c>; stored as F32 unless <c>--dtype</c> says otherwise.
/// </summary>
internal static class AverageCommand
{
    public static Command Create()
    {
        var inputs = new Argument<string[]>("weights") { Description = "Two or more weight files of one architecture", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out", "-o") { Description = "Output weight file", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Storage precision of the output: f32, f16 or bf16", DefaultValueFactory = _ => "f32" };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing output file (atomically)" };
        var command = new Command("average", "Average weight files element-wise (stochastic weight averaging, Izmailov et al. 2018)")
        {
            inputs, output, dtype, force,
        };
        command.SetAction(CommandRunner.Guard(parse => Run(parse.GetValue(inputs)!, parse.GetValue(output)!, parse.GetValue(dtype)!,
            parse.GetValue(force), parse.InvocationConfiguration.Output)));
        return command;
    }

    internal static int Run(string[] paths, string outputPath, string dtypeText, bool force, TextWriter output)
    {
        string dtype = CommonOptions.WeightDType(dtypeText);
        if (paths.Length < 2) throw new CliException($"average needs at least 2 weight files, got {paths.Length}");
        // One file by its identity (device and inode), so a link or "./a" does not count a file twice; --out likewise.
        var identities = new Dictionary<(long, long), string>();
        var outputIdentity = FileStat.Of(outputPath).Identity;
        foreach (string path in paths)
        {
            var identity = FileStat.Of(path).Identity;
            if (identity == default) continue; // missing: reading it names the problem
            if (identities.TryGetValue(identity, out string? earlier))
                throw new CliException($"{UntrustedText.Quote(path)} is given twice (it is the same file as {UntrustedText.Quote(earlier)}): each file is one term of the mean");
            if (identity == outputIdentity)
                throw new CliException($"--out {UntrustedText.Quote(outputPath)} is one of the inputs; write to another name");
            identities[identity] = path;
        }
        CommonOptions.OutputPath(outputPath, "--out", force);

        // One input held at a time: the sum is kept in double, each file read, hashed, added and dropped.
        var mean = new WeightAveraging.RunningMean();
        var notes = new List<string>(paths.Length);
        CapsNetWeights average;
        try
        {
            foreach (string path in paths)
            {
                byte[] bytes = InputFile.ReadAllBytes(path, Array.MaxLength, "weight file");
                mean.Add(path, CapsNetWeightsFile.Read(bytes, path));
                notes.Add($"{Path.GetFileName(path)} (sha256 {FileHash.Sha256(bytes)})");
            }
            average = mean.Result($"mean of {paths.Length}: " + string.Join(", ", notes));
        }
        catch (ArgumentException e)
        {
            throw new CliException(e.Message);
        }
        average.Metadata["capsnet.created_by"] = "capsnet average";
        byte[] result = CapsNetWeightsFile.Write(average, dtype, outputPath);
        AtomicFile.Write(outputPath, result);
        output.WriteLine(UntrustedText.Line($"wrote {outputPath}: mean of {paths.Length} files, {dtype}, {result.Length:N0} bytes, sha256 {FileHash.Sha256(result)}"));
        return 0;
    }
}
