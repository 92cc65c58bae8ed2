using System.Text;
using CapsEmbedded.Generator.Tests.Generated;

namespace CapsEmbedded.Generator.Tests.Native;

/// <summary>
/// The generated C exports of <see cref="TinyCapsNet"/> called as C would: through unmanaged function pointers to the
/// [UnmanagedCallersOnly] methods, with raw pointers (pinned arrays) and explicit capacities.
/// </summary>
internal static unsafe class TinyApi
{
    public static int WeightsEmbedded(out nint weights)
    {
        nint h = 0;
        int status = ((delegate* unmanaged<nint, int>)&TinyCapsNet.NativeExports.WeightsEmbedded)((nint)(&h));
        weights = h;
        return status;
    }

    public static int WeightsLoad(string? path, out nint weights)
    {
        nint h = 0;
        int status;
        if (path is null) status = ((delegate* unmanaged<nint, nint, int>)&TinyCapsNet.NativeExports.WeightsLoad)(0, (nint)(&h));
        else
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(path + "\0");
            fixed (byte* p = utf8) status = ((delegate* unmanaged<nint, nint, int>)&TinyCapsNet.NativeExports.WeightsLoad)((nint)p, (nint)(&h));
        }
        weights = h;
        return status;
    }

    public static int WeightsFree(nint weights) => ((delegate* unmanaged<nint, int>)&TinyCapsNet.NativeExports.WeightsFree)(weights);

    /// <summary>The raw call: copies class <paramref name="index"/>'s name into <paramref name="buffer"/> (NULL when null) and returns its length or a status.</summary>
    public static int ClassName(nint weights, int index, byte[]? buffer, long capacity = -1)
    {
        fixed (byte* b = buffer)
            return ((delegate* unmanaged<nint, int, nint, nuint, int>)&TinyCapsNet.NativeExports.ClassName)(
                weights, index, (nint)b, (nuint)(capacity >= 0 ? capacity : buffer?.Length ?? 0));
    }

    /// <summary>Class <paramref name="index"/>'s name as a string (through a buffer of exactly the reported size).</summary>
    public static string ClassName(nint weights, int index)
    {
        int length = ClassName(weights, index, null);
        Assert.True(length >= 0, $"class_name returned {length}: {LastError()}");
        var buffer = new byte[length + 1];
        Assert.Equal(length, ClassName(weights, index, buffer));
        Assert.Equal(0, buffer[length]);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    public static int WorkspaceCreate(out nint workspace)
    {
        nint h = 0;
        int status = ((delegate* unmanaged<nint, int>)&TinyCapsNet.NativeExports.WorkspaceCreate)((nint)(&h));
        workspace = h;
        return status;
    }

    public static int WorkspaceFree(nint workspace) => ((delegate* unmanaged<nint, int>)&TinyCapsNet.NativeExports.WorkspaceFree)(workspace);

    /// <summary>Null arrays are passed as NULL pointers; capacities default to the array lengths.</summary>
    public static int Predict(nint weights, nint workspace, float[]? image, float[]? lengths, long imageLength = -1, long lengthsCapacity = -1)
    {
        fixed (float* i = image) fixed (float* l = lengths)
            return ((delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, int>)&TinyCapsNet.NativeExports.Predict)(
                weights, workspace, (nint)i, (nuint)(imageLength >= 0 ? imageLength : image?.Length ?? 0),
                (nint)l, (nuint)(lengthsCapacity >= 0 ? lengthsCapacity : lengths?.Length ?? 0));
    }

    /// <summary>Null arrays are passed as NULL pointers; k defaults to the classes array's length.</summary>
    public static int PredictTop(nint weights, nint workspace, float[]? image, float[]? lengths, int[]? classes, long k = -1,
        long lengthsCapacity = -1)
    {
        fixed (float* i = image) fixed (float* l = lengths) fixed (int* c = classes)
            return ((delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, nint, nuint, int>)&TinyCapsNet.NativeExports.PredictTop)(
                weights, workspace, (nint)i, (nuint)(image?.Length ?? 0),
                (nint)l, (nuint)(lengthsCapacity >= 0 ? lengthsCapacity : lengths?.Length ?? 0),
                (nint)c, (nuint)(k >= 0 ? k : classes?.Length ?? 0));
    }

    public static int PredictBatch(nint weights, nint workspace, float[]? images, long count, float[]? lengths, int[]? classes)
    {
        fixed (float* i = images) fixed (float* l = lengths) fixed (int* c = classes)
            return ((delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, nint, nuint, int>)&TinyCapsNet.NativeExports.PredictBatch)(
                weights, workspace, (nint)i, (nuint)count, (nint)l, (nuint)(lengths?.Length ?? 0), (nint)c, (nuint)(classes?.Length ?? 0));
    }

    public static int Capsules(nint weights, nint workspace, float[]? image, float[]? capsules)
    {
        fixed (float* i = image) fixed (float* c = capsules)
            return ((delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, int>)&TinyCapsNet.NativeExports.Capsules)(
                weights, workspace, (nint)i, (nuint)(image?.Length ?? 0), (nint)c, (nuint)(capsules?.Length ?? 0));
    }

    public static int Reconstruct(nint weights, nint workspace, float[]? image, float[]? reconstruction)
    {
        fixed (float* i = image) fixed (float* r = reconstruction)
            return ((delegate* unmanaged<nint, nint, nint, nuint, nint, nuint, int>)&TinyCapsNet.NativeExports.Reconstruct)(
                weights, workspace, (nint)i, (nuint)(image?.Length ?? 0), (nint)r, (nuint)(reconstruction?.Length ?? 0));
    }

    public static long Size(int query) => ((delegate* unmanaged<int, long>)&TinyCapsNet.NativeExports.Size)(query);

    public static string Version() => new((sbyte*)((delegate* unmanaged<nint>)&TinyCapsNet.NativeExports.Version)());

    public static string SimdTier() => new((sbyte*)((delegate* unmanaged<nint>)&TinyCapsNet.NativeExports.SimdTierName)());

    /// <summary>The raw call: copies into <paramref name="buffer"/> (NULL when null) and returns the full length.</summary>
    public static nuint LastError(byte[]? buffer, long capacity = -1)
    {
        fixed (byte* b = buffer)
            return ((delegate* unmanaged<nint, nuint, nuint>)&TinyCapsNet.NativeExports.LastError)((nint)b, (nuint)(capacity >= 0 ? capacity : buffer?.Length ?? 0));
    }

    /// <summary>The thread's last error as a string (through a buffer of exactly the reported size).</summary>
    public static string LastError()
    {
        int length = (int)LastError(null);
        var buffer = new byte[length + 1];
        Assert.Equal((nuint)length, LastError(buffer));
        Assert.Equal(0, buffer[length]);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }
}
