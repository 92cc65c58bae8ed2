namespace CapsEmbedded.Serve;

/// <summary>
/// A value loaded on first use and then kept, whose failed load is tried again, at most once per
/// <c>interval</c> (in between, callers get the last failure at no cost): test digits fetched after the server started
/// appear without a restart, and a client cannot make every request scan the disk. Thread-safe; one load at a time.
/// </summary>
internal sealed class RetryingLoad<T>(Func<T> load, TimeSpan interval, TimeProvider time) where T : class
{
    private readonly object _lock = new();
    private T? _value;
    private Exception? _failure;
    private DateTimeOffset _failedAt;

    public T Get()
    {
        if (Volatile.Read(ref _value) is { } loaded) return loaded;
        lock (_lock)
        {
            if (_value is not null) return _value;
            if (_failure is not null && time.GetUtcNow() - _failedAt < interval)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_failure);
            try
            {
                Volatile.Write(ref _value, load());
                _failure = null;
                return _value!;
            }
            catch (Exception e)
            {
                _failure = e;
                _failedAt = time.GetUtcNow();
                throw;
            }
        }
    }
}
