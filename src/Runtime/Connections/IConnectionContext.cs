using System.Net;

namespace ShardRuntime.Runtime.Connections;

/// <summary>
/// What a handler sees of its connection. Implemented by the runtime (ShardRuntime.Actors: the connection's state) and by test fakes.
/// Only valid to use from inside handler callbacks.
/// </summary>
public interface IConnectionContext
{
    /// <summary>Identifier of the connection, unique within the process.</summary>
    long ConnectionId { get; }

    /// <summary>Name of the listener that accepted the connection.</summary>
    string ListenerName { get; }

    /// <summary>Shard that accepted the connection.</summary>
    int ShardId { get; }

    /// <summary>
    /// The generation of the handler code serving this connection: 1 for the first load, one more for every reload
    /// of the listener's handler (0 where nobody counts generations, as in test fakes).
    /// </summary>
    int HandlerGeneration => 0;

    /// <summary>
    /// True once the node wants this connection to end: its handler generation was replaced by a reload, or the node
    /// handed its sockets to a successor process. A protocol that can say so ends the connection at its next natural
    /// boundary (HTTP: the next response carries <c>Connection: close</c>), so a busy client never races a close;
    /// otherwise the connection is closed gracefully at the drain deadline.
    /// </summary>
    bool IsDraining => false;

    /// <summary>The peer's address.</summary>
    EndPoint? RemoteEndPoint { get; }

    /// <summary>The local address the connection was accepted on.</summary>
    EndPoint? LocalEndPoint { get; }

    /// <summary>True once <see cref="Close"/> or <see cref="Abort"/> was called or the connection is gone.</summary>
    bool IsClosing { get; }

    /// <summary>
    /// Queues bytes to send. They are copied into pooled buffers and flushed after the current callback;
    /// while more than the configured limit is pending, the connection stops reading (backpressure).
    /// Writes after <see cref="Close"/> are ignored.
    /// </summary>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>
    /// Graceful close: flush queued writes, shut down the sending side, then wait (at most linger-timeout) for the peer's
    /// FIN before releasing the socket, so that bytes the peer still sends do not turn the close into a reset that could
    /// destroy the last reply in flight. Idempotent.
    /// </summary>
    void Close();

    /// <summary>
    /// Graceful close without waiting for the peer's FIN: flush queued writes, then release the socket (the kernel sends
    /// the FIN after them). For when the peer has said that it sends nothing more (HTTP <c>Connection: close</c>, HTTP/1.0
    /// without keep-alive), as nginx does: it saves the connection a round trip and a wake-up. Should the peer send
    /// anyway, the kernel answers with a reset. Idempotent; by default the same as <see cref="Close"/>.
    /// </summary>
    void CloseWithoutLinger() => Close();

    /// <summary>Hard close: drop queued writes and reset the connection. Idempotent.</summary>
    void Abort();

    /// <summary>
    /// An optional capability provided by the host of the connection (for example access to the actor system
    /// in ShardRuntime.Actors), or null when it offers none of that type.
    /// </summary>
    T? GetFeature<T>() where T : class;
}
