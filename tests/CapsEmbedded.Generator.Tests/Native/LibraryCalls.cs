using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using CapsEmbedded.Interop;

namespace CapsEmbedded.Generator.Tests.Native;

/// <summary>
/// What the tests of the published C libraries (src/CapsEmbedded.Native, src/CapsEmbedded.Native.Efficient) share: the
/// committed-header check and the C calls, made through unmanaged function pointers to a library's exports.
/// </summary>
internal static unsafe class LibraryCalls
{
    /// <summary>
    /// The header committed at src/<paramref name="project"/>/include/<paramref name="fileName"/> equals the generated
    /// <paramref name="header"/>. After an intended change to the exports, run with UPDATE_SNAPSHOTS=1 to rewrite it, and review the diff.
    /// </summary>
    public static void AssertCommittedHeader(string project, string fileName, string header)
    {
        string path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(ThisFile())!, "..", "..", "..", "src", project, "include", fileName));
        if (Environment.GetEnvironmentVariable("UPDATE_SNAPSHOTS") == "1") File.WriteAllText(path, header);
        Assert.True(File.Exists(path), $"no header at {path}; run the tests with UPDATE_SNAPSHOTS=1");
        Assert.Equal(header, File.ReadAllText(path).ReplaceLineEndings("\n"));
    }

    private static string ThisFile([CallerFilePath] string path = "") => path;

    /// <summary>The C names of <paramref name="exports"/>' [UnmanagedCallersOnly] methods, in ordinal order.</summary>
    public static List<string> EntryPoints(Type exports) => exports.GetMethods()
        .Select(m => m.GetCustomAttributes(typeof(UnmanagedCallersOnlyAttribute), false).Cast<UnmanagedCallersOnlyAttribute>()
            .SingleOrDefault()?.EntryPoint)
        .OfType<string>().Order(StringComparer.Ordinal).ToList();

    /// <summary>A handle from a <c>_create</c>/<c>_embedded</c> export, which must succeed.</summary>
    public static nint Handle(delegate* unmanaged<nint, int> create)
    {
        nint h = 0;
        Assert.Equal(NativeStatus.Ok, create((nint)(&h)));
        return h;
    }

    /// <summary><c>_weights_load</c> on <paramref name="path"/> (UTF-8, NUL-terminated): its status, and the handle.</summary>
    public static int Load(delegate* unmanaged<nint, nint, int> load, string path, out nint weights)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(path + "\0");
        nint handle = 0;
        int status;
        fixed (byte* p = utf8) status = load((nint)p, (nint)(&handle));
        weights = handle;
        return status;
    }

    /// <summary>The calling thread's last error text (at most 1023 bytes) through <c>_last_error</c>.</summary>
    public static string LastError(delegate* unmanaged<nint, nuint, nuint> lastError)
    {
        var buffer = new byte[1024];
        nuint length;
        fixed (byte* b = buffer) length = lastError((nint)b, 1024);
        return Encoding.UTF8.GetString(buffer, 0, (int)Math.Min(length, 1023));
    }

    /// <summary><c>_predict</c> of one image into <paramref name="lengths"/>: the class, or a negative status.</summary>
    public static int Predict(delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, int> predict, nint weights, nint workspace,
        float[] image, float[] lengths)
    {
        fixed (float* i = image) fixed (float* l = lengths)
            return predict(weights, workspace, (nint)i, (nuint)image.Length, (nint)l, (nuint)lengths.Length);
    }
}
