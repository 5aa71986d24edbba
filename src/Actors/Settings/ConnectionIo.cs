namespace ShardRuntime.Actors.Settings;

/// <summary>How a tcp listener serves a span-style handler (<c>io</c> in a listener's block).</summary>
public enum ConnectionIo
{
    /// <summary>On the I/O loops: the span callback runs where readiness is seen, with non-blocking system calls (the fast path).</summary>
    Loop,

    /// <summary>
    /// On the stream path: a task per connection on the thread pool, over a .NET socket and a pipe, the handler served
    /// through an adapter. What an async-style handler and a stream layer (TLS) always use.
    /// </summary>
    Stream,
}
