using System.Net.Sockets;

namespace ShardRuntime.Runtime.Connections;

/// <summary>
/// What an async handler can ask a plain TCP connection for (<c>GetFeature&lt;ISocketHandOffFeature&gt;()</c>; null
/// behind a stream layer such as TLS): the connection's socket itself, for a handler that drives its own socket I/O (as
/// ShardRuntime.AspNetCore hands it to Kestrel's socket transport).
/// </summary>
public interface ISocketHandOffFeature
{
    /// <summary>
    /// Hands the socket over: from now on the caller alone reads, writes, shuts down and closes it, and keeps its own
    /// idle timeout. The runtime still counts the connection until the handler returns, still cancels
    /// <see cref="IStreamConnection.Draining"/> when the node wants the connection to end, and still closes the socket
    /// (a reset) when it aborts the connection (the drain deadline). Only before the handler used
    /// <see cref="IStreamConnection.Transport"/> or <see cref="IStreamConnection.Stream"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The handler used the connection's pipe or stream already, or took the socket before.</exception>
    Socket TakeSocket();
}
