namespace ShardRuntime.Runtime.Tls;

/// <summary>A TLS listener's handshakes since it started (a snapshot of <see cref="TlsHandshakeCounters"/>), for status.</summary>
/// <param name="Succeeded">Handshakes that completed.</param>
/// <param name="Timeouts">Failures: handshake-timeout passed.</param>
/// <param name="PeerClosed">Failures: the client closed or reset the connection.</param>
/// <param name="Protocol">Failures: not TLS, or no version, cipher or ALPN protocol in common.</param>
/// <param name="ClientCertificateMissing">Failures: a required client certificate was not presented.</param>
/// <param name="ClientCertificateRejected">Failures: the client certificate was not signed by the client CA or not valid.</param>
/// <param name="Cancelled">Handshakes cut short by the node (the connection was aborted).</param>
/// <param name="Other">Failures of any other kind.</param>
public sealed record TlsHandshakeCounts(
    long Succeeded, long Timeouts, long PeerClosed, long Protocol, long ClientCertificateMissing, long ClientCertificateRejected, long Cancelled, long Other)
{
    /// <summary>Every handshake that did not complete, cancelled ones included.</summary>
    public long Failed => Timeouts + PeerClosed + Protocol + ClientCertificateMissing + ClientCertificateRejected + Cancelled + Other;
}
