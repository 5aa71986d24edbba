namespace ShardRuntime.Runtime.Connections;

/// <summary>
/// A layer between a connection's socket and its handler on the async (stream) path: TLS is one. Chosen per listener
/// (null for plain TCP); the runtime calls <see cref="WrapAsync"/> once per connection, on the thread pool, before it
/// makes the handler, and serves the handler the stream it returns (a span handler through
/// <see cref="SpanHandlerAdapter"/>, so every handler works unchanged behind the layer).
/// <para>
/// The runtime owns the socket and the inner stream (disposing the inner stream closes nothing). After the
/// handler ended gracefully the runtime flushes the returned stream and disposes it (a layer that says goodbye on the
/// wire, as TLS's close_notify, does so in its stream's <c>DisposeAsync</c>), then shuts down the socket's sending side.
/// An exception from <see cref="WrapAsync"/> (a failed handshake) ends that connection only, without a handler.
/// Must be thread-safe: it serves every connection of its listener.
/// </para>
/// </summary>
public interface IConnectionStreamLayer
{
    /// <summary>
    /// Wraps the connection's raw byte stream (a handshake may happen here). <paramref name="cancellationToken"/> is
    /// cancelled when the connection is aborted (idle timeout, drain deadline, the peer went away).
    /// </summary>
    /// <param name="inner">The socket's bytes (reads and writes count as activity for the idle timeout).</param>
    /// <param name="connection">The connection the stream belongs to (for its features and endpoints; its
    /// <see cref="IStreamConnection.Transport"/> and <see cref="IStreamConnection.Stream"/> are not ready yet).</param>
    /// <param name="cancellationToken">Cancelled when the connection is aborted.</param>
    /// <returns>The stream the handler is served.</returns>
    ValueTask<Stream> WrapAsync(Stream inner, IStreamConnection connection, CancellationToken cancellationToken);
}
