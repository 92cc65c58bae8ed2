using System.Globalization;

namespace CapsEmbedded.Threading;

/// <summary>
/// The bounds every tool puts on its thread count and its buffers (<c>capsnet</c>'s commands, <c>capsnet-train</c>), so
/// they refuse the same values with the same words. Each check returns the problem as one line, or null.
/// </summary>
public static class ResourceLimits
{
    /// <summary>More threads than 4 per core only cost memory (a workspace each) and switching; 10^8 of them exhausted the machine.</summary>
    public static int MaxThreads => 4 * Environment.ProcessorCount;

    /// <summary>Half of the memory the GC may use here (physical memory or the container's limit).</summary>
    public static long MemoryBudget => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;

    /// <summary>Why <paramref name="value"/> is not a usable thread count for <paramref name="option"/>, or null.</summary>
    public static string? ThreadsProblem(int value, string option = "--threads") =>
        value < 1 ? $"{option} must be at least 1, got {value}"
        : value > MaxThreads ? $"{option} {value} is more than {MaxThreads} (4 per core on this {Environment.ProcessorCount}-core machine)"
        : null;

    /// <summary>Why buffers of <paramref name="bytes"/> that <paramref name="flags"/> ask for do not fit in <see cref="MemoryBudget"/>, or null.</summary>
    public static string? MemoryProblem(double bytes, string flags) => bytes > MemoryBudget
        ? string.Create(CultureInfo.InvariantCulture,
            $"{flags} would need about {bytes / (1 << 20):N0} MiB, more than half of the {2 * MemoryBudget / (1 << 20):N0} MiB this machine has; use a smaller value")
        : null;
}
