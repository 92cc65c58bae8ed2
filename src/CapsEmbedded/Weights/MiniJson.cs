// This file is also compiled into the source generator (netstandard2.0): keep it free of
// APIs newer than netstandard2.0 (no Span, no System.Text.Json).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace CapsEmbedded.Weights;

/// <summary>The kind of a <see cref="JsonValue"/>.</summary>
internal enum JsonKind { Object, Array, String, Number, True, False, Null }

/// <summary>
/// One parsed JSON value. Numbers keep their literal text so that integers are read exactly (no detour
/// through double); objects keep their properties in document order.
/// </summary>
internal sealed class JsonValue
{
    private static readonly JsonValue[] NoItems = new JsonValue[0];
    private static readonly KeyValuePair<string, JsonValue>[] NoProperties = new KeyValuePair<string, JsonValue>[0];
    private readonly Dictionary<string, JsonValue>? _byKey;

    private JsonValue(JsonKind kind, int position, string? text, IReadOnlyList<JsonValue> items,
        IReadOnlyList<KeyValuePair<string, JsonValue>> properties, Dictionary<string, JsonValue>? byKey)
    {
        Kind = kind;
        Position = position;
        Text = text;
        Items = items;
        Properties = properties;
        _byKey = byKey;
    }

    internal static JsonValue Scalar(JsonKind kind, int position, string? text) =>
        new JsonValue(kind, position, text, NoItems, NoProperties, null);

    internal static JsonValue Array(int position, List<JsonValue> items) =>
        new JsonValue(JsonKind.Array, position, null, items, NoProperties, null);

    // Small objects (a tensor entry has 3 members) are searched linearly; larger ones get a dictionary.
    internal static JsonValue Object(int position, List<KeyValuePair<string, JsonValue>> properties,
        Dictionary<string, JsonValue>? byKey) =>
        new JsonValue(JsonKind.Object, position, null, NoItems, properties, byKey);

    public JsonKind Kind { get; }

    /// <summary>Character offset of the value's first character in the parsed text.</summary>
    public int Position { get; }

    /// <summary>The decoded string of a string, the literal of a number, else null.</summary>
    public string? Text { get; }

    /// <summary>The elements of an array (empty for other kinds).</summary>
    public IReadOnlyList<JsonValue> Items { get; }

    /// <summary>The members of an object in document order (empty for other kinds).</summary>
    public IReadOnlyList<KeyValuePair<string, JsonValue>> Properties { get; }

    /// <summary>The member with this key of an object, or null (also for non-objects).</summary>
    public JsonValue? Get(string key)
    {
        if (_byKey is not null) return _byKey.TryGetValue(key, out var value) ? value : null;
        foreach (var property in Properties)
            if (property.Key == key) return property.Value;
        return null;
    }

    /// <summary>"object", "array", "string", "number", "true", "false" or "null", for error messages.</summary>
    public string KindName => KindNameOf(Kind);

    public static string KindNameOf(JsonKind kind) => kind switch
    {
        JsonKind.Object => "object",
        JsonKind.Array => "array",
        JsonKind.String => "string",
        JsonKind.Number => "number",
        JsonKind.True => "true",
        JsonKind.False => "false",
        _ => "null",
    };

    /// <summary>
    /// True when this is a number written as a plain non-negative integer (no sign, fraction or exponent, as
    /// serde_json requires for <c>usize</c>) that fits in a <see cref="long"/>.
    /// </summary>
    public bool TryGetNonNegativeInt64(out long value)
    {
        value = 0;
        if (Kind != JsonKind.Number || Text is null) return false;
        long result = 0;
        foreach (char c in Text)
        {
            if (c < '0' || c > '9') return false;
            int digit = c - '0';
            if (result > (long.MaxValue - digit) / 10) return false;
            result = result * 10 + digit;
        }
        value = result;
        return true;
    }
}

/// <summary>Malformed JSON: the message says what was expected and where.</summary>
internal sealed class MiniJsonException : FormatException
{
    public MiniJsonException(int position, string problem)
        : base("invalid JSON at character " + position.ToString(CultureInfo.InvariantCulture) + ": " + problem)
    {
        Position = position;
        Problem = problem;
    }

    /// <summary>Character offset where parsing failed.</summary>
    public int Position { get; }

    /// <summary>What was wrong, without the position.</summary>
    public string Problem { get; }
}

/// <summary>
/// A strict, small JSON (RFC 8259) parser for safetensors headers: objects, arrays, strings (all escapes,
/// surrogate pairs checked), numbers, true/false/null. It rejects what a lenient parser would guess at:
/// trailing garbage, raw control characters in strings, lone surrogates, duplicate keys, leading zeros,
/// and nesting deeper than <see cref="MaxDepth"/>.
/// </summary>
internal static class MiniJson
{
    /// <summary>Deepest nesting of arrays and objects accepted (a safetensors header needs 3).</summary>
    public const int MaxDepth = 64;

    /// <summary>
    /// Most values accepted in one document, about ten per tensor for 100 000 tensors. Each parsed value costs
    /// ~100 bytes, so this bounds memory where a 100 MB header of "0,0,0,..." would otherwise take gigabytes.
    /// </summary>
    public const int MaxValues = 1_000_000;

    /// <summary>Parses one JSON value that may be surrounded by whitespace and nothing else.</summary>
    /// <exception cref="MiniJsonException">The text is not exactly one valid JSON value.</exception>
    public static JsonValue Parse(string text) => Parse(text, MaxValues);

    /// <summary>Parses one JSON value of at most <paramref name="maxValues"/> values (objects, arrays and scalars).</summary>
    /// <exception cref="MiniJsonException">The text is not exactly one valid JSON value, or has too many values.</exception>
    public static JsonValue Parse(string text, int maxValues)
    {
        if (text is null) throw new ArgumentNullException(nameof(text));
        var parser = new Parser(text, maxValues);
        parser.SkipWhitespace();
        var value = parser.ParseValue(0);
        parser.SkipWhitespace();
        if (parser.Position != text.Length)
            throw new MiniJsonException(parser.Position, "unexpected " + Describe(text, parser.Position) + " after the JSON value");
        return value;
    }

    // JSON's two-character escapes: "\\" + EscapeLetters[k] stands for EscapedChars[k] (RFC 8259 §7), read and written.
    private const string EscapeLetters = "\"\\/bfnrt";
    private const string EscapedChars = "\"\\/\b\f\n\r\t";

    /// <summary>Appends <paramref name="value"/> as a JSON string literal, escaped as serde_json does.</summary>
    public static void WriteString(StringBuilder builder, string value)
    {
        builder.Append('"');
        foreach (char c in value)
        {
            int shortEscape = c == '/' ? -1 : EscapedChars.IndexOf(c); // '/' is read escaped, never written so
            if (shortEscape >= 0) builder.Append('\\').Append(EscapeLetters[shortEscape]);
            else if (c < 0x20) builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else builder.Append(c);
        }
        builder.Append('"');
    }

    private static string Describe(string text, int position)
    {
        if (position >= text.Length) return "end of text";
        char c = text[position];
        return c < 0x20 || c > 0x7e
            ? "character U+" + ((int)c).ToString("X4", CultureInfo.InvariantCulture)
            : "'" + c + "'";
    }

    private sealed class Parser
    {
        private readonly string _text;

        private readonly int _maxValues;
        private int _values;

        public Parser(string text, int maxValues)
        {
            _text = text;
            _maxValues = maxValues;
        }

        public int Position { get; private set; }

        public void SkipWhitespace()
        {
            while (Position < _text.Length)
            {
                char c = _text[Position];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
                Position++;
            }
        }

        private MiniJsonException Error(string problem) => new MiniJsonException(Position, problem);

        private MiniJsonException Unexpected(string expected) =>
            Error("expected " + expected + ", found " + Describe(_text, Position));

        public JsonValue ParseValue(int depth)
        {
            if (Position >= _text.Length) throw Unexpected("a value");
            if (++_values > _maxValues)
                throw Error("more than " + _maxValues.ToString(CultureInfo.InvariantCulture) + " values in one document");
            switch (_text[Position])
            {
                case '{': return ParseObject(depth + 1);
                case '[': return ParseArray(depth + 1);
                case '"':
                {
                    int start = Position;
                    return JsonValue.Scalar(JsonKind.String, start, ParseString());
                }
                case 't': return ParseLiteral("true", JsonKind.True);
                case 'f': return ParseLiteral("false", JsonKind.False);
                case 'n': return ParseLiteral("null", JsonKind.Null);
                default:
                    char c = _text[Position];
                    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber();
                    throw Unexpected("a value");
            }
        }

        private JsonValue ParseLiteral(string literal, JsonKind kind)
        {
            int start = Position;
            if (string.CompareOrdinal(_text, Position, literal, 0, literal.Length) != 0) throw Unexpected("a value");
            Position += literal.Length;
            return JsonValue.Scalar(kind, start, null);
        }

        private JsonValue ParseObject(int depth)
        {
            if (depth > MaxDepth) throw Error("nesting deeper than " + MaxDepth.ToString(CultureInfo.InvariantCulture) + " levels");
            int start = Position++;
            var properties = new List<KeyValuePair<string, JsonValue>>();
            Dictionary<string, JsonValue>? byKey = null;
            SkipWhitespace();
            if (Position < _text.Length && _text[Position] == '}')
            {
                Position++;
                return JsonValue.Object(start, properties, null);
            }
            while (true)
            {
                SkipWhitespace();
                if (Position >= _text.Length || _text[Position] != '"') throw Unexpected("a string key");
                int keyPosition = Position;
                string key = ParseString();
                if (byKey is not null ? byKey.ContainsKey(key) : ContainsKey(properties, key))
                {
                    Position = keyPosition;
                    throw Error("duplicate key \"" + key + "\"");
                }
                SkipWhitespace();
                if (Position >= _text.Length || _text[Position] != ':') throw Unexpected("':' after a key");
                Position++;
                SkipWhitespace();
                var value = ParseValue(depth);
                properties.Add(new KeyValuePair<string, JsonValue>(key, value));
                if (byKey is not null) byKey.Add(key, value);
                else if (properties.Count > SmallObject)
                {
                    byKey = new Dictionary<string, JsonValue>(StringComparer.Ordinal);
                    foreach (var property in properties) byKey.Add(property.Key, property.Value);
                }
                SkipWhitespace();
                if (Position < _text.Length && _text[Position] == ',') { Position++; continue; }
                if (Position < _text.Length && _text[Position] == '}') { Position++; break; }
                throw Unexpected("',' or '}' in an object");
            }
            return JsonValue.Object(start, properties, byKey);
        }

        private const int SmallObject = 8;

        private static bool ContainsKey(List<KeyValuePair<string, JsonValue>> properties, string key)
        {
            foreach (var property in properties)
                if (property.Key == key) return true;
            return false;
        }

        private JsonValue ParseArray(int depth)
        {
            if (depth > MaxDepth) throw Error("nesting deeper than " + MaxDepth.ToString(CultureInfo.InvariantCulture) + " levels");
            int start = Position++;
            var items = new List<JsonValue>();
            SkipWhitespace();
            if (Position < _text.Length && _text[Position] == ']')
            {
                Position++;
                return JsonValue.Array(start, items);
            }
            while (true)
            {
                SkipWhitespace();
                items.Add(ParseValue(depth));
                SkipWhitespace();
                if (Position < _text.Length && _text[Position] == ',') { Position++; continue; }
                if (Position < _text.Length && _text[Position] == ']') { Position++; break; }
                throw Unexpected("',' or ']' in an array");
            }
            return JsonValue.Array(start, items);
        }

        private readonly StringBuilder _builder = new StringBuilder();

        private string ParseString()
        {
            Position++; // opening quote
            // Fast path: most strings are plain ASCII without escapes.
            for (int end = Position; end < _text.Length; end++)
            {
                char plain = _text[end];
                if (plain == '"')
                {
                    string result = _text.Substring(Position, end - Position);
                    Position = end + 1;
                    return result;
                }
                if (plain == '\\' || plain < 0x20 || plain >= 0x7f) break;
            }
            var builder = _builder.Clear();
            while (true)
            {
                if (Position >= _text.Length) throw Error("unterminated string");
                char c = _text[Position];
                if (c == '"') { Position++; return builder.ToString(); }
                if (c < 0x20) throw Error("raw control character U+" + ((int)c).ToString("X4", CultureInfo.InvariantCulture) + " in a string (must be escaped)");
                if (c != '\\')
                {
                    // Text decoded from strict UTF-8 has no lone surrogates; check anyway for strings from elsewhere.
                    if (char.IsHighSurrogate(c))
                    {
                        if (Position + 1 >= _text.Length || !char.IsLowSurrogate(_text[Position + 1])) throw Error("lone surrogate in a string");
                        builder.Append(c).Append(_text[Position + 1]);
                        Position += 2;
                        continue;
                    }
                    if (char.IsLowSurrogate(c)) throw Error("lone surrogate in a string");
                    builder.Append(c);
                    Position++;
                    continue;
                }
                Position++;
                if (Position >= _text.Length) throw Error("unterminated escape in a string");
                char e = _text[Position];
                int shortEscape = EscapeLetters.IndexOf(e);
                if (shortEscape >= 0)
                {
                    builder.Append(EscapedChars[shortEscape]);
                    Position++;
                    continue;
                }
                switch (e)
                {
                    case 'u':
                    {
                        int escapeStart = Position - 1;
                        char unit = (char)ReadHex4();
                        if (char.IsLowSurrogate(unit))
                        {
                            Position = escapeStart;
                            throw Error("lone low surrogate escape in a string");
                        }
                        if (char.IsHighSurrogate(unit))
                        {
                            if (Position + 2 >= _text.Length || _text[Position + 1] != '\\' || _text[Position + 2] != 'u')
                            {
                                Position = escapeStart;
                                throw Error("high surrogate escape not followed by a low surrogate escape");
                            }
                            Position += 2;
                            char low = (char)ReadHex4();
                            if (!char.IsLowSurrogate(low))
                            {
                                Position = escapeStart;
                                throw Error("high surrogate escape not followed by a low surrogate escape");
                            }
                            builder.Append(unit).Append(low);
                        }
                        else builder.Append(unit);
                        break;
                    }
                    default:
                        Position--;
                        throw Error("invalid escape '\\" + (e < 0x20 || e > 0x7e ? "?" : e.ToString()) + "' in a string");
                }
                Position++;
            }
        }

        // Reads the four hex digits after "\u"; leaves Position on the last digit.
        private int ReadHex4()
        {
            int value = 0;
            for (int k = 0; k < 4; k++)
            {
                Position++;
                if (Position >= _text.Length) throw Error("unterminated \\u escape");
                char h = _text[Position];
                int digit = h >= '0' && h <= '9' ? h - '0'
                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                    : -1;
                if (digit < 0) throw Error("invalid hex digit in a \\u escape");
                value = value * 16 + digit;
            }
            return value;
        }

        // number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ]
        private JsonValue ParseNumber()
        {
            int start = Position;
            if (_text[Position] == '-') Position++;
            if (Position >= _text.Length || !IsDigit(_text[Position])) throw Unexpected("a digit");
            if (_text[Position] == '0')
            {
                Position++;
                if (Position < _text.Length && IsDigit(_text[Position])) throw Error("leading zero in a number");
            }
            else SkipDigits();
            if (Position < _text.Length && _text[Position] == '.')
            {
                Position++;
                if (Position >= _text.Length || !IsDigit(_text[Position])) throw Unexpected("a digit after '.'");
                SkipDigits();
            }
            if (Position < _text.Length && (_text[Position] == 'e' || _text[Position] == 'E'))
            {
                Position++;
                if (Position < _text.Length && (_text[Position] == '+' || _text[Position] == '-')) Position++;
                if (Position >= _text.Length || !IsDigit(_text[Position])) throw Unexpected("a digit in the exponent");
                SkipDigits();
            }
            return JsonValue.Scalar(JsonKind.Number, start, _text.Substring(start, Position - start));
        }

        private void SkipDigits()
        {
            while (Position < _text.Length && IsDigit(_text[Position])) Position++;
        }

        private static bool IsDigit(char c) => c >= '0' && c <= '9';
    }
}
