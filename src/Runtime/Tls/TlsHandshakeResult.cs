using System.Net.Security;

namespace ShardRuntime.Runtime.Tls;

/// <summary>
/// The outcome of a server handshake (<see cref="TlsServer.HandshakeAsync"/>): the authenticated stream, or how it
/// failed. A failed handshake's SslStream is disposed already; the inner stream is the caller's either way.
/// </summary>
/// <param name="Stream">The authenticated stream (the connection's bytes from now on), or null when it failed.</param>
/// <param name="Failure">How it failed; <see cref="TlsHandshakeFailure.None"/> when it succeeded.</param>
/// <param name="Detail">What the TLS stack said about a failure (empty on success).</param>
/// <param name="Elapsed">How long the handshake took.</param>
/// <param name="Log">Whether the caller logs this failure, and how many failures before it were not logged (<see cref="TlsFailureLog"/>).</param>
public readonly record struct TlsHandshakeResult(SslStream? Stream, TlsHandshakeFailure Failure, string Detail, TimeSpan Elapsed, TlsFailureLogDecision Log)
{
    /// <summary>Whether the handshake succeeded (<see cref="Stream"/> is set).</summary>
    public bool Succeeded => Stream is not null;
}
