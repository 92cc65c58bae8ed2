using System.Buffers.Binary;
using System.Reflection;
using System.Text.Json;
using CapsEmbedded.Data;
using CapsEmbedded.Data.MultiMnist;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace CapsEmbedded.Serve;

/// <summary>
/// The local page and its JSON API over a compiled model (<see cref="MnistCapsNet"/>, or another with <c>--model</c>):
/// <c>GET /api/model</c> → the model's name, data set, class names, image side (28, or 36 for MultiMNIST), capsule
/// dimensions and how many capsules a reading takes (1, or 2 for MultiMNIST); <c>POST /api/predict</c> (side² bytes,
/// the image row by row, 0..255) → class and its name, the capsule lengths, the winning capsule's values and its
/// reconstruction, and under "top" the same for each of the longest capsules (MultiMNIST: both digits, each decoded
/// with the other capsules masked, paper §6); <c>POST /api/reconstruct?class=k</c> (16 float32 little-endian: capsule
/// k's dimensions) → the decoder's image; <c>GET /api/digit/{i}</c> → test image i with its label(s).
/// Bodies are read into pooled buffers one byte longer than the largest valid body and checked before the model runs;
/// every bad request gets a 400 with a one-line JSON error, and so does every other failure (framing 400/408/413,
/// routing 404/405, a model whose lengths or reconstruction are NaN/Inf 422, a bug 500), with one log line for a
/// failure that is not the request's content.
/// </summary>
internal static class ServeApp
{
    /// <summary>Largest magnitude accepted for a capsule value: squashed capsules are shorter than 1, sliders add ±0.5.</summary>
    public const float MaxCapsuleValue = 4;

    /// <summary>Test digits that were missing are looked for again after this long (so a fetch after the start shows).</summary>
    public const int DataRetrySeconds = 3;

    // Error messages quote the user's input: keep ' and ± readable rather than \u-escaped (the page shows them as text).
    internal static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static WebApplication Build(ServeOptions options, TextWriter log)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new OneLineLoggerProvider(log));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None); // a failed start reaches Program as its one error line
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(options.Host, options.Port);
            k.Limits.MaxRequestBodySize = 64 * 1024; // our own checks stop at 785 bytes; this bounds anything else
            k.AddServerHeader = false;
        });
        var app = builder.Build();
        var pool = ModelPool.Open(options.Model, options.Weights, keep: Environment.ProcessorCount * 2);
        var digits = new RetryingLoad<LabeledImageSet>(() => MultiMnistStore.IsPairs(options.Data, options.DataDir)
                ? MultiMnistStore.Load(options.Data, options.DataDir)
                : DatasetStore.Load(options.Data, DatasetSplit.Test, options.DataDir),
            TimeSpan.FromSeconds(DataRetrySeconds), TimeProvider.System);
        app.Lifetime.ApplicationStopped.Register(pool.Dispose);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
            log.WriteLine($"capsnet serve: listening on {string.Join(", ", addresses)} ({pool.ModelName}{(options.Weights is null ? "" : " with " + options.Weights)}, {pool.Tier} tier); Ctrl+C stops");
            log.Flush();
        });

        app.Use((http, next) => Guarded(http, next, log));

        foreach (string file in new[] { "index.html", "app.js", "app.css" })
        {
            byte[] bytes = Page(file);
            string type = file.EndsWith(".html", StringComparison.Ordinal) ? "text/html; charset=utf-8"
                : file.EndsWith(".js", StringComparison.Ordinal) ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8";
            RequestDelegate serve = http =>
            {
                http.Response.ContentType = type;
                http.Response.Headers.CacheControl = "no-cache";
                return http.Response.Body.WriteAsync(bytes).AsTask();
            };
            app.MapGet(file == "index.html" ? "/" : "/" + file, serve);
        }
        byte[] model = ModelJson(pool, options.Data);
        app.MapGet("/api/model", (RequestDelegate)(http =>
        {
            http.Response.ContentType = "application/json";
            return http.Response.Body.WriteAsync(model).AsTask();
        }));
        app.MapPost("/api/predict", (RequestDelegate)(http => Predict(http, pool)));
        app.MapPost("/api/reconstruct", (RequestDelegate)(http => Reconstruct(http, pool)));
        app.MapGet("/api/digit/{index}", (RequestDelegate)(http => Digit(http, digits, pool)));
        return app;
    }

    /// <summary>
    /// Runs the rest of the pipeline so that no failure leaves as an empty body or a stack trace: Kestrel's refusals of
    /// the framing (bad chunks, a body over the limit or too slow) become their status with a JSON error, routing's
    /// bodiless 404/405 get one, a client that resets is one log line, and anything else is a JSON 500.
    /// </summary>
    private static async Task Guarded(HttpContext http, RequestDelegate next, TextWriter log)
    {
        try
        {
            await next(http);
            if (!http.Response.HasStarted && http.Response.StatusCode >= 400 && http.Response.ContentType is null)
                await Error(http, RoutingError(http), http.Response.StatusCode);
        }
        catch (BadHttpRequestException e)
        {
            Log(log, http, $"{e.StatusCode}: {e.Message}");
            if (!http.Response.HasStarted) await Error(http, e.Message, e.StatusCode);
        }
        catch (Exception e) when (e is Microsoft.AspNetCore.Connections.ConnectionResetException || http.RequestAborted.IsCancellationRequested)
        {
            Log(log, http, $"the client reset the connection ({e.GetType().Name})");
            http.Abort(); // nothing to answer, and no half-read body for Kestrel to drain
        }
        catch (Exception e)
        {
            Log(log, http, $"500: internal error {e.GetType().Name}: {e.Message}");
            if (Environment.GetEnvironmentVariable("CAPSNET_DEBUG") == "1") log.WriteLine(e);
            if (!http.Response.HasStarted) await Error(http, $"internal error {e.GetType().Name}: {e.Message}", StatusCodes.Status500InternalServerError);
        }
    }

    private static string RoutingError(HttpContext http)
    {
        string path = IO.UntrustedText.Quote(http.Request.Path.Value), method = IO.UntrustedText.Quote(http.Request.Method, 16);
        return http.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => $"no such page: {path}",
            StatusCodes.Status405MethodNotAllowed => $"{path} does not take {method} (it takes {http.Response.Headers.Allow})",
            int status => $"HTTP {status} for {method} {path}",
        };
    }

    private static void Log(TextWriter log, HttpContext http, string what)
    {
        log.WriteLine($"capsnet serve: {IO.UntrustedText.Quote(http.Request.Method, 16)} {IO.UntrustedText.Quote(http.Request.Path.Value, 200)}: {IO.UntrustedText.Quote(what, 300)}");
        log.Flush();
    }

    private static byte[] Page(string file)
    {
        using var stream = typeof(ServeApp).Assembly.GetManifestResourceStream("page/" + file)
            ?? throw new InvalidOperationException($"page/{file} is not embedded");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static async Task Predict(HttpContext http, ModelPool pool)
    {
        var s = pool.Rent();
        try
        {
            var a = pool.Shape;
            int n = await ReadBody(http.Request, s.Body);
            if (n != a.InputLength)
            {
                await Error(http, n < 0 ? $"the body is larger than {a.InputLength} bytes" : $"the body has {n} bytes; send the {a.InputSize}x{a.InputSize} image as {a.InputLength} bytes (0..255), row by row");
                return;
            }
            for (int i = 0; i < n; i++) s.Image[i] = s.Body[i] / 255f;
            int predicted = s.Model.Predict(s.Image, s.Lengths, s.Capsules, s.Reconstruction);
            if (NonFiniteLengths.Any(s.Lengths))
            {
                await Error(http, NonFiniteLengths.Message("this image"), StatusCodes.Status422UnprocessableEntity);
                return;
            }
            // The paper's reading of several digits (§6): the longest capsules, each decoded with the others masked.
            // TopK's first class is Predict's, whose reconstruction is already in Reconstructions[0].
            TopK.Longest(s.Lengths, s.Classes, s.Longest);
            for (int r = 1; r < s.Classes.Length; r++) s.Model.Reconstruct(s.Capsules, s.Classes[r], s.Reconstructions[r]);
            for (int r = 0; r < s.Classes.Length; r++)
                if (NonFiniteImage(s.Reconstructions[r], s.Classes[r]) is { } refusal)
                {
                    await Error(http, refusal, StatusCodes.Status422UnprocessableEntity);
                    return;
                }

            var json = BeginObject(http, s);
            json.WriteNumber("class"u8, predicted);
            json.WriteString("name"u8, pool.ClassNames[predicted]);
            json.WriteStartArray("lengths"u8);
            foreach (float v in s.Lengths) json.WriteNumberValue(v);
            json.WriteEndArray();
            WriteCapsule(json, s.Capsules, predicted, a.ClassDims);
            WriteImage(json, s.Reconstruction);
            json.WriteStartArray("top"u8);
            for (int r = 0; r < s.Classes.Length; r++)
            {
                json.WriteStartObject();
                json.WriteNumber("class"u8, s.Classes[r]);
                json.WriteString("name"u8, pool.ClassNames[s.Classes[r]]);
                json.WriteNumber("length"u8, s.Longest[r]);
                WriteCapsule(json, s.Capsules, s.Classes[r], a.ClassDims);
                WriteImage(json, s.Reconstructions[r]);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            await End(http, json);
        }
        finally
        {
            pool.Return(s);
        }
    }

    private static async Task Reconstruct(HttpContext http, ModelPool pool)
    {
        var s = pool.Rent();
        try
        {
            string? value = http.Request.Query["class"];
            var a = pool.Shape;
            if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int keep) || keep >= a.Classes)
            {
                await Error(http, $"?class= must be 0..{a.Classes - 1}, got '{value}'");
                return;
            }
            int n = await ReadBody(http.Request, s.Body);
            int expected = a.ClassDims * sizeof(float);
            if (n != expected)
            {
                await Error(http, n < 0 ? $"the body is larger than {expected} bytes" : $"the body has {n} bytes; send capsule {keep}'s {a.ClassDims} values as float32 little-endian ({expected} bytes)");
                return;
            }
            s.Capsules.AsSpan().Clear();
            for (int d = 0; d < a.ClassDims; d++)
            {
                float v = BinaryPrimitives.ReadSingleLittleEndian(s.Body.AsSpan(d * sizeof(float)));
                if (!float.IsFinite(v) || Math.Abs(v) > MaxCapsuleValue)
                {
                    await Error(http, $"capsule value {d} is {v.ToString(System.Globalization.CultureInfo.InvariantCulture)}; values must be finite and within ±{MaxCapsuleValue}");
                    return;
                }
                s.Capsules[keep * a.ClassDims + d] = v;
            }
            s.Model.Reconstruct(s.Capsules, keep, s.Reconstruction);
            if (NonFiniteImage(s.Reconstruction, keep) is { } refusal)
            {
                await Error(http, refusal, StatusCodes.Status422UnprocessableEntity);
                return;
            }
            var json = BeginObject(http, s);
            WriteImage(json, s.Reconstruction);
            await End(http, json);
        }
        finally
        {
            pool.Return(s);
        }
    }

    /// <summary>
    /// The <c>/api/model</c> answer, written once: model name, data set, class names, and what the page needs to draw
    /// for it: the image side, the capsule dimensions, how many of the longest capsules a reading takes.
    /// </summary>
    private static byte[] ModelJson(ModelPool pool, string data)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("model"u8, pool.ModelName);
            json.WriteString("data"u8, data);
            json.WriteStartArray("classNames"u8);
            foreach (string name in pool.ClassNames) json.WriteStringValue(name);
            json.WriteEndArray();
            json.WriteNumber("side"u8, pool.Shape.InputSize);
            json.WriteNumber("dims"u8, pool.Shape.ClassDims);
            json.WriteNumber("top"u8, pool.Top);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static async Task Digit(HttpContext http, RetryingLoad<LabeledImageSet> digits, ModelPool pool)
    {
        string? text = http.Request.RouteValues["index"] as string;
        LabeledImageSet set;
        try
        {
            set = digits.Get();
        }
        catch (Exception e) when (e is DatasetNotFoundException or IdxFormatException or IOException)
        {
            await Error(http, $"no test digits: {e.Message}", StatusCodes.Status404NotFound);
            return;
        }
        int side = pool.Shape.InputSize;
        if (set.Rows != side || set.Cols != side)
        {
            await Error(http, $"the test images are {set.Rows}x{set.Cols}; {pool.ModelName} takes {side}x{side} (serve it with its own --data)", StatusCodes.Status404NotFound);
            return;
        }
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index) || index >= set.Count)
        {
            await Error(http, $"digit index must be 0..{set.Count - 1}, got '{text}'");
            return;
        }
        var classNames = pool.ClassNames;
        ReadOnlySpan<byte> labels = set.GetLabels(index);
        http.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(http.Response.BodyWriter, JsonOptions);
        json.WriteStartObject();
        json.WriteNumber("index"u8, index);
        json.WriteNumber("label"u8, labels[0]); // the first digit's, for a MultiMNIST pair
        if (labels[0] < classNames.Count) json.WriteString("labelName"u8, classNames[labels[0]]);
        json.WriteStartArray("labels"u8);
        foreach (byte label in labels) json.WriteNumberValue(label);
        json.WriteEndArray();
        json.WriteStartArray("pixels"u8);
        foreach (byte b in set.GetImage(index)) json.WriteNumberValue(b);
        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync();
    }

    /// <summary>Starts a JSON response object on the session's reusable writer.</summary>
    private static Utf8JsonWriter BeginObject(HttpContext http, ModelSession s)
    {
        var json = s.Json(http.Response.BodyWriter);
        http.Response.ContentType = "application/json";
        json.WriteStartObject();
        return json;
    }

    /// <summary>Capsule <paramref name="j"/>'s values under "capsule".</summary>
    private static void WriteCapsule(Utf8JsonWriter json, ReadOnlySpan<float> capsules, int j, int dims)
    {
        json.WriteStartArray("capsule"u8);
        foreach (float v in capsules.Slice(j * dims, dims)) json.WriteNumberValue(v);
        json.WriteEndArray();
    }

    /// <summary>The image as side² integers 0..255 under "reconstruction" (its values are finite: see <see cref="NonFiniteImage"/>).</summary>
    private static void WriteImage(Utf8JsonWriter json, ReadOnlySpan<float> image)
    {
        json.WriteStartArray("reconstruction"u8);
        foreach (float v in image) json.WriteNumberValue((int)MathF.Round(255 * Math.Clamp(v, 0f, 1f)));
        json.WriteEndArray();
    }

    /// <summary>Ends the response object and sends it.</summary>
    private static ValueTask<System.IO.Pipelines.FlushResult> End(HttpContext http, Utf8JsonWriter json)
    {
        json.WriteEndObject();
        json.Flush();
        return http.Response.BodyWriter.FlushAsync();
    }

    /// <summary>
    /// The 422 message when the decoder's image from capsule <paramref name="j"/> holds NaN/Inf, which the 0..255
    /// rounding would otherwise send as black (NaN) or white (±Inf) pixels without a word; null when it is finite.
    /// </summary>
    private static string? NonFiniteImage(ReadOnlySpan<float> reconstruction, int j)
    {
        int at = CapsEmbedded.Weights.CapsNetWeights.IndexOfNonFinite(reconstruction);
        return at < 0 ? null
            : $"the decoder gave capsule {j} a non-finite reconstruction (NaN/Inf at pixel {at}): its weights are unusable for this input; no image reported";
    }

    /// <summary>
    /// Reads the body into <paramref name="buffer"/> (max + 1 bytes): the byte count, or −1 when the body (or its
    /// declared Content-Length) is longer than the largest valid body, so an oversized body is never read in full.
    /// </summary>
    private static async Task<int> ReadBody(HttpRequest request, byte[] buffer)
    {
        if (request.ContentLength > buffer.Length - 1) return -1;
        int total = 0;
        try
        {
            while (total < buffer.Length)
            {
                int read = await request.Body.ReadAsync(buffer.AsMemory(total));
                if (read == 0) break;
                total += read;
            }
        }
        catch (IOException e) when (e is not Microsoft.AspNetCore.Connections.ConnectionResetException and not BadHttpRequestException)
        {
            // Kestrel reports a chunk size beyond 64 bits as a plain IOException: still the request's framing.
            throw new BadHttpRequestException(e.Message, StatusCodes.Status400BadRequest, e);
        }
        return total == buffer.Length ? -1 : total;
    }

    /// <summary>The response <c>{"error": message}</c> with <paramref name="status"/>, one line, its length declared.</summary>
    private static async Task Error(HttpContext http, string message, int status = StatusCodes.Status400BadRequest)
    {
        var body = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(body, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("error"u8, message);
            json.WriteEndObject();
        }
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        http.Response.ContentLength = body.WrittenCount;
        await http.Response.Body.WriteAsync(body.WrittenMemory);
    }
}
