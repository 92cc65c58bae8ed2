namespace CapsEmbedded.Data;

/// <summary>An image file is malformed or uses a feature the decoder does not support; the message names file and problem.</summary>
public sealed class ImageFormatException : Exception
{
    public ImageFormatException(string fileName, string problem, Exception? innerException = null)
        : base($"{fileName}: {problem}", innerException)
    {
        FileName = fileName;
        Problem = problem;
    }

    public string FileName { get; }

    public string Problem { get; }
}
