using CapsEmbedded.IO;
using Microsoft.Extensions.Logging;

namespace CapsEmbedded.Serve;

/// <summary>
/// The server's only log output: one line per event, "capsnet serve: warning: …", an exception as its type and message
/// (never a stack trace: CAPSNET_DEBUG=1 adds it, as capsnet's errors do), untrusted text escaped and cut.
/// </summary>
internal sealed class OneLineLoggerProvider(TextWriter log) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(log);

    public void Dispose()
    {
    }

    private sealed class Logger(TextWriter log) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            string message = formatter(state, exception);
            if (exception is not null) message += $" ({exception.GetType().Name}: {exception.Message})";
            log.WriteLine($"capsnet serve: {(logLevel >= LogLevel.Error ? "error" : "warning")}: {UntrustedText.Quote(message.ReplaceLineEndings(" "), 500)}");
            if (exception is not null && Environment.GetEnvironmentVariable("CAPSNET_DEBUG") == "1") log.WriteLine(exception);
            log.Flush();
        }
    }
}
