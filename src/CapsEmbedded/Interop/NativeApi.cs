using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using CapsEmbedded.Kernels;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Interop;

/// <summary>
/// What every generated C export shares: turning C pointers into spans after checking them, the thread's last error,
/// exception → status mapping, and static UTF-8 strings. Generated code stays safe C#: pointers arrive as <c>nint</c>.
/// </summary>
public static class NativeApi
{
    // The message of the last failed call on this thread (errno-like: successful calls leave it).
    [ThreadStatic] private static string? t_lastError;

    /// <summary>Sets the thread's last error and returns <paramref name="status"/> (negative).</summary>
    public static int Fail(int status, string message)
    {
        t_lastError = message;
        return status;
    }

    /// <summary>Maps any exception to a status and message; never throws (it runs in an export's catch).</summary>
    public static int Fail(string function, Exception e)
    {
        int status = e switch
        {
            NativeCallException n => n.Status,
            WeightFormatException => NativeStatus.FormatError,
            IOException or UnauthorizedAccessException => NativeStatus.FileError,
            OutOfMemoryException or InsufficientExecutionStackException => NativeStatus.OutOfMemory,
            PlatformNotSupportedException => NativeStatus.Unsupported,
            ObjectDisposedException => NativeStatus.InvalidHandle,
            ArgumentException => NativeStatus.InvalidArgument,
            _ => NativeStatus.Internal,
        };
        string text;
        try
        {
            text = status == NativeStatus.Internal ? $"{function}: internal error {e.GetType().Name}: {e.Message}"
                : e.Message.StartsWith(function + ": ", StringComparison.Ordinal) ? e.Message // the helpers name the function already
                : $"{function}: {e.Message}";
        }
        catch (Exception)
        {
            text = function + ": an error occurred and its message could not be built";
        }
        return Fail(status, text);
    }

    /// <summary>
    /// Copies the thread's last error as NUL-terminated UTF-8 into <paramref name="buffer"/> (truncated at a character
    /// boundary to fit <paramref name="capacity"/> bytes) and returns its full length in bytes without the NUL; a NULL
    /// buffer or capacity 0 only returns the length. Empty ("", 0) when no call on this thread has failed.
    /// </summary>
    public static nuint CopyLastError(nint buffer, nuint capacity) => CopyUtf8(t_lastError ?? "", buffer, capacity);

    /// <summary>
    /// Copies <paramref name="message"/> as NUL-terminated UTF-8 into <paramref name="buffer"/> (truncated at a character
    /// boundary to fit <paramref name="capacity"/> bytes) and returns its full length in bytes without the NUL; a NULL
    /// buffer or capacity 0 only returns the length. Allocates nothing for strings up to 1,024 bytes.
    /// </summary>
    public static unsafe nuint CopyUtf8(string message, nint buffer, nuint capacity)
    {
        int length = Encoding.UTF8.GetByteCount(message);
        if (buffer == 0 || capacity == 0) return (nuint)length;
        var destination = new Span<byte>((void*)buffer, (int)Math.Min(capacity, (nuint)int.MaxValue));
        int fit = Math.Min(length, destination.Length - 1);
        if (fit == length) Encoding.UTF8.GetBytes(message, destination);
        else
        {
            Span<byte> all = length <= 1024 ? stackalloc byte[length] : new byte[length];
            Encoding.UTF8.GetBytes(message, all);
            while (fit > 0 && (all[fit] & 0xC0) == 0x80) fit--; // don't cut a multi-byte character
            all[..fit].CopyTo(destination);
        }
        destination[fit] = 0;
        return (nuint)length;
    }

    /// <summary><paramref name="count"/> floats at <paramref name="pointer"/>, read-only; NULL is an error naming the parameter.</summary>
    public static unsafe ReadOnlySpan<float> Input(nint pointer, nuint count, string function, string name)
    {
        if (pointer == 0) throw new NativeCallException(NativeStatus.NullArgument, $"{function}: {name} is NULL");
        if (count > int.MaxValue) throw new NativeCallException(NativeStatus.InvalidArgument, $"{function}: {name} has {count} floats, more than a call takes");
        return new ReadOnlySpan<float>((void*)pointer, (int)count);
    }

    /// <summary>
    /// An output buffer of <paramref name="capacity"/> elements that must hold <paramref name="needed"/>; returns exactly
    /// <paramref name="needed"/> elements. NULL or a short buffer is an error naming the parameter and the sizes.
    /// </summary>
    public static unsafe Span<T> Output<T>(nint pointer, nuint capacity, long needed, string function, string name) where T : unmanaged
    {
        if (pointer == 0) throw new NativeCallException(NativeStatus.NullArgument, $"{function}: {name} is NULL");
        if (capacity < (ulong)needed)
            throw new NativeCallException(NativeStatus.BufferTooSmall, $"{function}: {name} has room for {capacity} values; {needed} are needed");
        return new Span<T>((void*)pointer, (int)needed);
    }

    /// <summary>
    /// The classes buffer of a top-k call: <paramref name="k"/> int32 at <paramref name="pointer"/>, k in 1 ..
    /// <paramref name="classes"/> (else an invalid argument naming k and the range; checked before NULL, so k = 0 with
    /// NULL classes says what is wrong), then NULL is an error naming classes.
    /// </summary>
    public static Span<int> Top(nint pointer, nuint k, int classes, string function)
    {
        if (k == 0 || k > (nuint)classes)
            throw new NativeCallException(NativeStatus.InvalidArgument,
                $"{function}: k is {k}; it must be 1 .. {classes} (the number of classes), the classes written longest first");
        return Output<int>(pointer, k, (long)k, function, "classes");
    }

    /// <summary>
    /// One image: <paramref name="length"/> must be the model's input length (a wrong length is a wrong argument, not a
    /// short buffer), and every value finite.
    /// </summary>
    public static ReadOnlySpan<float> Image(nint pointer, nuint length, int expected, string function)
    {
        var image = Input(pointer, length, function, "image");
        if (image.Length != expected)
            throw new NativeCallException(NativeStatus.InvalidArgument, $"{function}: image_length is {length}; this model takes {expected} floats per image");
        RequireFinite(image, function, "image");
        return image;
    }

    /// <summary>
    /// <paramref name="count"/> images of <paramref name="imageLength"/> floats each at <paramref name="pointer"/>
    /// (NULL is an error), every value finite.
    /// </summary>
    public static ReadOnlySpan<float> Images(nint pointer, int count, int imageLength, string function)
    {
        var images = Input(pointer, (nuint)((long)count * imageLength), function, "images");
        RequireFinite(images, function, "images");
        return images;
    }

    // A NaN or ∞ pixel would give NaN lengths (and "class 0"): refuse it naming the value, as a wrong length is.
    private static void RequireFinite(ReadOnlySpan<float> values, string function, string name)
    {
        if (CapsNetWeights.IndexOfNonFinite(values) is var bad and >= 0)
            throw new NativeCallException(NativeStatus.InvalidArgument,
                $"{function}: {name} value {bad} is {values[bad].ToString(System.Globalization.CultureInfo.InvariantCulture)}; pixels must be finite, in [0, 1]");
    }

    /// <summary>
    /// <paramref name="predicted"/>, the class a model gave with these <paramref name="lengths"/>, or the
    /// <see cref="NativeStatus.NonFiniteOutput"/> error (<see cref="Runtime.NonFiniteLengths"/>'s check) when any is NaN/Inf.
    /// </summary>
    public static int Class(int predicted, ReadOnlySpan<float> lengths, string function)
    {
        if (Runtime.NonFiniteLengths.Any(lengths))
            throw new NativeCallException(NativeStatus.NonFiniteOutput, $"{function}: {Runtime.NonFiniteLengths.Message("the image")}");
        return predicted;
    }

    /// <summary>
    /// As <see cref="Class"/> for a batch: <paramref name="count"/> (the images classified), or the
    /// <see cref="NativeStatus.NonFiniteOutput"/> error naming the first image whose lengths are NaN/Inf.
    /// </summary>
    public static int Classes(int count, ReadOnlySpan<float> lengths, int classes, string function)
    {
        for (int i = 0; i < count; i++)
            if (Runtime.NonFiniteLengths.Any(lengths.Slice(i * classes, classes)))
                throw new NativeCallException(NativeStatus.NonFiniteOutput,
                    $"{function}: {Runtime.NonFiniteLengths.Message("image " + i.ToString(System.Globalization.CultureInfo.InvariantCulture))}");
        return count;
    }

    /// <summary>Stores a handle at <paramref name="destination"/>, an out parameter already checked by <see cref="RequireOut"/>.</summary>
    public static unsafe void StoreHandle(nint destination, nint handle)
    {
        *(nint*)destination = handle;
    }

    /// <summary>Throws the NULL-argument error for an out parameter before any work is done.</summary>
    public static void RequireOut(nint destination, string function, string name)
    {
        if (destination == 0) throw new NativeCallException(NativeStatus.NullArgument, $"{function}: {name} is NULL");
    }

    /// <summary>The object behind a handle, or an invalid-handle error naming the parameter and the expected kind.</summary>
    public static T Resolve<T>(nint handle, string function, string name, string kind) where T : class
    {
        if (handle == 0) throw new NativeCallException(NativeStatus.NullArgument, $"{function}: {name} is NULL");
        return NativeHandles.Get<T>(handle)
            ?? throw new NativeCallException(NativeStatus.InvalidHandle, $"{function}: {name} is not a live {kind} handle (freed, or never created by this library)");
    }

    /// <summary>
    /// Frees the object behind a handle (a no-op for 0, as C's free(NULL)); a handle that is not live, freed twice or never
    /// created, is an invalid-handle error naming the parameter.
    /// </summary>
    public static int Free<T>(nint handle, string function, string name) where T : class, IDisposable
    {
        if (handle == 0) return NativeStatus.Ok;
        var removed = NativeHandles.Remove<T>(handle) ?? throw new NativeCallException(NativeStatus.InvalidHandle,
            $"{function}: {name} is not a live {name} handle (freed twice, or never created by this library)");
        removed.Dispose();
        return NativeStatus.Ok;
    }

    /// <summary>A NUL-terminated UTF-8 path; NULL or invalid UTF-8 is an error.</summary>
    public static string Path(nint pointer, string function, string name)
    {
        if (pointer == 0) throw new NativeCallException(NativeStatus.NullArgument, $"{function}: {name} is NULL");
        string path = Marshal.PtrToStringUTF8(pointer) ?? "";
        if (path.Length == 0) throw new NativeCallException(NativeStatus.InvalidArgument, $"{function}: {name} is an empty string");
        return path;
    }

    /// <summary>
    /// Reads a weight file for a generated model. Errors: <see cref="NativeStatus.FileError"/> (cannot read),
    /// <see cref="NativeStatus.FormatError"/> (not a CapsNet file) and <see cref="NativeStatus.WrongArchitecture"/>,
    /// each with the reader's message.
    /// </summary>
    public static CapsNetWeights LoadWeightsFile(string path, CapsNetArchitecture expected)
    {
        var weights = CapsNetWeightsFile.Load(path);
        ThrowIfArchitectureDiffers(weights.Architecture, expected, path);
        return weights;
    }

    /// <summary>As <see cref="LoadWeightsFile"/>, for a generated int8 model: an int8-quantised file (a float file is a format error).</summary>
    public static Quantization.QuantizedCapsNetWeights LoadQuantizedWeightsFile(string path, CapsNetArchitecture expected)
    {
        var weights = Quantization.QuantizedWeightsFile.Load(path);
        ThrowIfArchitectureDiffers(weights.Architecture, expected, path);
        return weights;
    }

    /// <summary>
    /// As <see cref="LoadWeightsFile"/>, for a generated Efficient-CapsNet model: an Efficient-CapsNet file (a paper
    /// CapsNet file is a format error naming both families), of <paramref name="expected"/> or a WrongArchitecture.
    /// </summary>
    public static EfficientCapsNetWeights LoadEfficientWeightsFile(string path, EfficientCapsNetArchitecture expected)
    {
        var weights = EfficientCapsNetWeightsFile.Load(path);
        if (!weights.Architecture.Equals(expected))
            throw new NativeCallException(NativeStatus.WrongArchitecture,
                $"{path}: holds the Efficient-CapsNet {weights.Architecture}; this library was generated for {expected}");
        return weights;
    }

    private static void ThrowIfArchitectureDiffers(CapsNetArchitecture actual, CapsNetArchitecture expected, string path)
    {
        if (actual == expected) return;
        try
        {
            Runtime.PackedCapsNetWeights.ThrowIfArchitectureDiffers(actual, expected, path);
        }
        catch (WeightFormatException e)
        {
            throw new NativeCallException(NativeStatus.WrongArchitecture, e.Message, e);
        }
    }

    /// <summary>
    /// The address of a NUL-terminated <c>"..."u8</c> literal: such data lives in the image for the process's lifetime,
    /// so the pointer stays valid. Only for literals: a span over managed or stack memory would dangle.
    /// </summary>
    public static unsafe nint StaticUtf8(ReadOnlySpan<byte> literal)
    {
        if (literal.IsEmpty || literal[^1] != 0) throw new ArgumentException("the literal must end with a NUL byte", nameof(literal));
        return (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(literal));
    }

    /// <summary>The tier's name as a static NUL-terminated UTF-8 string ("Scalar", "Vector128", ...).</summary>
    public static nint TierName(SimdTier tier) => tier switch
    {
        SimdTier.Vector512 => StaticUtf8("Vector512\0"u8),
        SimdTier.Vector256 => StaticUtf8("Vector256\0"u8),
        SimdTier.Vector128 => StaticUtf8("Vector128\0"u8),
        _ => StaticUtf8("Scalar\0"u8),
    };
}
