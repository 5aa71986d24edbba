using System.Net;

namespace ShardRuntime.Runtime.Datagrams;

/// <summary>
/// What a datagram handler sees of its socket. Implemented by the runtime (ShardRuntime.Actors: the UDP shard) and by
/// test drivers. Only valid to use from inside handler callbacks.
/// </summary>
public interface IDatagramContext
{
    /// <summary>Name of the listener the socket belongs to.</summary>
    string ListenerName { get; }

    /// <summary>Shard (socket) of the listener the handler serves.</summary>
    int ShardId { get; }

    /// <summary>
    /// The generation of the handler code serving this socket: 1 for the first load, one more for every reload of the
    /// listener's handler (0 where nobody counts generations, as in test drivers).
    /// </summary>
    int HandlerGeneration => 0;

    /// <summary>The local address the socket is bound to.</summary>
    EndPoint? LocalEndPoint { get; }

    /// <summary>
    /// Queues <paramref name="datagram"/> as one datagram to the peer of the datagram being handled (the
    /// <c>peer</c> of <see cref="IDatagramHandler.OnDatagram"/>), from the same socket. The bytes are copied into the
    /// runtime's send buffers and sent in a batch after the call; the span may be reused at once. UDP is best effort:
    /// a datagram the kernel refuses (buffer full, peer unreachable) is counted and dropped, never retried.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called outside <see cref="IDatagramHandler.OnDatagram"/> (there is no peer).</exception>
    void Reply(ReadOnlySpan<byte> datagram);

    /// <summary>
    /// Queues <paramref name="datagram"/> as one datagram to <paramref name="peer"/>, from the same socket, as
    /// <see cref="Reply"/> does. <paramref name="peer"/> is copied; it must be of the socket's address family.
    /// </summary>
    void SendTo(SocketAddress peer, ReadOnlySpan<byte> datagram);

    /// <summary>
    /// <see cref="SendTo(SocketAddress, ReadOnlySpan{byte})"/> for an endpoint (serialising it allocates: prefer the
    /// <see cref="SocketAddress"/> overload on a hot path).
    /// </summary>
    void SendTo(EndPoint peer, ReadOnlySpan<byte> datagram)
    {
        ArgumentNullException.ThrowIfNull(peer);
        SendTo(peer.Serialize(), datagram);
    }

    /// <summary>
    /// An optional capability provided by the host of the socket (for example access to the actor system in
    /// ShardRuntime.Actors), or null when it offers none of that type.
    /// </summary>
    T? GetFeature<T>() where T : class;
}
