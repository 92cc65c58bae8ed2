// This file is also compiled into the source generator (netstandard2.0), which writes these codes into the C header:
// keep it free of APIs newer than netstandard2.0.
namespace CapsEmbedded.Interop;

/// <summary>
/// The status codes of generated C exports (<c>[CapsNetModel(..., NativeExportPrefix = "...")]</c>). Success is 0 or,
/// for functions that return a class or a count, that value (≥ 0); every error is negative and sets the thread's last
/// error message. One table, so the generated header and the runtime cannot disagree.
/// </summary>
public static class NativeStatus
{
    public const int Ok = 0;
    public const int NullArgument = -1;
    public const int BufferTooSmall = -2;
    public const int InvalidArgument = -3;
    public const int InvalidHandle = -4;
    public const int FileError = -5;
    public const int FormatError = -6;
    public const int WrongArchitecture = -7;
    public const int OutOfMemory = -8;
    public const int Unsupported = -9;
    public const int NonFiniteOutput = -10;
    public const int Internal = -99;

    /// <summary>Every code with its C name suffix and meaning, in header order.</summary>
    public static readonly NativeStatusInfo[] All =
    {
        new NativeStatusInfo(Ok, "OK", "success"),
        new NativeStatusInfo(NullArgument, "NULL_ARGUMENT", "a required pointer argument is NULL"),
        new NativeStatusInfo(BufferTooSmall, "BUFFER_TOO_SMALL", "an output buffer's capacity is below what the call writes"),
        new NativeStatusInfo(InvalidArgument, "INVALID_ARGUMENT", "an argument has a wrong value (e.g. an image length other than INPUT_LENGTH)"),
        new NativeStatusInfo(InvalidHandle, "INVALID_HANDLE", "a handle is freed, never created, or of the other kind (weights vs workspace)"),
        new NativeStatusInfo(FileError, "FILE_ERROR", "the weight file cannot be opened or read"),
        new NativeStatusInfo(FormatError, "FORMAT_ERROR", "the weight file is not a valid CapsNet safetensors file"),
        new NativeStatusInfo(WrongArchitecture, "WRONG_ARCHITECTURE", "the weight file holds another CapsNet architecture than this library's"),
        new NativeStatusInfo(OutOfMemory, "OUT_OF_MEMORY", "an allocation failed"),
        new NativeStatusInfo(Unsupported, "UNSUPPORTED", "the CPU lacks what the call needs"),
        new NativeStatusInfo(NonFiniteOutput, "NON_FINITE_OUTPUT", "the weights give this image NaN/Inf capsule lengths: no class (the outputs are not meaningful)"),
        new NativeStatusInfo(Internal, "INTERNAL", "a bug in the library: the message says where"),
    };
}

/// <summary>One status code: value, C name suffix (<c>PREFIX_STATUS_&lt;Name&gt;</c>) and meaning.</summary>
public sealed record NativeStatusInfo(int Code, string Name, string Meaning);
