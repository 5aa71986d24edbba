namespace ShardRuntime.Runtime.Connections;

/// <summary>Why a connection ended, as reported to <see cref="IConnectionHandler.OnClosed"/> and in logs.</summary>
public enum ConnectionCloseReason
{
    /// <summary>The handler (or the peer's half-close followed by the handler) closed it gracefully.</summary>
    Closed,
    /// <summary>The peer closed or reset the connection.</summary>
    PeerClosed,
    /// <summary>No bytes moved in either direction for the configured idle timeout.</summary>
    IdleTimeout,
    /// <summary>The handler threw; the connection was aborted.</summary>
    HandlerFailed,
    /// <summary>The handler left more unconsumed bytes than the configured receive limit.</summary>
    ReceiveLimitExceeded,
    /// <summary>The listener drained and its drain deadline passed.</summary>
    DrainDeadline,
    /// <summary>A socket error other than a peer reset.</summary>
    SocketError,
    /// <summary>The handler or the runtime aborted the connection.</summary>
    Aborted,
    /// <summary>An incomplete request (bytes the handler left unconsumed) was not completed within the request-head timeout.</summary>
    RequestTimeout,
}
