namespace CapsEmbedded.Data;

/// <summary>A data file is malformed; the message is "file: problem", and both parts are kept apart for callers.</summary>
public abstract class DataFormatException : Exception
{
    protected DataFormatException(string fileName, string problem, Exception? innerException)
        : base($"{fileName}: {problem}", innerException)
    {
        FileName = fileName;
        Problem = problem;
    }

    /// <summary>The file as it was named to the reader (path or display name).</summary>
    public string FileName { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}

/// <summary>
/// An IDX file (the MNIST container format) is malformed: bad magic, unsupported data type, insane dimensions,
/// truncated or with trailing bytes, corrupt gzip data, or labels out of range.
/// </summary>
public sealed class IdxFormatException(string fileName, string problem, Exception? innerException = null)
    : DataFormatException(fileName, problem, innerException);
