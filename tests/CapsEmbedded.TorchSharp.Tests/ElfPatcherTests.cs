using System.Text;
using CapsEmbedded.TorchSharp.ShimFix;

namespace CapsEmbedded.TorchSharp.Tests;

public class ElfPatcherTests
{
    private static readonly HashSet<string> Allowed = new() { CraftedElf.Anchor };

    private static ElfPatchResult Patch(byte[] elf) =>
        ElfVersionNeedPatcher.Patch(elf, ShimFixer.Library, ShimFixer.From, ShimFixer.To, Allowed);

    [Fact]
    public void Elf_hash_matches_known_values()
    {
        // vna_hash values as written by the GNU linker into libLibTorchSharp.so 0.107.0 (read from its .gnu.version_r).
        Assert.Equal(0x08922974u, ElfVersionNeedPatcher.ElfHash("GLIBCXX_3.4"));
        Assert.Equal(0x0297f840u, ElfVersionNeedPatcher.ElfHash("GLIBCXX_3.4.30"));
        Assert.Equal(0x0297f842u, ElfVersionNeedPatcher.ElfHash("GLIBCXX_3.4.32"));
    }

    [Fact]
    public void Renames_the_need_and_its_hash_and_nothing_else()
    {
        byte[] original = CraftedElf.Shim();
        byte[] patched = (byte[])original.Clone();
        var result = Patch(patched);
        Assert.Equal(new[] { CraftedElf.Anchor }, result.Symbols);
        Assert.Equal(new[] { "GLIBCXX_3.4.30", "GLIBCXX_3.4.30" }, ElfVersionNeedPatcher.NeededVersions(patched, "libstdc++.so.6"));
        // Exactly the name's last character and the hash's low byte changed.
        var changed = Enumerable.Range(0, original.Length).Where(k => original[k] != patched[k]).ToArray();
        Assert.Equal(2, changed.Length);
        int name = IndexOf(original, "GLIBCXX_3.4.32\0") + 13;
        Assert.Contains(name, changed);
        Assert.Equal((byte)'0', patched[name]);
        // A second run finds nothing to rename.
        Assert.Throws<ElfPatchException>(() => Patch(patched));
    }

    [Fact]
    public void Refuses_files_that_are_not_64_bit_little_endian_shared_objects()
    {
        Assert.Contains("not an ELF", Refusal(Encoding.ASCII.GetBytes("#!/bin/sh\necho this is a script, not a library\n" + new string(' ', 64))));
        Assert.Contains("not an ELF", Refusal(new byte[10]));
        var elf32 = CraftedElf.Shim(); elf32[4] = 1;
        Assert.Contains("64-bit", Refusal(elf32));
        var bigEndian = CraftedElf.Shim(); bigEndian[5] = 2;
        Assert.Contains("little-endian", Refusal(bigEndian));
        var executable = CraftedElf.Shim(); executable[16] = 2;
        Assert.Contains("not a shared object", Refusal(executable));
    }

    /// <summary>Shims the patcher must leave alone: renaming the need would be unsafe or the file is not what it expects.</summary>
    public static TheoryData<string, byte[], string> UnsafeShims() => new()
    {
        { "truncated", CraftedElf.Shim()[..^100], "outside the file" },
        { "another symbol needs the version", CraftedElf.Shim(extraCarrier: "_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE7_M_dataEv"), "also needs GLIBCXX_3.4.32" },
        { "a relocation uses the symbol", CraftedElf.Shim(relocateAnchor: true), "relocation refers to" },
        { "the symbol is defined in the file", CraftedElf.Shim(anchorDefined: true), "defined in the file" },
        { "the version string is shared", CraftedElf.Shim(shareString: true), "shared with" },
        { "a wrong hash", CraftedElf.Shim(wrongHash: true), "hash" },
    };

    [Theory]
    [MemberData(nameof(UnsafeShims))]
    public void Refuses_an_unsafe_rename_and_leaves_the_file_untouched(string caseName, byte[] elf, string problem)
    {
        _ = caseName;
        Assert.Contains(problem, Refusal(elf));
    }

    [Fact]
    public void Refuses_a_rename_that_changes_the_length()
    {
        var elf = CraftedElf.Shim();
        var e = Assert.Throws<ElfPatchException>(() => ElfVersionNeedPatcher.Patch(elf, ShimFixer.Library, ShimFixer.From, "GLIBCXX_3.4", Allowed));
        Assert.Contains("length", e.Message);
    }

    [Fact]
    public void Fixer_patches_only_where_libstdcxx_lacks_the_version()
    {
        string dir = Directory.CreateTempSubdirectory("shimfix").FullName;
        try
        {
            string shim = Path.Combine(dir, "libLibTorchSharp.so"), oldLib = Path.Combine(dir, "old.so"), newLib = Path.Combine(dir, "new.so");
            byte[] original = CraftedElf.Shim();
            File.WriteAllBytes(oldLib, CraftedElf.Libstdcxx("GLIBCXX_3.4", "GLIBCXX_3.4.29", "GLIBCXX_3.4.30"));
            File.WriteAllBytes(newLib, CraftedElf.Libstdcxx("GLIBCXX_3.4", "GLIBCXX_3.4.30", "GLIBCXX_3.4.31", "GLIBCXX_3.4.32"));

            File.WriteAllBytes(shim, original);
            Assert.Contains("not patched", ShimFixer.Apply(shim, newLib));
            Assert.Equal(original, File.ReadAllBytes(shim));

            Assert.Contains("patched its need of GLIBCXX_3.4.32 to GLIBCXX_3.4.30", ShimFixer.Apply(shim, oldLib));
            Assert.Equal(new[] { "GLIBCXX_3.4.30", "GLIBCXX_3.4.30" }, ElfVersionNeedPatcher.NeededVersions(File.ReadAllBytes(shim), "libstdc++.so.6"));
            // Idempotent: the build runs it after every build.
            Assert.Contains("not patched", ShimFixer.Apply(shim, oldLib));

            // A libstdc++ without 3.4.30 either: refused, file untouched.
            File.WriteAllBytes(shim, original);
            File.WriteAllBytes(oldLib, CraftedElf.Libstdcxx("GLIBCXX_3.4", "GLIBCXX_3.4.29"));
            Assert.Throws<ElfPatchException>(() => ShimFixer.Apply(shim, oldLib));
            Assert.Equal(original, File.ReadAllBytes(shim));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Refusal(byte[] elf)
    {
        byte[] before = (byte[])elf.Clone();
        var e = Assert.Throws<ElfPatchException>(() => Patch(elf));
        Assert.Equal(before, elf);
        return e.Message;
    }

    private static int IndexOf(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.ASCII.GetBytes(needle));
}
