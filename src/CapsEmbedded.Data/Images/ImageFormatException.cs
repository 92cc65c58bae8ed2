namespace CapsEmbedded.Data;

/// <summary>An image file is malformed or uses a feature the decoder does not support; the message names file and problem.</summary>
public sealed class ImageFormatException(string fileName, string problem, Exception? innerException = null)
    : DataFormatException(fileName, problem, innerException);
