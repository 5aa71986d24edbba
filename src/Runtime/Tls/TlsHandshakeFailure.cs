namespace ShardRuntime.Runtime.Tls;

/// <summary>How a server handshake ended (<see cref="TlsHandshakeResult.Failure"/>).</summary>
public enum TlsHandshakeFailure
{
    /// <summary>It succeeded.</summary>
    None,

    /// <summary>The client did not finish within the listener's handshake-timeout (it sent nothing, or too slowly).</summary>
    Timeout,

    /// <summary>The client closed or reset the connection during the handshake.</summary>
    PeerClosed,

    /// <summary>Not TLS, or no TLS version, cipher suite or ALPN protocol in common with the client.</summary>
    Protocol,

    /// <summary>Client certificates are required and the client presented none.</summary>
    ClientCertificateMissing,

    /// <summary>The client's certificate is not signed by the client CA, or not valid.</summary>
    ClientCertificateRejected,

    /// <summary>The connection was aborted by the node (its token was cancelled) during the handshake.</summary>
    Cancelled,

    /// <summary>Anything else (the detail says what).</summary>
    Other,
}
