using CapsEmbedded.Serve;

// capsnet-serve: the draw-a-digit page (see ServeApp). Errors print one line, as capsnet's do.
try
{
    var options = ServeOptions.Parse(args);
    await using var app = ServeApp.Build(options, Console.Out);
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (e is ArgumentException or IOException or CapsEmbedded.Weights.WeightFormatException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"capsnet serve: error: {e.Message}");
    return 1;
}
