namespace CapsEmbedded.Cli.Figures;

/// <summary>
/// A 3×5 pixel font for figure labels: digits, A–Z (lower case drawn as upper case) and a few signs; anything else is
/// drawn as '?'. Built in so the figures need no font files or text renderer.
/// </summary>
public static class BitmapFont
{
    public const int GlyphWidth = 3, GlyphHeight = 5, Advance = 4;

    // Five rows of three bits per glyph, top row first, '1' = ink.
    private static readonly Dictionary<char, string> s_glyphs = new()
    {
        ['0'] = "111101101101111", ['1'] = "010110010010111", ['2'] = "111001111100111", ['3'] = "111001111001111",
        ['4'] = "101101111001001", ['5'] = "111100111001111", ['6'] = "111100111101111", ['7'] = "111001001010010",
        ['8'] = "111101111101111", ['9'] = "111101111001111",
        ['A'] = "010101111101101", ['B'] = "110101110101110", ['C'] = "011100100100011", ['D'] = "110101101101110",
        ['E'] = "111100110100111", ['F'] = "111100110100100", ['G'] = "011100101101011", ['H'] = "101101111101101",
        ['I'] = "111010010010111", ['J'] = "001001001101010", ['K'] = "101101110101101", ['L'] = "100100100100111",
        ['M'] = "101111111101101", ['N'] = "110101101101101", ['O'] = "010101101101010", ['P'] = "110101110100100",
        ['Q'] = "010101101110011", ['R'] = "110101110101101", ['S'] = "011100010001110", ['T'] = "111010010010010",
        ['U'] = "101101101101111", ['V'] = "101101101101010", ['W'] = "101101111111101", ['X'] = "101101010101101",
        ['Y'] = "101101010010010", ['Z'] = "111001010100111",
        [' '] = "000000000000000", ['.'] = "000000000000010", [','] = "000000000010100", ['-'] = "000000111000000",
        ['+'] = "000010111010000", [':'] = "000010000010000", ['%'] = "101001010100101", ['/'] = "001001010100100",
        ['\\'] = "100100010001001", ['='] = "000111000111000", ['('] = "010100100100010", [')'] = "010001001001010",
        ['?'] = "111001010000010", ['#'] = "101111101111101", ['|'] = "010010010010010",
    };

    /// <summary>Width in pixels of <paramref name="text"/> at <paramref name="scale"/> (no trailing gap).</summary>
    public static int Measure(string text, int scale) => text.Length == 0 ? 0 : (text.Length * Advance - 1) * scale;

    public static void Draw(Raster raster, string text, int x, int y, Rgb color, int scale)
    {
        foreach (char c in text)
        {
            if (!s_glyphs.TryGetValue(char.ToUpperInvariant(c), out string? glyph)) glyph = s_glyphs['?'];
            for (int row = 0; row < GlyphHeight; row++)
                for (int col = 0; col < GlyphWidth; col++)
                    if (glyph[row * GlyphWidth + col] == '1') raster.Fill(x + col * scale, y + row * scale, scale, scale, color);
            x += Advance * scale;
        }
    }
}
