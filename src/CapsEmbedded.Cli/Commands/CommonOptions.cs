using System.CommandLine;
using CapsEmbedded.IO;
using CapsEmbedded.Threading;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Cli.Commands;

/// <summary>Options shared by several commands, so their names and help read the same everywhere.</summary>
internal static class CommonOptions
{
    /// <summary>A <c>--dtype</c> value as a safetensors dtype (F32, F16 or BF16), or a one-line error naming it.</summary>
    public static string WeightDType(string text) => text.ToLowerInvariant() switch
    {
        "f32" or "float32" => SafeTensorsDType.F32,
        "f16" or "float16" or "half" => SafeTensorsDType.F16,
        "bf16" or "bfloat16" => SafeTensorsDType.BF16,
        _ => throw new CliException($"--dtype '{UntrustedText.Quote(text)}' is not a weight precision; use f32, f16 or bf16"),
    };

    public static Option<string?> Weights(bool required) => new("--weights", "-w")
    {
        Description = required
            ? "Weight file (.safetensors)"
            : "Weight file (.safetensors); default: the model compiled into capsnet",
        Required = required,
    };

    /// <summary>
    /// Checks an output path before any work starts (<see cref="AtomicFile.OutputProblem"/>: not empty, not a directory,
    /// its directory exists and takes new files); an existing regular file is kept unless <paramref name="overwrite"/>.
    /// Devices and FIFOs (/dev/null, /dev/stdout) need no --force.
    /// </summary>
    public static void OutputPath(string? path, string flag, bool overwrite)
    {
        if (AtomicFile.OutputProblem(path, flag, overwrite) is { } problem) throw new CliException(problem);
    }

    public static int NonNegative(int value, string option) =>
        value >= 0 ? value : throw new CliException($"{option} must not be negative, got {value}");

    /// <summary><paramref name="value"/> when it is 1..<see cref="ResourceLimits.MaxThreads"/>, the bound every tool shares.</summary>
    public static int ThreadCount(int value, string option = "--threads") =>
        ResourceLimits.ThreadsProblem(value, option) is { } problem ? throw new CliException(problem) : value;

    /// <summary>Refuses, before allocating, a flag value whose buffers would not fit in <see cref="ResourceLimits.MemoryBudget"/>.</summary>
    public static void WithinMemory(double bytes, string flags)
    {
        if (ResourceLimits.MemoryProblem(bytes, flags) is { } problem) throw new CliException(problem);
    }

    public static int Positive(int value, string option) =>
        value >= 1 ? value : throw new CliException($"{option} must be at least 1, got {value}");
}
