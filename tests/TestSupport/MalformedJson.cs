namespace CapsEmbedded.TestSupport;

/// <summary>
/// Texts that MiniJson refuses, each with a fragment of its reason (linked into both test projects): the parser's own
/// tests and every reader that parses JSON through it (the header, capsnet.class_names, the generator's linked copy)
/// run the same cases, each asserting its own message around the fragment.
/// </summary>
internal static class MalformedJson
{
    /// <summary>Malformed string literals, each a whole token: refused alike wherever a value stands.</summary>
    public static TheoryData<string, string> Strings => new()
    {
        { "\"a\tb\"", "raw control character U+0009" },
        { "\"a\u0001b\"", "raw control character U+0001" },
        { "\"a\nb\"", "raw control character U+000A" },
        { "\"\\x41\"", "invalid escape '\\x'" },
        { "\"a\\qb\"", "invalid escape '\\q'" },
        { "\"\\u12\"", "invalid hex digit" },
        { "\"\\u12g4\"", "invalid hex digit" },
        { "\"\\ud800\"", "high surrogate escape not followed by a low surrogate escape" },
        { "\"\\ud800\\u0041\"", "high surrogate escape not followed by a low surrogate escape" },
        { "\"\\ud800x\"", "high surrogate escape not followed" },
        { "\"\\ude00\"", "lone low surrogate escape" },
        { "\"\\udc00\"", "lone low surrogate escape" },
    };

    /// <summary>Texts malformed as a whole document (cut short, trailing text, bad structure or numbers).</summary>
    public static TheoryData<string, string> Documents => new()
    {
        { "", "expected a value, found end of text" },
        { "{", "expected a string key" },
        { "{\"a\"}", "expected ':' after a key" },
        { "{\"a\":1,}", "expected a string key" },
        { "[1,]", "expected a value" },
        { "[1 2]", "expected ',' or ']'" },
        { "{\"a\":1 \"b\":2}", "expected ',' or '}'" },
        { "{'a':1}", "expected a string key" },
        { "{\"a\":1}{}", "unexpected '{' after the JSON value" },
        { "{\"a\":1,\"a\":2}", "duplicate key \"a\"" },
        { "01", "leading zero" },
        { "1.", "expected a digit after '.'" },
        { "1e", "expected a digit in the exponent" },
        { "-", "expected a digit" },
        { "+1", "expected a value" },
        { ".5", "expected a value" },
        { "NaN", "expected a value" },
        { "tru", "expected a value" },
        { "nul", "expected a value" },
        { "/* c */ {}", "expected a value" },
        { "\"\\u12", "unterminated \\u escape" },
        { "\"\\ud800\\", "high surrogate escape not followed" },
        { "\"\\", "unterminated escape" },
        { "\u00a0{}", "expected a value" },
    };
}
