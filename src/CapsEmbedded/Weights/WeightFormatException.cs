// This file is also compiled into the source generator (netstandard2.0): keep it free of
// APIs newer than netstandard2.0.
using System;

namespace CapsEmbedded.Weights;

/// <summary>
/// A weight file that is not a valid CapsNet safetensors file. The message names the file, the tensor when
/// one is to blame, and what is wrong with it; it is the only exception a reader lets out for bad bytes.
/// </summary>
public sealed class WeightFormatException : Exception
{
    public WeightFormatException(string fileName, string? tensorName, string problem)
        : base(Format(fileName, tensorName, problem))
    {
        FileName = fileName;
        TensorName = tensorName;
        Problem = problem;
    }

    public WeightFormatException(string fileName, string? tensorName, string problem, Exception innerException)
        : base(Format(fileName, tensorName, problem), innerException)
    {
        FileName = fileName;
        TensorName = tensorName;
        Problem = problem;
    }

    /// <summary>The file (or name given to an in-memory buffer) that was read.</summary>
    public string FileName { get; }

    /// <summary>The tensor at fault, or null when the problem is not about one tensor.</summary>
    public string? TensorName { get; }

    /// <summary>What is wrong, without the file and tensor prefix.</summary>
    public string Problem { get; }

    private static string Format(string fileName, string? tensorName, string problem) =>
        tensorName is null ? fileName + ": " + problem : fileName + ": tensor '" + IO.UntrustedText.Quote(tensorName) + "': " + problem;
}
