using System.CommandLine;
using System.Globalization;
using CapsEmbedded.IO;
using CapsEmbedded.Models;
using CapsEmbedded.Quantization;
using CapsEmbedded.Training;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet info &lt;weights&gt;</c> (or <c>--weights</c>), or <c>capsnet info --model NAME</c> for a compiled model's
/// embedded file: family, architecture (the shapes), parameters per layer, metadata, multiply-adds per image, and the
/// precision it runs at, of a float weight file (F32/F16/BF16) of either family, an int8-quantised one (each tensor's
/// dtype and the scales) or a training checkpoint.
/// </summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var file = new Argument<string?>("weights") { Description = "Weight file (.safetensors); or give --weights, or --model for a compiled model's own file", Arity = ArgumentArity.ZeroOrOne };
        var chosen = new ModelOptions();
        var command = new Command("info", "Describe a weight file (float or int8, either family), a compiled model's embedded file (--model) or a training checkpoint: family, architecture, parameters, metadata or run state, FLOPs")
        {
            file, chosen.Weights, chosen.Model,
        };
        command.SetAction(CommandRunner.Guard(parse => Run(parse.GetValue(file), chosen.WeightsPath(parse), chosen.ModelName(parse), parse.InvocationConfiguration.Output)));
        return command;
    }

    /// <summary>The file given as the argument or <c>--weights</c>, checked against <c>--model</c>'s family; or, with <c>--model</c> alone, its embedded file.</summary>
    public static int Run(string? argument, string? weightsOption, string? modelName, TextWriter output)
    {
        if (argument is not null && weightsOption is not null)
            throw new CliException("give the weight file once: as the argument or as --weights");
        string? path = argument ?? weightsOption;
        var model = modelName is null ? null : ModelChoice.Named(modelName);
        if (path is null)
            return model is null
                ? throw new CliException("info needs a weight file (capsnet info FILE) or a compiled model (capsnet info --model NAME)")
                : RunEmbedded(model, output);
        return Run(path, output, model);
    }

    /// <summary>Describes the file at <paramref name="path"/>; with <paramref name="model"/>, a file of another family is refused naming both.</summary>
    public static int Run(string path, TextWriter output, CompiledModel? model = null)
    {
        SafeTensorsHeader header;
        using (var stream = InputFile.OpenRead(path, Array.MaxLength, "weight file"))
            header = SafeTensorsFile.ReadHeader(stream, path).Header;
        var family = CapsNetFamily.Of(header.Metadata, path);
        model?.CheckFamily(path, family);
        // An Efficient-CapsNet file (capsnet.family = "efficient") has its own architecture, tensors and costs.
        var efficient = family == CapsNetFamily.Efficient ? EfficientCapsNetWeightsFile.Load(path) : null;
        bool isCheckpoint = efficient is null && header.Metadata.ContainsKey("trainer.format");
        TrainingCheckpoint? checkpoint = isCheckpoint ? TrainingCheckpoint.Load(path) : null;
        var quantized = efficient is null && !isCheckpoint && QuantizedWeightsFile.IsQuantized(header) ? QuantizedWeightsFile.Load(path) : null;
        var weights = checkpoint is null && efficient is null ? quantized?.Weights ?? CapsNetWeightsFile.Load(path) : null;
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(UntrustedText.Line($"file          {path}"));
        output.WriteLine($"size          {new FileInfo(path).Length.ToString("N0", inv)} bytes");
        output.WriteLine($"sha256        {FileHash.Sha256(path)}");
        Describe(header, efficient, checkpoint, quantized, weights, output);
        return 0;
    }

    /// <summary><c>capsnet info --model NAME</c>: the weight file compiled into capsnet for <paramref name="model"/>.</summary>
    public static int RunEmbedded(CompiledModel model, TextWriter output)
    {
        byte[] file = model.ReadEmbeddedFile();
        var header = SafeTensorsFile.Parse(file, model.WeightsFileName).Header;
        var efficient = model.Family == CapsNetFamily.Efficient ? EfficientCapsNetWeightsFile.Read(file, model.WeightsFileName) : null;
        var weights = efficient is null ? CapsNetWeightsFile.Read(file, model.WeightsFileName) : null;
        output.WriteLine($"file          {model.EmbeddedSource}, compiled into capsnet as --model {model.Name}");
        output.WriteLine($"size          {file.Length.ToString("N0", CultureInfo.InvariantCulture)} bytes");
        output.WriteLine($"sha256        {FileHash.Sha256(file)}");
        Describe(header, efficient, null, null, weights, output);
        return 0;
    }

    // Everything after the file's name, size and hash; exactly one of efficient, checkpoint and weights is set.
    private static void Describe(SafeTensorsHeader header, EfficientCapsNetWeights? efficient, TrainingCheckpoint? checkpoint,
        QuantizedCapsNetWeights? quantized, CapsNetWeights? weights, TextWriter output)
    {
        CapsuleArchitecture a = efficient is not null ? efficient.Architecture : checkpoint?.Architecture ?? weights!.Architecture;
        var tensors = a.Tensors;
        var metadata = efficient?.Metadata ?? weights?.Metadata;
        var inv = CultureInfo.InvariantCulture;
        if (efficient is not null) output.WriteLine("family        efficient (Efficient-CapsNet, Mazzia et al. 2021: self-attention routing)");
        else if (checkpoint is null) output.WriteLine("family        paper (Dynamic Routing Between Capsules, Sabour et al. 2017)");
        output.WriteLine($"architecture  {a}");
        if (quantized is not null) WriteQuantized(quantized, output);
        else if (metadata is not null) output.WriteLine($"dtype         {string.Join("+", header.Entries.Select(e => e.DType).Distinct().Order(StringComparer.Ordinal))} (widened to float32 when loaded)");
        if (checkpoint is null) output.WriteLine($"precision     {PrecisionText(efficient, quantized, weights!)}");
        if (checkpoint is not null) WriteCheckpoint(checkpoint, output);
        output.WriteLine();
        if (quantized is null)
        {
            int width = Math.Max(22, tensors.Max(t => t.Name.Length));
            output.WriteLine($"{"tensor".PadRight(width)} {"shape",-18} {"parameters",12}");
            foreach (var t in tensors)
                output.WriteLine($"{t.Name.PadRight(width)} {t.ShapeText,-18} {t.ElementCount.ToString("N0", inv),12}");
        }
        else
        {
            // The file's own tensors, each with its dtype: the int8 weight and the two F32 scale tensors beside the float ones.
            output.WriteLine($"{"tensor",-25} {"dtype",-5} {"shape",-18} {"parameters",12}");
            foreach (var t in header.Entries)
                output.WriteLine($"{t.Name,-25} {t.DType,-5} {t.ShapeText,-18} {t.ElementCount.ToString("N0", inv),12}");
        }
        output.WriteLine($"{"total",-22} {"",-18} {a.ParameterCount.ToString("N0", inv),12}");
        output.WriteLine();
        output.WriteLine($"{"layer",-14} {"multiply-adds",15} {"MFLOP",10}");
        foreach (var cost in a.LayerCosts)
            output.WriteLine($"{cost.Layer,-14} {cost.MultiplyAdds.ToString("N0", inv),15} {(2e-6 * cost.MultiplyAdds).ToString("F1", inv),10}");
        output.WriteLine($"{"per image",-14} {a.MultiplyAdds.ToString("N0", inv),15} {(2e-6 * a.MultiplyAdds).ToString("F1", inv),10}");
        output.WriteLine();
        if (metadata is null) return; // a checkpoint's metadata is its state, shown above
        output.WriteLine("metadata");
        foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            output.WriteLine($"  {UntrustedText.Quote(key)} = {UntrustedText.Quote(value, 200)}");
    }

    // The arithmetic capsnet runs the file with, and on which model: the one eval, predict and bench pick for it.
    private static string PrecisionText(EfficientCapsNetWeights? efficient, QuantizedCapsNetWeights? quantized, CapsNetWeights weights)
    {
        if (quantized is not null) return "int8 primary capsules and W of û (quantised per W_ij at load), float32 elsewhere (eval, predict and bench with --precision int8)";
        var compiled = efficient is not null ? CompiledModel.OfFamily(CapsNetFamily.Efficient) : CompiledModel.OfArchitecture(weights.Architecture);
        return compiled is null
            ? "float32, on the scalar reference model (no compiled model has this architecture)"
            : $"float32, on the compiled model {compiled.Name} (eval, predict and bench with --weights)";
    }

    /// <summary>What quantisation did to the file: the scheme, which tensor is int8, and its scales.</summary>
    private static void WriteQuantized(QuantizedCapsNetWeights q, TextWriter output)
    {
        var inv = CultureInfo.InvariantCulture;
        string calibration = q.Metadata.TryGetValue(QuantizedCapsNetWeights.CalibrationKey, out var c) ? $", calibrated on {UntrustedText.Quote(c)}" : "";
        output.WriteLine($"kind          int8-quantised, scheme {QuantizedCapsNetWeights.Scheme}{calibration}");
        output.WriteLine($"dtype         {QuantizedWeightsFile.I8} {CapsNetArchitecture.PrimaryWeight} (symmetric, one scale per output channel); F32 the other tensors and the scales");
        output.WriteLine(string.Create(inv,
            $"scales        {QuantizedCapsNetWeights.PrimaryWeightScaleName}: {q.PrimaryWeightScale.Length} channels, {q.PrimaryWeightScale.Min():G6} .. {q.PrimaryWeightScale.Max():G6}; {QuantizedCapsNetWeights.PrimaryInputScaleName} s_a = {q.PrimaryInputScale:G6} (7-bit input codes)"));
    }

    /// <summary>Where a training run stands: what <c>capsnet train --resume</c> would continue from.</summary>
    private static void WriteCheckpoint(TrainingCheckpoint c, TextWriter output)
    {
        var o = c.Options;
        var s = c.State;
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine($"kind          training checkpoint (format {TrainingCheckpoint.FormatVersion}): model, Adam state and run state");
        output.WriteLine(FormattableString.Invariant($"step          {s.Step:N0}"));
        output.WriteLine(FormattableString.Invariant($"epoch         {s.Epoch} of {o.Epochs} done; {s.Position:N0} of {c.TrainImages:N0} images into epoch {s.Epoch + 1}"));
        output.WriteLine(FormattableString.Invariant(
            $"learning rate {o.Schedule.At(s.Step, o.Batch).ToString("G4", inv)} now (initial {o.LearningRate.ToString("G4", inv)}, x{o.Decay.ToString("G4", inv)} per {o.Schedule.PeriodSteps(o.Batch):F0} steps)"));
        bool adam = c.FirstMoment.Any(x => x != 0) || c.SecondMoment.Any(x => x != 0);
        output.WriteLine($"optimiser     Adam: first and second moments for all {c.Architecture.Tensors.Count} tensors present{(adam ? "" : " (all zero: no step taken yet)")}");
        output.WriteLine(FormattableString.Invariant($"run           batch {o.Batch}, group {o.GroupSize}, {o.Threads} threads, seed {o.Seed}, shift {o.MaxShift}{(o.Affine ? $", rotate {o.MaxRotationDegrees}, scale {o.MaxScale}" : "")}, {UntrustedText.Quote(o.InitDescription)}"));
        output.WriteLine(FormattableString.Invariant($"trained       {s.WallSeconds:F0} s over all sessions"));
        foreach (var h in s.History)
            output.WriteLine(FormattableString.Invariant(
                $"  epoch {h.Epoch}: train loss {h.TrainLoss:F4}, train accuracy {100 * h.TrainAccuracy:F2}%, test error {100 * h.TestError:F2}%, lr {h.LearningRate:G3}"));
    }
}
