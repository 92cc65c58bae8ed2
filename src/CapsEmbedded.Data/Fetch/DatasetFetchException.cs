namespace CapsEmbedded.Data;

/// <summary>Fetching a data set failed: a tool is missing or failed, a download is incomplete, or a hash does not match.</summary>
public sealed class DatasetFetchException : Exception
{
    public DatasetFetchException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
