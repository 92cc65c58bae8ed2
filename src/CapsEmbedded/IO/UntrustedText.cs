using System;
using System.Text;

namespace CapsEmbedded.IO;

/// <summary>
/// Makes a string read from a file safe to show in a one-line message: control characters (ANSI escapes, newlines)
/// become visible escapes such as <c>\x1b</c> and <c>\n</c>, and anything past a limit (80 characters by default) is cut
/// with a count, so a 5 MB tensor name cannot become a 5 MB line nor recolour the terminal.
/// </summary>
public static class UntrustedText
{
    public const int DefaultMax = 80;

    /// <summary>Longest line <see cref="Line"/> gives.</summary>
    public const int LineMax = 500;

    /// <summary>
    /// A whole message or output line that holds untrusted parts (a path, a metadata key) as one safe line: indented
    /// continuation lines joined with "; ", control characters escaped, at most <see cref="LineMax"/> characters. The
    /// tools' error lines and their success lines ("wrote PATH: …") go through here alike.
    /// </summary>
    public static string Line(string message) =>
        Quote(message.Replace("\r\n", "\n").Replace("\n  ", "; ").TrimEnd('\n'), LineMax);

    public static string Quote(string? text, int max = DefaultMax)
    {
        if (text is null) return "";
        bool clean = text.Length <= max;
        for (int i = 0; i < text.Length && i < max && clean; i++)
            clean = !NeedsEscape(text[i]);
        if (clean) return text;
        var result = new StringBuilder(Math.Min(text.Length, max) + 24);
        int shown = Math.Min(text.Length, max);
        for (int i = 0; i < shown; i++)
        {
            char c = text[i];
            if (!NeedsEscape(c)) result.Append(c);
            else if (c == '\n') result.Append("\\n");
            else if (c == '\r') result.Append("\\r");
            else if (c == '\t') result.Append("\\t");
            else if (c <= 0xFF) result.Append("\\x").Append(((int)c).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            else result.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
        }
        if (text.Length > max) result.Append("…(").Append(text.Length - max).Append(" more characters)");
        return result.ToString();
    }

    // C0/C1 controls, DEL, line/paragraph separators, format characters (the bidi overrides, isolates and marks, zero-width
    // ones) and lone surrogates: none belongs in a message.
    private static bool NeedsEscape(char c) =>
        c < 0x20 || c is >= (char)0x7F and <= (char)0x9F || c is '\u2028' or '\u2029' || char.IsSurrogate(c)
        || (c > 0x7F && System.Globalization.CharUnicodeInfo.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format);
}
