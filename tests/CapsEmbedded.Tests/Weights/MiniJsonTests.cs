using System.Text;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Weights;

public class MiniJsonTests
{
    [Fact]
    public void ParsesEveryKindOfValue()
    {
        var root = MiniJson.Parse(" {\"a\":[1,-2.5e+3,0,true,false,null],\"b\":{},\"c\":[],\"d\":\"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"} \r\n\t");
        Assert.Equal(JsonKind.Object, root.Kind);
        Assert.Equal(new[] { "a", "b", "c", "d" }, root.Properties.Select(p => p.Key));
        var a = root.Get("a")!;
        Assert.Equal(new[] { JsonKind.Number, JsonKind.Number, JsonKind.Number, JsonKind.True, JsonKind.False, JsonKind.Null },
            a.Items.Select(i => i.Kind));
        Assert.Equal("-2.5e+3", a.Items[1].Text);
        Assert.True(a.Items[0].TryGetNonNegativeInt64(out long one) && one == 1);
        Assert.False(a.Items[1].TryGetNonNegativeInt64(out _));
        Assert.Equal("x\"\\/\b\f\n\r\té😀", root.Get("d")!.Text);
        Assert.Null(root.Get("missing"));
        Assert.Null(a.Get("a"));
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    public void NonNegativeIntegersUpToLongMax(string text, long expected)
    {
        Assert.True(MiniJson.Parse(text).TryGetNonNegativeInt64(out long value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("9223372036854775808")]
    [InlineData("-1")]
    [InlineData("-0")]
    [InlineData("1.0")]
    [InlineData("1e2")]
    [InlineData("\"1\"")]
    public void NotANonNegativeInt64(string text) => Assert.False(MiniJson.Parse(text).TryGetNonNegativeInt64(out _));

    [Theory]
    [MemberData(nameof(MalformedJson.Documents), MemberType = typeof(MalformedJson))]
    [MemberData(nameof(MalformedJson.Strings), MemberType = typeof(MalformedJson))]
    public void RejectsMalformedJson(string text, string fragment)
    {
        var e = Assert.Throws<MiniJsonException>(() => MiniJson.Parse(text));
        Assert.Contains(fragment, e.Message);
        Assert.InRange(e.Position, 0, text.Length);
    }

    [Fact]
    public void RejectsRawLoneSurrogates()
    {
        // Not an [InlineData]: test discovery would replace the lone surrogate with U+FFFD.
        Assert.Contains("lone surrogate", Assert.Throws<MiniJsonException>(() => MiniJson.Parse("\"a\ud800\"")).Message);
        Assert.Contains("lone surrogate", Assert.Throws<MiniJsonException>(() => MiniJson.Parse("\"a\udc00b\"")).Message);
        Assert.Contains("lone surrogate", Assert.Throws<MiniJsonException>(() => MiniJson.Parse("\"\ud800")).Message);
    }

    [Fact]
    public void NestingIsLimitedTo64Levels()
    {
        Assert.Equal(JsonKind.Array, MiniJson.Parse(new string('[', 64) + new string(']', 64)).Kind);
        var e = Assert.Throws<MiniJsonException>(() => MiniJson.Parse(new string('[', 65) + new string(']', 65)));
        Assert.Contains("nesting deeper than 64 levels", e.Message);
        Assert.Equal(64, e.Position);
        Assert.Throws<MiniJsonException>(() => MiniJson.Parse(new string('[', 1_000_000)));
        Assert.Throws<MiniJsonException>(() => MiniJson.Parse("{\"a\":" + new string('{', 70)));
    }

    [Fact]
    public void ValueCountIsLimited()
    {
        // Headers are parsed with MaxValues (1 000 000); the same counting is tested here on a small limit.
        Assert.Equal(9, MiniJson.Parse("[0,1,2,3,4,5,6,7,8]", maxValues: 10).Items.Count);
        var e = Assert.Throws<MiniJsonException>(() => MiniJson.Parse("[0,1,2,3,4,5,6,7,8,9]", maxValues: 10));
        Assert.Contains("more than 10 values in one document", e.Message);
        Assert.Throws<MiniJsonException>(() => MiniJson.Parse("{\"a\":{\"b\":[1,2]},\"c\":[[[]]]}", maxValues: 7));
        Assert.Equal(JsonKind.Object, MiniJson.Parse("{\"a\":{\"b\":[1,2]},\"c\":[[[]]]}", maxValues: 8).Kind);
    }

    [Fact]
    public void WriteStringRoundTripsEveryCharacter()
    {
        var all = new StringBuilder();
        for (int c = 0; c < 0x10000; c++)
            if (!char.IsSurrogate((char)c)) all.Append((char)c);
        all.Append("😀\U0010ffff");
        var json = new StringBuilder();
        MiniJson.WriteString(json, all.ToString());
        Assert.Equal(all.ToString(), MiniJson.Parse(json.ToString()).Text);
        Assert.DoesNotContain("\\u00e9", json.ToString()); // non-ASCII is written as is, like serde_json
    }
}
