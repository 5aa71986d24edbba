using System.IO.Pipelines;
using System.Net;

namespace ShardRuntime.Runtime.Connections;

/// <summary>
/// What an async handler (<see cref="IStreamConnectionHandler"/>) sees of its connection. Implemented by the runtime and
/// by test fakes. Unlike <see cref="IConnectionContext"/> it may be used from any thread while the handler runs.
/// </summary>
public interface IStreamConnection
{
    /// <summary>Identifier of the connection, unique within the process.</summary>
    long ConnectionId { get; }

    /// <summary>Name of the listener that accepted the connection.</summary>
    string ListenerName { get; }

    /// <summary>Shard that accepted the connection.</summary>
    int ShardId { get; }

    /// <summary>The generation of the handler code serving this connection (0 where nobody counts, as in test fakes).</summary>
    int HandlerGeneration { get; }

    /// <summary>The peer's address.</summary>
    EndPoint? RemoteEndPoint { get; }

    /// <summary>The local address the connection was accepted on.</summary>
    EndPoint? LocalEndPoint { get; }

    /// <summary>
    /// The connection's bytes (decrypted, behind TLS): read requests from <c>Input</c>, write replies to <c>Output</c>.
    /// Completing <c>Output</c> flushes it and ends writing; the runtime shuts the sending side down once the handler
    /// returns (as it does, after flushing, when the handler returns without completing it).
    /// </summary>
    IDuplexPipe Transport { get; }

    /// <summary>The same bytes as <see cref="Transport"/> as a <see cref="System.IO.Stream"/>. Use one or the other, not both.</summary>
    Stream Stream { get; }

    /// <summary>
    /// Cancelled once the node wants this connection to end (a reload replaced its handler generation, or the node
    /// hands its sockets to a successor): end at the next natural boundary, before the listener's drain deadline
    /// aborts the connection.
    /// </summary>
    CancellationToken Draining { get; }

    /// <summary>
    /// Cancelled when the connection is gone underneath the handler: the peer reset it, it was idle past the idle
    /// timeout, the drain deadline passed, or <see cref="Abort"/> was called.
    /// </summary>
    CancellationToken Aborted { get; }

    /// <summary>Hard close: drop what is not sent yet and reset the connection. Idempotent.</summary>
    void Abort();

    /// <summary>
    /// An optional capability provided by the host of the connection (for example the connection's actor in
    /// ShardRuntime.Actors, or TLS details), or null when it offers none of that type.
    /// </summary>
    T? GetFeature<T>() where T : class;
}
