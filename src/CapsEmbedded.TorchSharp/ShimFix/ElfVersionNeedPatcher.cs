using System.Buffers.Binary;
using System.Text;

namespace CapsEmbedded.TorchSharp.ShimFix;

/// <summary>A file this patcher will not touch; the message says what was unexpected.</summary>
public sealed class ElfPatchException(string message) : Exception(message);

/// <summary>What <see cref="ElfVersionNeedPatcher.Patch"/> changed.</summary>
public sealed record ElfPatchResult(string Library, string From, string To, IReadOnlyList<string> Symbols);

/// <summary>
/// Renames one version requirement (an entry of <c>.gnu.version_r</c>) of a 64-bit little-endian ELF shared object: the
/// name in <c>.dynstr</c> (same length, overwritten in place) and its ELF hash. It validates everything it reads and
/// refuses, with a message, any file where the change could mean more than renaming an unused requirement: only
/// undefined symbols from an allow-list may carry the version, and no relocation may refer to them (so the loader never
/// looks them up, and only the version check at load time is affected).
/// </summary>
public static class ElfVersionNeedPatcher
{
    private const uint ShtRela = 4, ShtDynamic = 6, ShtRel = 9, ShtDynsym = 11;
    private const uint ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;
    private const long DtNeeded = 1, DtSoname = 14, DtRpath = 15, DtRunpath = 29;

    /// <summary>The ELF (SysV) hash that <c>vna_hash</c> holds.</summary>
    public static uint ElfHash(string name)
    {
        uint h = 0;
        foreach (byte b in Encoding.ASCII.GetBytes(name))
        {
            h = (h << 4) + b;
            uint g = h & 0xf0000000;
            if (g != 0) h ^= g >> 24;
            h &= ~g;
        }
        return h;
    }

    /// <summary>Version names a library needs from <paramref name="library"/> (its <c>.gnu.version_r</c> entries).</summary>
    public static IReadOnlyList<string> NeededVersions(byte[] elf, string library)
    {
        var f = new ElfFile(elf);
        return f.VersionNeeds().Where(n => n.File == library).Select(n => n.Name).ToArray();
    }

    /// <summary>Version names a library defines (its <c>.gnu.version_d</c>), e.g. GLIBCXX_3.4.30 for libstdc++.</summary>
    public static IReadOnlyList<string> DefinedVersions(byte[] elf) => new ElfFile(elf).VersionDefinitions();

    /// <summary>
    /// Renames the requirement <paramref name="from"/> of <paramref name="library"/> to <paramref name="to"/> in
    /// <paramref name="elf"/> (modified in place). Throws <see cref="ElfPatchException"/>, leaving the bytes unchanged,
    /// unless every check passes.
    /// </summary>
    public static ElfPatchResult Patch(byte[] elf, string library, string from, string to, IReadOnlySet<string> allowedSymbols)
    {
        if (from.Length != to.Length) throw new ElfPatchException($"'{from}' and '{to}' differ in length; only a same-length rename is supported");
        if (from.Any(c => c > 127) || to.Any(c => c > 127)) throw new ElfPatchException("version names must be ASCII");
        var f = new ElfFile(elf);
        var matches = f.VersionNeeds().Where(n => n.File == library && n.Name == from).ToList();
        if (matches.Count == 0) throw new ElfPatchException($"the file needs no version {from} of {library}");
        if (matches.Count > 1) throw new ElfPatchException($"the file lists {from} of {library} {matches.Count} times");
        var need = matches[0];
        if (need.Hash != ElfHash(from))
            throw new ElfPatchException($"the hash of {from} in .gnu.version_r is 0x{need.Hash:x8}, expected 0x{ElfHash(from):x8}");

        // Who carries the version: only allow-listed undefined symbols.
        var carriers = new List<string>();
        var carrierIndices = new HashSet<int>();
        var versym = f.Section(ShtGnuVersym) ?? throw new ElfPatchException("no .gnu.version section");
        var dynsym = f.Section(ShtDynsym) ?? throw new ElfPatchException("no .dynsym section");
        int symbols = f.SymbolCount(dynsym);
        if (versym.Size != (ulong)symbols * 2) throw new ElfPatchException($".gnu.version has {versym.Size} bytes for {symbols} symbols");
        for (int k = 0; k < symbols; k++)
        {
            ushort version = (ushort)(f.U16(versym.Offset + (ulong)k * 2) & 0x7fff);
            if (version != need.Other) continue;
            var (name, shndx) = f.Symbol(dynsym, k);
            if (!allowedSymbols.Contains(name)) throw new ElfPatchException($"symbol {name} also needs {from}; only {string.Join(", ", allowedSymbols)} may");
            if (shndx != 0) throw new ElfPatchException($"symbol {name} is defined in the file, not imported");
            carriers.Add(name);
            carrierIndices.Add(k);
        }
        if (carriers.Count == 0) throw new ElfPatchException($"no symbol uses {from}; nothing would explain the requirement");

        // No relocation may refer to those symbols: then nothing ever binds them.
        foreach (var section in f.Sections.Where(s => (s.Type == ShtRela || s.Type == ShtRel) && s.Link == dynsym.Index))
        {
            ulong entry = section.Type == ShtRela ? 24UL : 16UL;
            if (section.EntrySize != entry) throw new ElfPatchException($"relocation section {section.Index} has entries of {section.EntrySize} bytes");
            for (ulong at = 0; at + entry <= section.Size; at += entry)
            {
                ulong info = f.U64(section.Offset + at + 8);
                int symbol = (int)(info >> 32);
                if (carrierIndices.Contains(symbol))
                    throw new ElfPatchException($"a relocation refers to {f.Symbol(dynsym, symbol).Name}: the symbol is used, renaming its version is unsafe");
            }
        }

        // The name's bytes must belong to this requirement alone (no other string reference points into them).
        uint start = need.NameOffset, end = need.NameOffset + (uint)from.Length;
        foreach (var (what, offset) in f.StringReferences(dynsym).Where(r => r.What != need.Where))
            if (offset >= start && offset <= end)
                throw new ElfPatchException($"the string {from} is shared with {what}; renaming it would change that too");

        ulong nameAt = f.DynstrOffset + start;
        Encoding.ASCII.GetBytes(to).CopyTo(elf.AsSpan((int)nameAt, to.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan((int)need.HashAt, 4), ElfHash(to));
        return new ElfPatchResult(library, from, to, carriers);
    }

    private readonly record struct Section(int Index, uint Type, uint Link, uint Info, ulong Offset, ulong Size, ulong EntrySize);

    private readonly record struct Need(string File, string Name, uint Hash, ulong HashAt, ushort Other, uint NameOffset, string Where);

    /// <summary>Bounds-checked reads of a 64-bit little-endian ELF.</summary>
    private sealed class ElfFile
    {
        private readonly byte[] _b;

        public ElfFile(byte[] bytes)
        {
            _b = bytes;
            if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
                throw new ElfPatchException("not an ELF file");
            if (bytes[4] != 2) throw new ElfPatchException("not a 64-bit ELF file");
            if (bytes[5] != 1) throw new ElfPatchException("not a little-endian ELF file");
            if (bytes[6] != 1) throw new ElfPatchException($"unknown ELF version {bytes[6]}");
            if (U16(16) != 3) throw new ElfPatchException($"not a shared object (ELF type {U16(16)})");
            ulong shoff = U64(40);
            ushort shentsize = U16(58), shnum = U16(60);
            if (shentsize != 64) throw new ElfPatchException($"section headers of {shentsize} bytes, expected 64");
            if (shnum == 0) throw new ElfPatchException("no section headers");
            Check(shoff, (ulong)shnum * 64, "section header table");
            var sections = new Section[shnum];
            for (int k = 0; k < shnum; k++)
            {
                ulong h = shoff + (ulong)k * 64;
                var s = new Section(k, U32(h + 4), U32(h + 40), U32(h + 44), U64(h + 24), U64(h + 32), U64(h + 56));
                if (s.Type != 8 /* NOBITS */ && s.Type != 0) Check(s.Offset, s.Size, $"section {k}");
                sections[k] = s;
            }
            Sections = sections;
            var dynsym = Section(ShtDynsym) ?? throw new ElfPatchException("no .dynsym section");
            if (dynsym.Link >= sections.Length) throw new ElfPatchException(".dynsym links to a missing string table");
            var dynstr = sections[dynsym.Link];
            if (dynstr.Type != 3) throw new ElfPatchException(".dynsym's string table is not a string table");
            DynstrOffset = dynstr.Offset;
            DynstrSize = dynstr.Size;
            DynstrIndex = dynstr.Index;
        }

        public IReadOnlyList<Section> Sections { get; }
        public ulong DynstrOffset { get; }
        public ulong DynstrSize { get; }
        public int DynstrIndex { get; }

        private void Check(ulong offset, ulong length, string what)
        {
            if (offset > (ulong)_b.Length || length > (ulong)_b.Length - offset)
                throw new ElfPatchException($"{what} lies outside the file (offset {offset}, {length} bytes, file {_b.Length} bytes)");
        }

        public ushort U16(ulong at) { Check(at, 2, "a field"); return BinaryPrimitives.ReadUInt16LittleEndian(_b.AsSpan((int)at)); }
        public uint U32(ulong at) { Check(at, 4, "a field"); return BinaryPrimitives.ReadUInt32LittleEndian(_b.AsSpan((int)at)); }
        public ulong U64(ulong at) { Check(at, 8, "a field"); return BinaryPrimitives.ReadUInt64LittleEndian(_b.AsSpan((int)at)); }

        public Section? Section(uint type)
        {
            var all = Sections.Where(s => s.Type == type).ToList();
            if (all.Count > 1) throw new ElfPatchException($"{all.Count} sections of type 0x{type:x}");
            return all.Count == 1 ? all[0] : null;
        }

        public string Str(uint offset)
        {
            if (offset >= DynstrSize) throw new ElfPatchException($"string offset {offset} is outside .dynstr ({DynstrSize} bytes)");
            var span = _b.AsSpan((int)(DynstrOffset + offset), (int)(DynstrSize - offset));
            int end = span.IndexOf((byte)0);
            if (end < 0) throw new ElfPatchException($"the string at .dynstr offset {offset} is not terminated");
            return Encoding.ASCII.GetString(span[..end]);
        }

        public int SymbolCount(Section dynsym)
        {
            if (dynsym.EntrySize != 24 || dynsym.Size % 24 != 0) throw new ElfPatchException($".dynsym entries are {dynsym.EntrySize} bytes, expected 24");
            return (int)(dynsym.Size / 24);
        }

        public (string Name, ushort Shndx) Symbol(Section dynsym, int index)
        {
            if (index < 0 || index >= SymbolCount(dynsym)) throw new ElfPatchException($"symbol {index} is outside .dynsym");
            ulong at = dynsym.Offset + (ulong)index * 24;
            return (Str(U32(at)), U16(at + 6));
        }

        /// <summary>The version section of <paramref name="type"/>, or null; its names must come from .dynstr, as .dynsym's do.</summary>
        private Section? VersionSection(uint type, string name)
        {
            if (Section(type) is not { } s) return null;
            if (s.Link != DynstrIndex) throw new ElfPatchException($"{name} uses string table {s.Link}, .dynsym uses {DynstrIndex}");
            return s;
        }

        public List<Need> VersionNeeds()
        {
            var result = new List<Need>();
            if (VersionSection(ShtGnuVerneed, ".gnu.version_r") is not { } s) return result;
            foreach (ulong at in VerneedEntries(s))
            {
                string file = Str(U32(at + 4));
                foreach (ulong aux in VernauxEntries(s, at))
                {
                    uint nameOffset = U32(aux + 8);
                    result.Add(new Need(file, Str(nameOffset), U32(aux), aux, U16(aux + 6), nameOffset, $"vernaux@{aux}"));
                }
            }
            return result;
        }

        public List<string> VersionDefinitions()
        {
            var result = new List<string>();
            if (VersionSection(ShtGnuVerdef, ".gnu.version_d") is not { } s) return result;
            foreach (ulong at in VerdefEntries(s))
                if (U16(at + 6) > 0) result.Add(Str(U32(at + U32(at + 12)))); // the first verdaux names the version
            return result;
        }

        /// <summary>The offsets of the Elf64_Verneed entries of <paramref name="s"/> (.gnu.version_r), each checked to lie inside it.</summary>
        private IEnumerable<ulong> VerneedEntries(Section s)
        {
            ulong at = s.Offset;
            for (uint n = 0; n < s.Info; n++)
            {
                Check(at, 16, ".gnu.version_r entry");
                if (at + 16 > s.Offset + s.Size) throw new ElfPatchException(".gnu.version_r entry runs past its section");
                if (U16(at) != 1) throw new ElfPatchException($"unknown .gnu.version_r version {U16(at)}");
                yield return at;
                uint next = U32(at + 12);
                if (next == 0 && n != s.Info - 1) throw new ElfPatchException(".gnu.version_r list ends early");
                at += next;
            }
        }

        /// <summary>The offsets of the Elf64_Vernaux entries of the Verneed entry at <paramref name="need"/>.</summary>
        private IEnumerable<ulong> VernauxEntries(Section s, ulong need)
        {
            ushort count = U16(need + 2);
            ulong aux = need + U32(need + 8);
            for (int k = 0; k < count; k++)
            {
                if (aux + 16 > s.Offset + s.Size) throw new ElfPatchException(".gnu.version_r auxiliary entry runs past its section");
                yield return aux;
                uint next = U32(aux + 12);
                if (next == 0 && k != count - 1) throw new ElfPatchException(".gnu.version_r auxiliary list ends early");
                aux += next;
            }
        }

        /// <summary>The offsets of the Elf64_Verdef entries of <paramref name="s"/> (.gnu.version_d), each checked to lie inside it.</summary>
        private IEnumerable<ulong> VerdefEntries(Section s)
        {
            ulong at = s.Offset;
            for (uint n = 0; n < s.Info; n++)
            {
                if (at + 20 > s.Offset + s.Size) throw new ElfPatchException(".gnu.version_d entry runs past its section");
                yield return at;
                uint next = U32(at + 16);
                if (next == 0) break;
                at += next;
            }
        }

        /// <summary>Every .dynstr offset the file refers to, and from where.</summary>
        public IEnumerable<(string What, uint Offset)> StringReferences(Section dynsym)
        {
            int symbols = SymbolCount(dynsym);
            for (int k = 0; k < symbols; k++) yield return ($"symbol {k}", U32(dynsym.Offset + (ulong)k * 24));
            if (Section(ShtGnuVerneed) is { } vn)
                foreach (ulong at in VerneedEntries(vn))
                {
                    yield return ($"verneed@{at}", U32(at + 4));
                    foreach (ulong aux in VernauxEntries(vn, at)) yield return ($"vernaux@{aux}", U32(aux + 8));
                }
            if (Section(ShtGnuVerdef) is { } vd)
                foreach (ulong at in VerdefEntries(vd))
                {
                    ushort count = U16(at + 6);
                    ulong aux = at + U32(at + 12);
                    for (int k = 0; k < count; k++) { yield return ($"verdaux@{aux}", U32(aux)); aux += U32(aux + 4); }
                }
            if (Section(ShtDynamic) is { } dyn)
                for (ulong at = dyn.Offset; at + 16 <= dyn.Offset + dyn.Size; at += 16)
                {
                    long tag = (long)U64(at);
                    if (tag == 0) break;
                    if (tag is DtNeeded or DtSoname or DtRpath or DtRunpath) yield return ($"dynamic tag {tag}", (uint)U64(at + 8));
                }
        }
    }
}
