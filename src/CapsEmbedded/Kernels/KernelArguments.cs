using System.Runtime.InteropServices;

namespace CapsEmbedded.Kernels;

/// <summary>Argument checks and tier errors the GEMM kernels (float and int8) share, so their messages read alike.</summary>
internal static class KernelArguments
{
    /// <summary>Throws when <paramref name="name"/> has fewer than <paramref name="expected"/> elements (<paramref name="what"/> is the formula).</summary>
    public static void RequireLength(int actual, long expected, string name, string what)
    {
        if (actual < expected)
        {
            throw new ArgumentException($"{name} has {actual} elements; expected at least {what} = {expected}.", name);
        }
    }

    /// <summary><paramref name="length"/> as an int, or an exception when a packed n×k matrix of that many elements cannot be an array.</summary>
    public static int PackedLength(long length, int n, int k, string matrix, string units)
    {
        if (length > Array.MaxLength)
        {
            throw new ArgumentException($"A packed {n}×{k} {matrix} needs {length} {units}, more than an array can hold.");
        }

        return (int)length;
    }

    /// <summary>
    /// Throws naming <paramref name="tier"/> when it is not a value of its enum or this process cannot run it;
    /// <paramref name="machine"/> (the ISA flags) is called only then, so the check allocates nothing.
    /// </summary>
    public static void ThrowIfUnsupported<TTier>(TTier tier, bool supported, string kind, TTier best, Func<string> machine)
        where TTier : struct, Enum
    {
        if (!Enum.IsDefined(tier))
        {
            throw new ArgumentOutOfRangeException(nameof(tier), tier, $"Unknown {kind} tier.");
        }

        if (!supported)
        {
            throw new PlatformNotSupportedException(
                $"{kind} tier {tier} is not supported on this machine (best supported: {best}; " +
                $"{RuntimeInformation.ProcessArchitecture}, {machine()}).");
        }
    }
}
