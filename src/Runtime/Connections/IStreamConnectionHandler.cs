namespace ShardRuntime.Runtime.Connections;

/// <summary>
/// The async handler style: for protocol code that awaits (a database, another service). The connection is a duplex
/// pipe (<see cref="IStreamConnection.Transport"/>, or the same bytes as a <see cref="IStreamConnection.Stream"/>) and
/// <see cref="RunAsync"/> runs on the thread pool, off the I/O loops, for the connection's whole life.
/// <para>
/// The span callback (<see cref="IConnectionHandler"/>) stays the fast path: it runs on the I/O loop without a task, an
/// allocation or a copy per read. Pick this style when a request must await something; pick the span style when a reply
/// can be computed from the bytes at hand.
/// </para>
/// The runtime gives this style the guarantees of the span one: backpressure (a slow reader's writes wait on
/// <c>FlushAsync</c>), the listener's idle and drain deadlines, handler generations (a reload or an upgrade cancels
/// <see cref="IStreamConnection.Draining"/>), and exceptions contained (one that escapes closes only its own connection).
/// </summary>
public interface IStreamConnectionHandler
{
    /// <summary>
    /// Serves the connection. Returning ends it gracefully: what was written is flushed, then the connection is closed.
    /// An exception that escapes aborts this connection only (it is logged and counted).
    /// </summary>
    Task RunAsync(IStreamConnection connection);
}

/// <summary>
/// Creates one <see cref="IStreamConnectionHandler"/> per accepted connection (as <see cref="IConnectionHandlerFactory"/>
/// does for the span style). Must be thread-safe.
/// </summary>
public interface IStreamConnectionHandlerFactory
{
    /// <summary>The name the handler is known by in configuration and in <c>status</c>.</summary>
    string Name { get; }

    /// <summary>Creates the handler of a new connection.</summary>
    IStreamConnectionHandler Create(IStreamConnection connection);
}
