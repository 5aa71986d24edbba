namespace ShardRuntime.Runtime.Tls;

/// <summary>Whether a TLS listener asks its clients for a certificate (<c>tls.client-certificates</c>).</summary>
public enum ClientCertificateMode
{
    /// <summary>No client certificate is asked for.</summary>
    None,

    /// <summary>A client certificate is asked for; a client without one is served, one with a certificate the client CA did not sign is refused.</summary>
    Optional,

    /// <summary>Only a client that presents a certificate signed by the client CA completes the handshake.</summary>
    Required,
}
