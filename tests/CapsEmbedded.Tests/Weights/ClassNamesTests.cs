using CapsEmbedded.TestSupport;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Tests.Weights;

/// <summary>The optional <c>capsnet.class_names</c> metadata: read, defaulted, and refused when malformed.</summary>
public class ClassNamesTests
{
    private static CapsNetWeights Tiny(string? classNamesJson)
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, seed: 2);
        if (classNamesJson is not null) weights.Metadata[CapsNetClassNames.MetadataKey] = classNamesJson;
        return weights;
    }

    /// <summary>A file written with the names bypassing the writer's check, as another tool could.</summary>
    private static byte[] FileWith(string classNamesJson)
    {
        byte[] file = CapsNetWeightsFile.Write(Tiny(null));
        var layout = SafeTensorsFile.Parse(file, "t");
        var metadata = new Dictionary<string, string>(layout.Header.Metadata) { [CapsNetClassNames.MetadataKey] = classNamesJson };
        byte[] header = SafeTensorsWriter.EncodeHeader(layout.Header.Entries, metadata);
        var result = new byte[8 + header.Length + layout.Header.DataLength];
        SafeTensorsWriter.WritePrefix(result, header);
        file.AsSpan((int)layout.DataStart).CopyTo(result.AsSpan(8 + header.Length));
        return result;
    }

    [Fact]
    public void Absent_names_default_to_the_class_numbers()
    {
        Assert.Equal(new[] { "0", "1", "2" }, Tiny(null).ClassNames);
        Assert.Equal(new[] { "0", "1", "2" }, CapsNetWeightsFile.Read(CapsNetWeightsFile.Write(Tiny(null)), "t").ClassNames);
    }

    [Fact]
    public void Names_round_trip_through_a_file_including_non_ASCII()
    {
        string json = CapsNetClassNames.Encode(new[] { "Ankle boot", "T-shirt/top", "Kätzchen \"β\"" });
        var read = CapsNetWeightsFile.Read(CapsNetWeightsFile.Write(Tiny(json), "F16"), "t");
        Assert.Equal(new[] { "Ankle boot", "T-shirt/top", "Kätzchen \"β\"" }, read.ClassNames);
    }

    [Theory]
    [InlineData("[\"a\",\"b\"]", "has 2 names; the architecture has 3 classes")]
    [InlineData("[\"a\",\"b\",\"c\",\"d\"]", "has 4 names; the architecture has 3 classes")]
    [InlineData("[\"a\",2,\"c\"]", "[1] is a JSON number, not a string")]
    [InlineData("[\"a\",null,\"c\"]", "[1] is a JSON null, not a string")]
    [InlineData("[\"a\",\"\",\"c\"]", "name 1 is empty")]
    [InlineData("[\"a\",\"  \",\"c\"]", "name 1 is empty")]
    [InlineData("[\"a\",\" b\",\"c\"]", "starts or ends with white space")]
    [InlineData("[\"a\",\"b\\nx\",\"c\"]", "control character")]
    [InlineData("[\"a\",\"a\",\"c\"]", "name 1 (\"a\") is used twice")]
    [InlineData("{\"0\":\"a\"}", "is a JSON object, not an array of class names")]
    [InlineData("\"a,b,c\"", "is a JSON string, not an array")]
    [InlineData("[\"a\",\"b\"", "is not valid JSON")]
    public void Malformed_names_are_refused_by_the_reader_and_the_writer(string json, string problem) =>
        AssertRefusedByTheReaderAndTheWriter(json, problem);

    [Theory]
    [MemberData(nameof(MalformedJson.Documents), MemberType = typeof(MalformedJson))]
    [MemberData(nameof(MalformedJson.Strings), MemberType = typeof(MalformedJson))]
    public void Names_that_are_not_JSON_are_refused_with_the_parsers_reason(string json, string reason) =>
        AssertRefusedByTheReaderAndTheWriter(json, "capsnet.class_names is not valid JSON at character", reason);

    private static void AssertRefusedByTheReaderAndTheWriter(string json, params string[] fragments)
    {
        var read = Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Read(FileWith(json), "names.safetensors"));
        Assert.Contains("names.safetensors: metadata capsnet.class_names", read.Message);
        var write = Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Write(Tiny(json)));
        foreach (string fragment in fragments)
        {
            Assert.Contains(fragment, read.Message);
            Assert.Contains(fragment, write.Message);
        }
    }

    [Fact]
    public void A_name_longer_than_the_limit_is_refused()
    {
        string? problem = CapsNetClassNames.Problem(new[] { "a", new string('x', CapsNetClassNames.MaxLength + 1), "c" }, 3);
        Assert.Equal($"name 1 has {CapsNetClassNames.MaxLength + 1} characters, more than {CapsNetClassNames.MaxLength}", problem);
        Assert.Null(CapsNetClassNames.Problem(new[] { "a", new string('x', CapsNetClassNames.MaxLength), "c" }, 3));
    }

    [Fact]
    public void Fashion_MNIST_names_are_ten_valid_names()
    {
        Assert.Null(CapsNetClassNames.Problem(CapsNetClassNames.FashionMnist, 10));
        Assert.Equal("[\"T-shirt/top\",\"Trouser\",\"Pullover\",\"Dress\",\"Coat\",\"Sandal\",\"Shirt\",\"Sneaker\",\"Bag\",\"Ankle boot\"]",
            CapsNetClassNames.Encode(CapsNetClassNames.FashionMnist));
    }
}
