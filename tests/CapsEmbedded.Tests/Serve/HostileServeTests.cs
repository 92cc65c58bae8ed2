using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CapsEmbedded.Serve;
using CapsEmbedded.TestSupport;
using CapsEmbedded.Weights;
using Microsoft.AspNetCore.Builder;

namespace CapsEmbedded.Tests.Serve;

/// <summary>
/// Issue 34, capsnet-serve as a hostile client (or a hostile weight file) tries it, over raw sockets where the HTTP
/// framing itself is the attack: every answer is a one-line JSON error with the right status, the log gets one line per
/// failure and never a stack trace. Each test failed before its fix.
/// </summary>
public sealed class HostileServeTests() : TempDirectoryTest("capsnet-serve-hostile-"), IAsyncLifetime
{
    private WebApplication? _app;
    private readonly StringWriter _logText = new(System.Globalization.CultureInfo.InvariantCulture);
    private TextWriter? _log;
    private int _port;

    public async Task InitializeAsync()
    {
        CopyMnistFixture();
        _app = await Start(["--port", "0", "--data-dir", Dir]);
    }

    public async Task DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
    }

    private async Task<WebApplication> Start(string[] args)
    {
        _log = TextWriter.Synchronized(_logText);
        var (app, address) = await InProcessServer.Start(args, _log);
        _port = address.Port;
        return app;
    }

    /// <summary>The log's lines after the "listening" one.</summary>
    private string[] LogLines() => _logText.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Where(l => !l.Contains("listening on", StringComparison.Ordinal)).ToArray();

    /// <summary>Waits (up to 10 s) for <paramref name="count"/> log lines, then asserts there are exactly that many and no stack trace.</summary>
    private async Task AssertLogLines(int count, string mustContain)
    {
        for (int i = 0; i < 100 && LogLines().Length < count; i++) await Task.Delay(100);
        await Task.Delay(200); // a second line would come now
        var lines = LogLines();
        Assert.True(lines.Length == count, $"expected {count} log line(s), got:\n{_logText}");
        Assert.All(lines, l => Assert.Contains(mustContain, l));
        Assert.DoesNotContain("   at ", _logText.ToString());
    }

    private async Task<(int Status, string Body)> Raw(string head, Func<Stream, Task>? body = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, _port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        if (body is not null)
        {
            try
            {
                await body(stream);
            }
            catch (IOException)
            {
                // The server may answer and close before the whole body is sent.
            }
        }
        return await ReadResponse(stream);
    }

    /// <summary>The status and (de-chunked) body of one HTTP/1.1 response read to the end of the connection.</summary>
    private static async Task<(int Status, string Body)> ReadResponse(Stream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var all = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0) all.Write(buffer, 0, n);
        }
        catch (IOException)
        {
            // A reset after the response was sent: what arrived is the answer.
        }
        string text = Encoding.UTF8.GetString(all.ToArray());
        Assert.True(text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal), $"no HTTP response: '{text}'");
        int status = int.Parse(text.AsSpan(9, 3), provider: System.Globalization.CultureInfo.InvariantCulture);
        int split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string headers = text[..split], body = text[(split + 4)..];
        if (headers.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            var plain = new StringBuilder();
            for (int at = 0; ;)
            {
                int end = body.IndexOf("\r\n", at, StringComparison.Ordinal);
                int size = Convert.ToInt32(body[at..end], 16);
                if (size == 0) break;
                plain.Append(body, end + 2, size);
                at = end + 2 + size + 2;
            }
            body = plain.ToString();
        }
        return (status, body);
    }

    /// <summary>A one-line JSON error object: its "error" text.</summary>
    private static string JsonError(string body)
    {
        Assert.DoesNotContain('\n', body.TrimEnd());
        return JsonDocument.Parse(body).RootElement.GetProperty("error").GetString()!;
    }

    private const string Post = "POST /api/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";

    // ---- 7. non-finite results

    [Fact]
    public async Task Weights_that_overflow_on_a_digit_get_a_JSON_error_naming_non_finite_lengths_not_a_500()
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Paper, 5);
        Array.Fill(weights.Conv1Weight, 3.4e38f); // finite, so the loader accepts it; conv1 overflows to ∞
        File.WriteAllBytes(P("huge.safetensors"), CapsNetWeightsFile.Write(weights));
        await using var app = await Start(["--port", "0", "--data-dir", Dir, "--weights", P("huge.safetensors")]);
        byte[] digit = CapsEmbedded.Data.DatasetStore.Load("mnist", CapsEmbedded.Data.DatasetSplit.Test, Dir).GetImage(0).ToArray();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };
        using var response = await http.PostAsync("/api/predict", new ByteArrayContent(digit));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("non-finite capsule lengths", JsonError(await response.Content.ReadAsStringAsync()));
        Assert.Empty(LogLines()); // the client's answer, not a server fault
    }

    [Fact]
    public async Task A_decoder_that_overflows_gets_a_422_naming_the_non_finite_reconstruction_not_black_pixels()
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Paper, 5);
        Array.Fill(weights.Fc2Weight, 3.4e38f); // finite, so the loader accepts it; FC2 overflows to +∞, and FC3's ±∞ sum is NaN
        File.WriteAllBytes(P("decoder.safetensors"), CapsNetWeightsFile.Write(weights));
        await using var app = await Start(["--port", "0", "--data-dir", Dir, "--weights", P("decoder.safetensors")]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };

        var capsule = new byte[64];
        for (int d = 0; d < 16; d++) BitConverter.TryWriteBytes(capsule.AsSpan(4 * d), 0.25f);
        using var reconstruct = await http.PostAsync("/api/reconstruct?class=3", new ByteArrayContent(capsule));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reconstruct.StatusCode);
        Assert.StartsWith("the decoder gave capsule 3 a non-finite reconstruction (NaN/Inf at pixel 0)", JsonError(await reconstruct.Content.ReadAsStringAsync()));

        byte[] digit = CapsEmbedded.Data.DatasetStore.Load("mnist", CapsEmbedded.Data.DatasetSplit.Test, Dir).GetImage(0).ToArray();
        using var predict = await http.PostAsync("/api/predict", new ByteArrayContent(digit));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, predict.StatusCode);
        Assert.Contains("non-finite reconstruction", JsonError(await predict.Content.ReadAsStringAsync()));
        Assert.Empty(LogLines()); // the client's answer, not a server fault
    }

    // ---- 8. HTTP framing

    [Theory]
    [InlineData("FFFFFFFFFFFFFFFFFFFF\r\n")] // a chunk size beyond 64 bits
    [InlineData("zz\r\nab\r\n0\r\n\r\n")] // not hex
    [InlineData("5\r\nabcdefg\r\n0\r\n\r\n")] // chunk data longer than its size
    public async Task A_malformed_chunked_body_gets_a_JSON_400_and_one_log_line(string chunks)
    {
        var (status, body) = await Raw(Post + "Transfer-Encoding: chunked\r\n\r\n" + chunks);
        Assert.Equal(400, status);
        Assert.Contains("chunk", JsonError(body), StringComparison.OrdinalIgnoreCase);
        await AssertLogLines(1, "400");
    }

    [Theory]
    [InlineData("POST /api/predict HTTP/1.1")]
    [InlineData("POST /api/reconstruct?class=99 HTTP/1.1")]
    [InlineData("POST /api/model HTTP/1.1")]
    [InlineData("POST /nowhere HTTP/1.1")]
    public async Task A_chunked_body_over_64_KB_gets_a_JSON_4xx(string requestLine)
    {
        var (status, body) = await Raw(requestLine + "\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n", async stream =>
        {
            var chunk = Encoding.ASCII.GetBytes("1000\r\n" + new string('a', 0x1000) + "\r\n");
            for (int i = 0; i < 20; i++) await stream.WriteAsync(chunk); // 80 KB
            await stream.WriteAsync("0\r\n\r\n"u8.ToArray());
        });
        Assert.InRange(status, 400, 499);
        Assert.NotEmpty(JsonError(body));
        Assert.DoesNotContain("   at ", _logText.ToString());
    }

    [Fact]
    public async Task A_body_slower_than_240_bytes_per_second_gets_a_JSON_408_and_one_log_line()
    {
        var (status, body) = await Raw(Post + "Content-Length: 784\r\n\r\n", async stream =>
        {
            for (int i = 0; i < 40; i++) // 2 bytes/s, past Kestrel's 5 s grace period
            {
                await stream.WriteAsync(new byte[1]);
                await Task.Delay(500);
            }
        });
        Assert.Equal(408, status);
        Assert.Contains("too slowly", JsonError(body));
        await AssertLogLines(1, "408");
    }

    [Fact]
    public async Task A_client_reset_mid_body_is_one_log_line_without_a_stack_trace()
    {
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, _port);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(Post + "Content-Length: 784\r\n\r\n" + new string('a', 100)));
            await Task.Delay(300); // the handler is reading the body now
            client.Client.LingerState = new LingerOption(true, 0); // close with RST
            client.Client.Close();
        }
        await AssertLogLines(1, "reset");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/model")).StatusCode); // and the server goes on
    }

    [Theory]
    [InlineData("GET /nowhere HTTP/1.1", 404, "/nowhere")]
    [InlineData("GET /api/predict HTTP/1.1", 405, "GET")]
    [InlineData("DELETE /api/model HTTP/1.1", 405, "DELETE")]
    [InlineData("GET /api/digit/1/2 HTTP/1.1", 404, "/api/digit/1/2")]
    public async Task Routing_errors_are_one_line_JSON(string requestLine, int expected, string named)
    {
        var (status, body) = await Raw(requestLine + "\r\nHost: x\r\nConnection: close\r\n\r\n");
        Assert.Equal(expected, status);
        Assert.Contains(named, JsonError(body));
        Assert.Empty(LogLines());
    }

    [Fact]
    public async Task A_declared_body_over_64_KB_is_a_JSON_413_where_no_endpoint_bounds_it()
    {
        var (status, body) = await Raw("POST /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 70000\r\n\r\n");
        Assert.InRange(status, 404, 413);
        Assert.NotEmpty(JsonError(body));
        var (predict, text) = await Raw(Post + "Content-Length: 70000\r\n\r\n");
        Assert.Equal(400, predict);
        Assert.StartsWith("the body is larger than 784 bytes", JsonError(text));
    }

    // ---- 14. data that appears after the start

    [Fact]
    public async Task Test_digits_fetched_after_the_start_are_served_without_a_restart()
    {
        await using var app = await Start(["--port", "0", "--data-dir", P("later")]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}") };
        using (var missing = await http.GetAsync("/api/digit/0"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Contains("no test digits", JsonError(await missing.Content.ReadAsStringAsync()));
        }
        Directory.CreateDirectory(P("later"));
        Directory.Move(Path.Combine(Dir, "mnist"), Path.Combine(P("later"), "mnist")); // as `capsnet data fetch` would leave it
        var clock = System.Diagnostics.Stopwatch.StartNew();
        HttpStatusCode status;
        do
        {
            await Task.Delay(250);
            using var response = await http.GetAsync("/api/digit/0");
            status = response.StatusCode;
        }
        while (status == HttpStatusCode.NotFound && clock.Elapsed < TimeSpan.FromSeconds(15));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0, ServeApp.DataRetrySeconds + 5);
    }

    [Fact]
    public void A_failed_load_is_retried_at_most_once_per_interval_and_then_kept()
    {
        var time = new ManualTime();
        int calls = 0;
        bool present = false;
        var loader = new RetryingLoad<string>(() => { calls++; return present ? "data" : throw new IOException("not yet"); }, TimeSpan.FromSeconds(3), time);
        Assert.Equal("not yet", Assert.Throws<IOException>(loader.Get).Message);
        present = true;
        Assert.Throws<IOException>(loader.Get); // within the interval: the same failure, no second attempt
        Assert.Equal(1, calls);
        time.Now += TimeSpan.FromSeconds(3);
        Assert.Equal("data", loader.Get());
        Assert.Equal("data", loader.Get());
        Assert.Equal(2, calls);
        var racers = Enumerable.Range(0, 8).Select(_ => Task.Run(loader.Get)).ToArray();
        Assert.All(racers, r => Assert.Equal("data", r.Result));
        Assert.Equal(2, calls);
    }

    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    // ---- 15. a port in use

    [Fact]
    public void A_port_in_use_is_one_error_line_and_a_non_zero_exit()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        string port = ((IPEndPoint)holder.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (code, output, error) = ChildProcess.Run(Path.Combine(AppContext.BaseDirectory, "capsnet-serve.dll"),
            ["--port", port, "--data-dir", Dir], timeoutSeconds: 60);
        Assert.NotEqual(0, code);
        Assert.Equal("", output);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{error}");
        Assert.StartsWith("capsnet serve: error: ", lines[0]);
        Assert.Contains(port, lines[0]);
    }
}
