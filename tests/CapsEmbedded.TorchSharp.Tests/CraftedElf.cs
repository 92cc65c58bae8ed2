using System.Buffers.Binary;
using System.Text;
using CapsEmbedded.TorchSharp.ShimFix;

namespace CapsEmbedded.TorchSharp.Tests;

/// <summary>
/// Minimal 64-bit little-endian ELF shared objects built in memory: a .dynstr, a .dynsym, .gnu.version, .gnu.version_r,
/// a .rela.plt and optionally a .gnu.version_d, with section headers only (all the patcher reads).
/// </summary>
internal static class CraftedElf
{
    public const string Anchor = "_ZSt21ios_base_library_initv";
    public const string Wait = "_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE";

    public sealed record Symbol(string Name, ushort Version, ushort Shndx = 0, uint NameOffsetOverride = 0);

    /// <summary>A shim like libLibTorchSharp.so: libstdc++.so.6 needs GLIBCXX_3.4.30 (index 2) and GLIBCXX_3.4.32 (index 3).</summary>
    public static byte[] Shim(string? extraCarrier = null, bool relocateAnchor = false, bool shareString = false, bool wrongHash = false,
        bool anchorDefined = false)
    {
        var symbols = new List<Symbol> { new(Anchor, 3, anchorDefined ? (ushort)12 : (ushort)0), new(Wait, 2) };
        if (extraCarrier is not null) symbols.Add(new(extraCarrier, 3));
        var needs = new List<(string Name, ushort Other, bool WrongHash)> { ("GLIBCXX_3.4.30", 2, false), ("GLIBCXX_3.4.32", 3, wrongHash) };
        return Build(symbols, needs, defines: null, relocatedSymbol: relocateAnchor ? 1 : 2, shareString: shareString);
    }

    /// <summary>A libstdc++ that defines these versions (.gnu.version_d).</summary>
    public static byte[] Libstdcxx(params string[] versions) =>
        Build(new List<Symbol>(), new List<(string, ushort, bool)>(), versions, relocatedSymbol: 0, shareString: false);

    private static byte[] Build(List<Symbol> symbols, List<(string Name, ushort Other, bool WrongHash)> needs, string[]? defines,
        int relocatedSymbol, bool shareString)
    {
        // .dynstr
        var strings = new MemoryStream();
        strings.WriteByte(0);
        var offsets = new Dictionary<string, uint>();
        uint Add(string s)
        {
            if (offsets.TryGetValue(s, out var o)) return o;
            o = (uint)strings.Position;
            strings.Write(Encoding.ASCII.GetBytes(s));
            strings.WriteByte(0);
            offsets[s] = o;
            return o;
        }
        uint library = Add("libstdc++.so.6");
        foreach (var n in needs) Add(n.Name);
        foreach (var s in symbols) Add(s.Name);
        if (defines is not null) foreach (var d in defines) Add(d);
        byte[] dynstr = strings.ToArray();

        // .dynsym: null symbol, then ours; a "shared" symbol's name points into the tail of GLIBCXX_3.4.32 ("3.4.32").
        var allSymbols = new List<Symbol>(symbols);
        if (shareString) allSymbols.Add(new Symbol("shared", 0, 0, offsets["GLIBCXX_3.4.32"] + 8));
        byte[] dynsym = new byte[(allSymbols.Count + 1) * 24];
        byte[] versym = new byte[(allSymbols.Count + 1) * 2];
        for (int k = 0; k < allSymbols.Count; k++)
        {
            var s = allSymbols[k];
            int at = (k + 1) * 24;
            BinaryPrimitives.WriteUInt32LittleEndian(dynsym.AsSpan(at), s.NameOffsetOverride != 0 ? s.NameOffsetOverride : offsets[s.Name]);
            dynsym[at + 4] = 0x12; // STB_GLOBAL, STT_FUNC
            BinaryPrimitives.WriteUInt16LittleEndian(dynsym.AsSpan(at + 6), s.Shndx);
            BinaryPrimitives.WriteUInt16LittleEndian(versym.AsSpan((k + 1) * 2), s.Version);
        }

        // .gnu.version_r: one file, its auxiliary entries chained.
        byte[] verneed = needs.Count == 0 ? Array.Empty<byte>() : new byte[16 + 16 * needs.Count];
        if (needs.Count > 0)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(verneed.AsSpan(0), 1);
            BinaryPrimitives.WriteUInt16LittleEndian(verneed.AsSpan(2), (ushort)needs.Count);
            BinaryPrimitives.WriteUInt32LittleEndian(verneed.AsSpan(4), library);
            BinaryPrimitives.WriteUInt32LittleEndian(verneed.AsSpan(8), 16);
            for (int k = 0; k < needs.Count; k++)
            {
                int at = 16 + 16 * k;
                uint hash = ElfVersionNeedPatcher.ElfHash(needs[k].Name) ^ (needs[k].WrongHash ? 1u : 0u);
                BinaryPrimitives.WriteUInt32LittleEndian(verneed.AsSpan(at), hash);
                BinaryPrimitives.WriteUInt16LittleEndian(verneed.AsSpan(at + 6), needs[k].Other);
                BinaryPrimitives.WriteUInt32LittleEndian(verneed.AsSpan(at + 8), offsets[needs[k].Name]);
                BinaryPrimitives.WriteUInt32LittleEndian(verneed.AsSpan(at + 12), k == needs.Count - 1 ? 0u : 16u);
            }
        }

        // .rela.plt: one JUMP_SLOT relocation.
        byte[] rela = new byte[relocatedSymbol > 0 ? 24 : 0];
        if (relocatedSymbol > 0)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(rela.AsSpan(0), 0x1000);
            BinaryPrimitives.WriteUInt64LittleEndian(rela.AsSpan(8), ((ulong)relocatedSymbol << 32) | 7);
        }

        // .gnu.version_d: one entry per version, each with one auxiliary name.
        byte[] verdef = defines is null ? Array.Empty<byte>() : new byte[28 * defines.Length];
        if (defines is not null)
            for (int k = 0; k < defines.Length; k++)
            {
                int at = 28 * k;
                BinaryPrimitives.WriteUInt16LittleEndian(verdef.AsSpan(at), 1);
                BinaryPrimitives.WriteUInt16LittleEndian(verdef.AsSpan(at + 4), (ushort)(k + 1));
                BinaryPrimitives.WriteUInt16LittleEndian(verdef.AsSpan(at + 6), 1);
                BinaryPrimitives.WriteUInt32LittleEndian(verdef.AsSpan(at + 8), ElfVersionNeedPatcher.ElfHash(defines[k]));
                BinaryPrimitives.WriteUInt32LittleEndian(verdef.AsSpan(at + 12), 20);
                BinaryPrimitives.WriteUInt32LittleEndian(verdef.AsSpan(at + 16), k == defines.Length - 1 ? 0u : 28u);
                BinaryPrimitives.WriteUInt32LittleEndian(verdef.AsSpan(at + 20), offsets[defines[k]]);
            }

        // Layout: header, section contents (8-aligned), section headers.
        var sections = new List<(uint Type, uint Link, uint Info, ulong EntSize, byte[] Data)>
        {
            (0, 0, 0, 0, Array.Empty<byte>()),
            (3, 0, 0, 0, dynstr),
            (11, 1, 1, 24, dynsym),
            (0x6fffffff, 2, 0, 2, versym),
        };
        if (verneed.Length > 0) sections.Add((0x6ffffffe, 1, 1, 0, verneed));
        if (rela.Length > 0) sections.Add((4, 2, 0, 24, rela));
        if (verdef.Length > 0) sections.Add((0x6ffffffd, 1, (uint)defines!.Length, 0, verdef));
        var file = new MemoryStream();
        file.Write(new byte[64]);
        var placed = new List<ulong>();
        foreach (var s in sections)
        {
            while (file.Position % 8 != 0) file.WriteByte(0);
            placed.Add((ulong)file.Position);
            file.Write(s.Data);
        }
        while (file.Position % 8 != 0) file.WriteByte(0);
        ulong shoff = (ulong)file.Position;
        for (int k = 0; k < sections.Count; k++)
        {
            var h = new byte[64];
            var s = sections[k];
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(4), s.Type);
            BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(24), k == 0 ? 0 : placed[k]);
            BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(32), (ulong)s.Data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(40), s.Link);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(44), s.Info);
            BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(56), s.EntSize);
            file.Write(h);
        }
        byte[] bytes = file.ToArray();
        "\u007fELF"u8.CopyTo(bytes);
        bytes[4] = 2; bytes[5] = 1; bytes[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(16), 3);   // ET_DYN
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(18), 62);  // x86-64
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(40), shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(52), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(58), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(60), (ushort)sections.Count);
        return bytes;
    }
}
