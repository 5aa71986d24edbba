using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace ShardRuntime.Runtime.Tls;

/// <summary>
/// What a handler on a TLS listener can ask its connection for (<c>GetFeature&lt;ITlsConnectionFeature&gt;()</c>, on
/// either handler style): the outcome of the connection's handshake. Null on a connection without TLS.
/// </summary>
public interface ITlsConnectionFeature
{
    /// <summary>The application protocol ALPN chose (empty when the client offered none or the listener has no alpn list).</summary>
    SslApplicationProtocol ApplicationProtocol { get; }

    /// <summary>The TLS version negotiated.</summary>
    SslProtocols Protocol { get; }

    /// <summary>The cipher suite negotiated.</summary>
    TlsCipherSuite CipherSuite { get; }

    /// <summary>The client's certificate, when it sent one (and client-ca signed it); null otherwise.</summary>
    X509Certificate2? ClientCertificate { get; }

    /// <summary>The server name the client asked for (SNI), or empty.</summary>
    string ServerName { get; }
}

/// <summary>An authenticated <see cref="SslStream"/> seen as an <see cref="ITlsConnectionFeature"/>.</summary>
public sealed class SslStreamTlsFeature(SslStream stream) : ITlsConnectionFeature
{
    /// <inheritdoc />
    public SslApplicationProtocol ApplicationProtocol => stream.NegotiatedApplicationProtocol;

    /// <inheritdoc />
    public SslProtocols Protocol => stream.SslProtocol;

    /// <inheritdoc />
    public TlsCipherSuite CipherSuite => stream.NegotiatedCipherSuite;

    /// <inheritdoc />
    public X509Certificate2? ClientCertificate => stream.RemoteCertificate as X509Certificate2;

    /// <inheritdoc />
    public string ServerName => stream.TargetHostName;
}
