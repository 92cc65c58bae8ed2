using System.Runtime.InteropServices;

namespace CapsEmbedded.TorchSharp.ShimFix;

/// <summary>
/// The loader fix for TorchSharp's native shim on older Linux (Debian 12, Ubuntu 22.04): libLibTorchSharp.so 0.107.0 was
/// built with GCC 13, whose &lt;iostream&gt; emits a reference to <c>std::ios_base_library_init()</c> (version
/// GLIBCXX_3.4.32), a link-time anchor that nothing calls. A libstdc++ older than GCC 13 lacks that version, so dlopen
/// refuses the whole shim. Where that is the case — and only then — the requirement is renamed to GLIBCXX_3.4.30 (GCC
/// 12, which the shim needs anyway for other symbols) in the shim copy of the build output; the NuGet cache is not touched.
/// </summary>
public static class ShimFixer
{
    public const string Library = "libstdc++.so.6";
    public const string From = "GLIBCXX_3.4.32";
    public const string To = "GLIBCXX_3.4.30";
    /// <summary>The only symbol allowed to carry <see cref="From"/>: the unused &lt;iostream&gt; anchor.</summary>
    public static readonly IReadOnlySet<string> AllowedSymbols = new HashSet<string> { "_ZSt21ios_base_library_initv" };

    /// <summary>
    /// Patches <paramref name="shim"/> in place (write to a temporary file, then rename) when <paramref name="libstdcxx"/>
    /// lacks <see cref="From"/>; returns one line saying what was done and why.
    /// </summary>
    public static string Apply(string shim, string libstdcxx)
    {
        var defined = ElfVersionNeedPatcher.DefinedVersions(File.ReadAllBytes(libstdcxx));
        if (defined.Count == 0) throw new ElfPatchException($"{libstdcxx} defines no symbol versions; is it libstdc++?");
        var bytes = File.ReadAllBytes(shim);
        var needed = ElfVersionNeedPatcher.NeededVersions(bytes, Library);
        var missing = needed.Where(v => !defined.Contains(v)).ToList();
        if (missing.Count == 0)
            return needed.Contains(From)
                ? $"{Path.GetFileName(shim)}: not patched, {libstdcxx} has {From}"
                : $"{Path.GetFileName(shim)}: not patched, it needs nothing {libstdcxx} lacks (already patched or built for it)";
        if (missing.Count != 1 || missing[0] != From)
            throw new ElfPatchException($"{libstdcxx} lacks {string.Join(", ", missing)} needed by {shim}; only a missing {From} can be fixed here (install a newer libstdc++6)");
        if (!defined.Contains(To))
            throw new ElfPatchException($"{libstdcxx} lacks {To} as well; TorchSharp needs at least GCC 12's libstdc++");
        var result = ElfVersionNeedPatcher.Patch(bytes, Library, From, To, AllowedSymbols);
        CapsEmbedded.IO.AtomicFile.Write(shim, bytes);
        return $"{Path.GetFileName(shim)}: patched its need of {From} to {To} (symbol {string.Join(", ", result.Symbols)}, never called), because {libstdcxx} provides up to {To}";
    }

    /// <summary>
    /// The libstdc++ this process has mapped (the .NET runtime links it, so it is the one dlopen will use); loads it
    /// first if needed. Null where there is none (not Linux).
    /// </summary>
    public static string? SystemLibstdcxx()
    {
        if (!OperatingSystem.IsLinux()) return null;
        if (Mapped() is { } path) return path;
        NativeLibrary.TryLoad(Library, out _);
        return Mapped();

        static string? Mapped() => File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(parts => parts.Length >= 6 && Path.GetFileName(parts[5]).StartsWith("libstdc++.so", StringComparison.Ordinal))
            .Select(parts => parts[5]).FirstOrDefault();
    }
}
