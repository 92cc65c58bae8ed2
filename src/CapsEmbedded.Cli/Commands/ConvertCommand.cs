using System.CommandLine;
using System.Globalization;
using CapsEmbedded.IO;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet convert --weights IN --dtype f16|bf16|f32 --out OUT [--class-names a,b,…]</c>: rewrites a weight file in
/// another storage precision (round to nearest, ties to even) and/or with class names, keeping its metadata. A training
/// checkpoint as input gives the weights it holds (a run stopped mid-epoch), with where it was taken as metadata.
/// </summary>
internal static class ConvertCommand
{
    /// <summary>The metadata note a converted file gets: source file, its dtype and SHA-256.</summary>
    public const string ConvertedFromKey = "capsnet.converted_from";

    public static Command Create()
    {
        var weights = CommonOptions.Weights(required: true);
        var dtype = new Option<string?>("--dtype")
        {
            Description = "Storage precision of the output: f32, f16 or bf16 (default: the input's)",
        };
        var output = new Option<string>("--out", "-o") { Description = "Output weight file", Required = true };
        var classNames = new Option<string?>("--class-names")
        {
            Description = "Comma-separated class names, one per class, stored as capsnet.class_names",
        };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing output file (atomically)" };
        var command = new Command("convert", "Rewrite a weight file as F32, F16 or BF16 and/or set its class names")
        {
            weights, dtype, output, classNames, force,
        };
        command.SetAction(CommandRunner.Guard(parse => Run(parse.GetValue(weights)!, parse.GetValue(dtype),
            parse.GetValue(output)!, parse.GetValue(classNames), parse.GetValue(force), parse.InvocationConfiguration.Output)));
        return command;
    }

    internal static int Run(string inputPath, string? dtypeText, string outputPath, string? classNamesText, bool force, TextWriter output)
    {
        string? dtype = dtypeText is null ? null : CommonOptions.WeightDType(dtypeText);
        // Checked before reading. Converting in place needs --force; then the input is read whole first and the result
        // replaces it atomically (temporary file, flush, rename), so a failure at any point leaves the original.
        if (SameFile(inputPath, outputPath) && !force)
            throw new CliException($"--out {UntrustedText.Quote(outputPath)} is the input file; write to another name, or pass --force to replace it atomically");
        CommonOptions.OutputPath(outputPath, "--out", force);

        byte[] input = InputFile.ReadAllBytes(inputPath, Array.MaxLength, "weight file");
        var header = SafeTensorsFile.Parse(input, inputPath).Header;
        // A training checkpoint gives its parameters (a run stopped mid-epoch); Adam's moments are dropped.
        bool checkpoint = TrainingCheckpoint.IsCheckpoint(header.Metadata);
        var weights = checkpoint ? TrainingCheckpoint.Read(input, inputPath).ToWeights() : CapsNetWeightsFile.Read(input, inputPath);
        var inputDTypes = header.Entries.Where(e => !checkpoint || !e.Name.StartsWith("adam.", StringComparison.Ordinal)).Select(e => e.DType).Distinct(StringComparer.Ordinal).OrderBy(d => d, StringComparer.Ordinal).ToArray();
        string inputDType = string.Join("+", inputDTypes);
        if (dtype is null)
            dtype = inputDTypes.Length == 1 ? inputDTypes[0]
                : throw new CliException($"{inputPath} mixes dtypes {inputDType}; say which one the output gets with --dtype");

        if (classNamesText is not null)
        {
            string[] names = classNamesText.Split(',').Select(n => n.Trim()).ToArray();
            string? problem = CapsNetClassNames.Problem(names, weights.Architecture.Classes);
            if (problem is not null) throw new CliException($"--class-names {problem}");
            weights.Metadata[CapsNetClassNames.MetadataKey] = CapsNetClassNames.Encode(names);
        }
        string source = Path.GetFileName(inputPath);
        weights.Metadata[ConvertedFromKey] = $"{source} ({(checkpoint ? "training checkpoint, " : "")}{inputDType}, sha256 {FileHash.Sha256(input)}) to {dtype}";

        byte[] bytes = CapsNetWeightsFile.Write(weights, dtype, inputPath);
        // Read back what will be written: proves the file loads and measures what rounding changed.
        var written = CapsNetWeightsFile.Read(bytes, outputPath);
        double maxChange = 0;
        long flushed = 0;
        foreach (var spec in weights.Architecture.Tensors)
        {
            float[] before = weights[spec.Name], after = written[spec.Name];
            for (int k = 0; k < before.Length; k++)
            {
                maxChange = Math.Max(maxChange, Math.Abs((double)after[k] - before[k]));
                if (after[k] == 0 && before[k] != 0) flushed++;
            }
        }
        AtomicFile.Write(outputPath, bytes);
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(UntrustedText.Line($"wrote {outputPath}: {dtype}, {bytes.Length:N0} bytes (input {inputDType}, {input.Length:N0} bytes), sha256 {FileHash.Sha256(bytes)}"));
        output.WriteLine($"rounding: max |change| {maxChange.ToString("G3", inv)}, {flushed:N0} nonzero values became 0");
        output.WriteLine($"classes  {string.Join(", ", written.ClassNames)}");
        return 0;
    }

    /// <summary>Whether two paths name the same file (after resolving symbolic links).</summary>
    private static bool SameFile(string a, string b)
    {
        static string Resolve(string path)
        {
            try
            {
                var info = new FileInfo(path);
                return info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
            }
            catch (IOException)
            {
                return Path.GetFullPath(path);
            }
        }
        return string.Equals(Resolve(a), Resolve(b), StringComparison.Ordinal);
    }
}
