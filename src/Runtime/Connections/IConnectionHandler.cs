namespace ShardRuntime.Runtime.Connections;

/// <summary>
/// A per-connection protocol object, made once per accepted socket and driven by the connection's owner (in
/// ShardRuntime.Actors its shard for the first turn, then its connection actor): calls never overlap and each
/// happens-after the one before, so a handler needs no locking.
/// Any exception a handler throws closes its own connection (and only that one).
/// </summary>
public interface IConnectionHandler
{
    /// <summary>Called once, after accept and before any data.</summary>
    void OnConnected(IConnectionContext context) { }

    /// <summary>
    /// Called with every received byte the handler has not consumed yet. Returns how many bytes it consumed
    /// from the start of <paramref name="data"/>; the rest is presented again, followed by newly received
    /// bytes, on the next call (so a handler can wait for a complete frame without copying it).
    /// <paramref name="data"/> lives in a pooled buffer and is only valid during the call.
    /// Replies written through <see cref="IConnectionContext.Write"/> are flushed together after the call.
    /// </summary>
    int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data);

    /// <summary>
    /// The peer shut down its sending side (half-close). <paramref name="unconsumed"/> is the number of bytes
    /// that were received but never consumed. The handler may still write; the default closes gracefully.
    /// </summary>
    void OnInputEnded(IConnectionContext context, int unconsumed) => context.Close();

    /// <summary>
    /// The bytes left unconsumed (<paramref name="unconsumed"/> of them: a request not complete yet) did not make a
    /// complete request within the listener's request-head timeout. The handler may write a last reply (HTTP: 408); the
    /// connection is closed after the call whatever the handler does. The default writes nothing.
    /// </summary>
    void OnRequestTimedOut(IConnectionContext context, int unconsumed) { }

    /// <summary>A message sent to the connection by another part of the program (for example another actor).</summary>
    void OnMessage(IConnectionContext context, object message) { }

    /// <summary>Called exactly once when the connection is gone, whatever the reason. No more writes are possible.</summary>
    void OnClosed(IConnectionContext context, ConnectionCloseReason reason) { }
}
