namespace CapsEmbedded.Interop;

/// <summary>An error a generated C export reports with a specific <see cref="NativeStatus"/> code.</summary>
public sealed class NativeCallException : Exception
{
    public NativeCallException(int status, string message) : base(message) => Status = status;

    public NativeCallException(int status, string message, Exception innerException) : base(message, innerException) => Status = status;

    /// <summary>The negative status the export returns.</summary>
    public int Status { get; }
}
