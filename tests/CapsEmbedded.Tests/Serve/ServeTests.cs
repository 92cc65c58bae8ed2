using System.Net;
using System.Text.Json;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.Models;
using CapsEmbedded.Serve;
using CapsEmbedded.TestSupport;
using Microsoft.AspNetCore.Builder;

namespace CapsEmbedded.Tests.Serve;

/// <summary>
/// capsnet-serve in process on a free loopback port: the API's answers for good requests and a 400 with a one-line
/// JSON error (never a 500) for each kind of bad one. The browser side is .ci/figures.sh's job.
/// </summary>
public sealed class ServeTests() : TempDirectoryTest("capsnet-serve-"), IAsyncLifetime
{
    private WebApplication? _app;
    private readonly HttpClient _http = new();
    private byte[] _digit = [];

    public async Task InitializeAsync()
    {
        CopyMnistFixture();
        _digit = CapsEmbedded.Data.DatasetStore.Load("mnist", CapsEmbedded.Data.DatasetSplit.Test, Dir).GetImage(0).ToArray();
        _app = await Start(["--port", "0", "--data-dir", Dir], _http);
    }

    /// <summary>Builds and starts the server on a free loopback port and points <paramref name="http"/> at it.</summary>
    private static async Task<WebApplication> Start(string[] args, HttpClient http)
    {
        var (app, address) = await InProcessServer.Start(args, TextWriter.Null);
        http.BaseAddress = address;
        return app;
    }

    public async Task DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
        _http.Dispose(); // the folder goes in TempDirectoryTest.Dispose, which xunit calls after this
    }

    private Task<(HttpStatusCode Status, JsonElement Json)> Post(string path, byte[] body) => Post(_http, path, body);

    private static async Task<(HttpStatusCode Status, JsonElement Json)> Post(HttpClient http, string path, byte[] body)
    {
        using var response = await http.PostAsync(path, new ByteArrayContent(body));
        string text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    [Fact]
    public async Task Predict_then_reconstruct_from_the_returned_capsule_gives_the_same_image()
    {
        var (status, json) = await Post("/api/predict", _digit);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(7, json.GetProperty("class").GetInt32()); // fixture digit 0 is a 7, and the shipped model knows it
        Assert.Equal("7", json.GetProperty("name").GetString()); // the MNIST file names no classes: the digit
        var lengths = json.GetProperty("lengths").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.Equal(10, lengths.Length);
        Assert.Equal(7, Array.IndexOf(lengths, lengths.Max()));
        var capsule = json.GetProperty("capsule").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.Equal(16, capsule.Length);
        Assert.Equal(lengths[7], MathF.Sqrt(capsule.Sum(v => v * v)), 4);
        int[] image = Ints(json.GetProperty("reconstruction"));
        Assert.Equal(784, image.Length);
        Assert.InRange(image.Max(), 128, 255); // a drawn digit, not a blank

        var body = new byte[64];
        for (int d = 0; d < 16; d++) BitConverter.TryWriteBytes(body.AsSpan(4 * d), capsule[d]);
        var (again, decoded) = await Post("/api/reconstruct?class=7", body);
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.Equal(image, Ints(decoded.GetProperty("reconstruction")));
    }

    public static TheoryData<string, byte[], string> BadRequests() => new()
    {
        { "/api/predict", [], "the body has 0 bytes; send the 28x28 image as 784 bytes (0..255), row by row" },
        { "/api/predict", new byte[783], "the body has 783 bytes" },
        { "/api/predict", new byte[785], "the body is larger than 784 bytes" },
        { "/api/predict", new byte[70_000], "the body is larger than 784 bytes" },
        { "/api/reconstruct?class=7", new byte[63], "the body has 63 bytes; send capsule 7's 16 values as float32 little-endian (64 bytes)" },
        { "/api/reconstruct?class=10", new byte[64], "?class= must be 0..9, got '10'" },
        { "/api/reconstruct?class=-1", new byte[64], "?class= must be 0..9, got '-1'" },
        { "/api/reconstruct", new byte[64], "?class= must be 0..9, got ''" },
        { "/api/reconstruct?class=2", [.. BitConverter.GetBytes(float.NaN), .. new byte[60]], "capsule value 0 is NaN; values must be finite and within ±4" },
        { "/api/reconstruct?class=2", [.. new byte[60], .. BitConverter.GetBytes(5f)], "capsule value 15 is 5; values must be finite and within ±4" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_requests_get_a_400_naming_the_problem(string path, byte[] body, string message)
    {
        var (status, json) = await Post(path, body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith(message, json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Test_digits_load_by_index_and_a_bad_index_is_a_400()
    {
        using var ok = await _http.GetAsync("/api/digit/199");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var json = JsonDocument.Parse(await ok.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(199, json.GetProperty("index").GetInt32());
        int label = json.GetProperty("label").GetInt32();
        Assert.Equal(label.ToString(System.Globalization.CultureInfo.InvariantCulture), json.GetProperty("labelName").GetString());
        Assert.Equal(784, json.GetProperty("pixels").GetArrayLength());
        foreach (string bad in new[] { "200", "-1", "x", "99999999999" })
        {
            using var response = await _http.GetAsync("/api/digit/" + bad);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("digit index must be 0..199", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task The_model_endpoint_names_the_model_its_data_and_its_classes()
    {
        var json = JsonDocument.Parse(await _http.GetStringAsync("/api/model")).RootElement;
        Assert.Equal("MnistCapsNet", json.GetProperty("model").GetString());
        Assert.Equal("mnist", json.GetProperty("data").GetString());
        Assert.Equal(Enumerable.Range(0, 10).Select(j => j.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            json.GetProperty("classNames").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(28, json.GetProperty("side").GetInt32()); // what the page draws at
        Assert.Equal(16, json.GetProperty("dims").GetInt32());
        Assert.Equal(1, json.GetProperty("top").GetInt32());
    }

    [Fact]
    public async Task A_28x28_answer_keeps_its_fields_and_adds_one_top_entry_equal_to_them()
    {
        var (status, json) = await Post("/api/predict", _digit);
        Assert.Equal(HttpStatusCode.OK, status);
        var only = Assert.Single(json.GetProperty("top").EnumerateArray());
        Assert.Equal(json.GetProperty("class").GetInt32(), only.GetProperty("class").GetInt32());
        Assert.Equal(json.GetProperty("name").GetString(), only.GetProperty("name").GetString());
        Assert.Equal(json.GetProperty("lengths")[7].GetSingle(), only.GetProperty("length").GetSingle());
        Assert.Equal(Floats(json.GetProperty("capsule")), Floats(only.GetProperty("capsule")));
        Assert.Equal(Ints(json.GetProperty("reconstruction")), Ints(only.GetProperty("reconstruction")));
    }

    private static float[] Floats(JsonElement array) => array.EnumerateArray().Select(e => e.GetSingle()).ToArray();

    /// <summary>The page's rounding of the decoder's output: 0..255.</summary>
    private static int[] Pixels(ReadOnlySpan<float> image)
    {
        var pixels = new int[image.Length];
        for (int i = 0; i < image.Length; i++) pixels[i] = (int)MathF.Round(255 * Math.Clamp(image[i], 0f, 1f));
        return pixels;
    }

    [Fact]
    public async Task MultiMnist_answers_the_two_longest_capsules_and_decodes_each_alone_as_the_model_does()
    {
        var digits = CapsEmbedded.Data.DatasetStore.Load("mnist", CapsEmbedded.Data.DatasetSplit.Test, Dir);
        var recipe = MultiMnistGenerator.DrawPairs(digits, 1, MultiMnistGenerator.DefaultSeed)[3];
        byte[] first = new byte[MultiMnistPairs.CanvasLength], second = new byte[MultiMnistPairs.CanvasLength], pair = new byte[MultiMnistPairs.CanvasLength];
        MultiMnistPairs.Compose(digits, recipe, first, second, pair);

        using var http = new HttpClient();
        await using var app = await Start(["--port", "0", "--model", "multimnist", "--data-dir", Dir], http);
        var model = JsonDocument.Parse(await http.GetStringAsync("/api/model")).RootElement;
        Assert.Equal("MultiMnistCapsNet", model.GetProperty("model").GetString());
        Assert.Equal(36, model.GetProperty("side").GetInt32());
        Assert.Equal(2, model.GetProperty("top").GetInt32());

        var (status, json) = await Post(http, "/api/predict", pair);
        Assert.Equal(HttpStatusCode.OK, status);

        // The generated model called directly: the same top 2, lengths, capsules and, per digit, the decoder's image
        // from its capsule alone (ICapsNetSession.Reconstruct masks the others), as capsnet reconstruct draws Figure 5.
        using CapsEmbedded.Runtime.ICapsNetSession session = new MultiMnistCapsNet.Session(MultiMnistCapsNet.Weights.Embedded);
        var a = session.Shape;
        float[] image = pair.Select(b => b / 255f).ToArray(), lengths = new float[a.Classes], longest = new float[2];
        var classes = new int[2];
        session.PredictTop(image, lengths, classes, longest);
        var capsules = new float[a.DecoderInput];
        session.Predict(image, new float[a.Classes], capsules);
        Assert.Equal(lengths, Floats(json.GetProperty("lengths")));
        Assert.Equal(classes[0], json.GetProperty("class").GetInt32());
        var top = json.GetProperty("top").EnumerateArray().ToArray();
        Assert.Equal(2, top.Length);
        Assert.NotEqual(classes[0], classes[1]);
        var decoded = new float[a.DecoderOutput];
        for (int r = 0; r < 2; r++)
        {
            Assert.Equal(classes[r], top[r].GetProperty("class").GetInt32());
            Assert.Equal(longest[r], top[r].GetProperty("length").GetSingle());
            Assert.Equal(capsules.AsSpan(classes[r] * a.ClassDims, a.ClassDims).ToArray(), Floats(top[r].GetProperty("capsule")));
            session.Reconstruct(capsules, classes[r], decoded);
            int[] expected = Pixels(decoded);
            Assert.Equal(36 * 36, expected.Length);
            Assert.Equal(expected, Ints(top[r].GetProperty("reconstruction")));
        }
        Assert.Equal(Ints(top[0].GetProperty("reconstruction")), Ints(json.GetProperty("reconstruction")));
        Assert.NotEqual(Ints(top[0].GetProperty("reconstruction")), Ints(top[1].GetProperty("reconstruction")));

        // The sliders' endpoint decodes the second digit's capsule to the same image.
        var body = new byte[64];
        for (int d = 0; d < 16; d++) BitConverter.TryWriteBytes(body.AsSpan(4 * d), capsules[classes[1] * a.ClassDims + d]);
        var (again, alone) = await Post(http, $"/api/reconstruct?class={classes[1]}", body);
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.Equal(Ints(top[1].GetProperty("reconstruction")), Ints(alone.GetProperty("reconstruction")));

        // A 28x28 image is refused naming the size the model takes.
        var (wrong, error) = await Post(http, "/api/predict", _digit);
        Assert.Equal(HttpStatusCode.BadRequest, wrong);
        Assert.Equal("the body has 784 bytes; send the 36x36 image as 1296 bytes (0..255), row by row", error.GetProperty("error").GetString());

        // Its test images are the MultiMNIST pairs (absent so far: a 404 naming the missing set); 28x28 digits are refused.
        using (var none = await http.GetAsync("/api/digit/0"))
            Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        MultiMnistGenerator.Generate(digits, Path.Combine(Dir, MultiMnistStore.Name), 1, MultiMnistGenerator.DefaultSeed, force: false, TextWriter.Null);
        await Task.Delay(TimeSpan.FromSeconds(ServeApp.DataRetrySeconds + 0.5)); // the missing set is looked for again after this
        var item = JsonDocument.Parse(await http.GetStringAsync("/api/digit/3")).RootElement;
        Assert.Equal(new int[] { digits.Labels[recipe.First], digits.Labels[recipe.Second] }, Ints(item.GetProperty("labels")));
        Assert.Equal(digits.Labels[recipe.First], item.GetProperty("label").GetInt32());
        Assert.Equal(pair.Select(b => (int)b), Ints(item.GetProperty("pixels")));

        using var mnistData = new HttpClient();
        await using var mismatched = await Start(["--port", "0", "--model", "multimnist", "--data", "mnist", "--data-dir", Dir], mnistData);
        using var refused = await mnistData.GetAsync("/api/digit/0");
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Contains("the test images are 28x28; MultiMnistCapsNet takes 36x36", await refused.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task With_data_fashion_the_Fashion_model_serves_its_test_images_and_names_its_classes()
    {
        CopyFashionFixture();
        using var http = new HttpClient();
        await using var app = await Start(["--port", "0", "--data", "fashion", "--data-dir", Dir], http);
        var model = JsonDocument.Parse(await http.GetStringAsync("/api/model")).RootElement;
        Assert.Equal("FashionCapsNet", model.GetProperty("model").GetString());
        Assert.Equal("fashion", model.GetProperty("data").GetString());
        Assert.Equal(CapsEmbedded.Weights.CapsNetClassNames.FashionMnist, model.GetProperty("classNames").EnumerateArray().Select(e => e.GetString()));

        var item = JsonDocument.Parse(await http.GetStringAsync("/api/digit/1")).RootElement; // test item 1 is a pullover
        Assert.Equal(2, item.GetProperty("label").GetInt32());
        Assert.Equal("Pullover", item.GetProperty("labelName").GetString());
        byte[] pixels = item.GetProperty("pixels").EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();
        var (status, json) = await Post(http, "/api/predict", pixels);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, json.GetProperty("class").GetInt32());
        Assert.Equal("Pullover", json.GetProperty("name").GetString());

        // The same bits as FashionCapsNet itself.
        var expected = new float[10];
        using (var session = new CapsEmbedded.Models.FashionCapsNet.Session(CapsEmbedded.Models.FashionCapsNet.Weights.Embedded))
            session.Predict(pixels.Select(b => b / 255f).ToArray(), expected);
        Assert.Equal(expected, json.GetProperty("lengths").EnumerateArray().Select(e => e.GetSingle()));
    }

    [Fact]
    public async Task The_page_and_its_script_are_served_from_the_binary()
    {
        string page = await _http.GetStringAsync("/");
        Assert.Contains("<canvas id=\"pad\"", page);
        Assert.DoesNotContain("https://", page); // offline: nothing from a CDN
        string script = await _http.GetStringAsync("/app.js");
        Assert.Contains("/api/predict", script);
        Assert.DoesNotContain("https://", script);
        // The image size, capsule dimensions and answer count come from /api/model, never from the script: no 28, 36,
        // 784 or 1296 (or 16) written in it, and the model's side, dims and top read into what the pad uses.
        Assert.Contains("SIDE = m.side; DIMS = m.dims; TOP = m.top;", script);
        Assert.DoesNotMatch(@"\b(28|36|784|1296|16)\b", script);
    }

    [Theory]
    [InlineData("mnist")]
    [InlineData("multimnist")]
    public void A_warm_pooled_session_predicts_and_reconstructs_without_allocating(string model)
    {
        using var pool = ModelPool.Open(model, null, keep: 2);
        void Request()
        {
            var s = pool.Rent();
            for (int i = 0; i < s.Image.Length; i++) s.Image[i] = _digit[i % _digit.Length] / 255f;
            // /api/predict's work: the longest capsules (TopK), each decoded alone; then /api/reconstruct's.
            int k = s.Model.Predict(s.Image, s.Lengths, s.Capsules, s.Reconstruction);
            CapsEmbedded.Runtime.TopK.Longest(s.Lengths, s.Classes, s.Longest);
            for (int r = 1; r < s.Classes.Length; r++) s.Model.Reconstruct(s.Capsules, s.Classes[r], s.Reconstructions[r]);
            s.Model.Reconstruct(s.Capsules, k, s.Reconstruction);
            pool.Return(s);
        }
        // Past tiered compilation (call counting, then tier-1 code installed after a delay) before measuring: a one-off
        // 496 B was seen with only two warm-up requests while other tests loaded the machine (and once more, at load 18,
        // after 80: hence the fewest of three windows).
        for (int n = 0; n < 40; n++) Request();
        Thread.Sleep(300);
        Assert.Equal(0, Allocations.OnThisThread(40, 3, _ => Request()));
    }

    [Theory]
    [InlineData(new[] { "--port", "70000" }, "--port must be 0..65535, got '70000'")]
    [InlineData(new[] { "--host", "example.com" }, "--host must be an IP address (e.g. 127.0.0.1), got 'example.com'")]
    [InlineData(new[] { "--port" }, "--port needs a value")]
    [InlineData(new[] { "--colour", "red" }, "unknown option '--colour'")]
    [InlineData(new[] { "--model", "cifar" }, "--model must be one of mnist, fashion, multimnist, mnist-efficient, got 'cifar'")]
    public void Bad_arguments_name_the_problem(string[] args, string message) =>
        Assert.StartsWith(message, Assert.Throws<ArgumentException>(() => ServeOptions.Parse(args)).Message);

    [Theory]
    [InlineData(new string[0], "mnist", "mnist")]
    [InlineData(new[] { "--model", "fashion" }, "fashion", "fashion")]
    [InlineData(new[] { "--data", "fashion" }, "fashion", "fashion")]
    [InlineData(new[] { "--data", "fashion", "--weights", "my.safetensors" }, "mnist", "fashion")] // the file decides what it knows
    [InlineData(new[] { "--model", "mnist", "--data", "fashion" }, "mnist", "fashion")]
    [InlineData(new[] { "--data", "/some/idx/folder" }, "mnist", "/some/idx/folder")]
    [InlineData(new[] { "--model", "multimnist" }, "multimnist", "multimnist")]
    [InlineData(new[] { "--data", "multimnist" }, "multimnist", "multimnist")]
    public void The_model_follows_data_mnist_or_fashion_unless_given(string[] args, string model, string data)
    {
        var options = ServeOptions.Parse(args);
        Assert.Equal(model, options.Model);
        Assert.Equal(data, options.Data);
    }
}
