using System.Security.Authentication;
using System.Text;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Actors.Hosting;

/// <summary>
/// TLS for a listener declared from code (<see cref="ListenerOptions.Tls"/>): the listener's <c>tls</c> block in
/// reference.conf, whose comments say what each key does. TLS is on when <see cref="Certificate"/> and <see cref="Key"/>
/// are set; only the values set become HOCON (paths quoted, so any file name works), the rest come from
/// <c>listener-defaults.tls</c>. The files are read as the listener starts; one that cannot be read fails the start,
/// naming the key and the file.
/// </summary>
public sealed class ListenerTlsOptions
{
    /// <summary>The server's certificate file (PEM), optionally followed by its intermediate CAs (<c>tls.certificate</c>).</summary>
    public string? Certificate { get; set; }

    /// <summary>Its private key file (PEM: PKCS#8, PKCS#1 or SEC1; encrypted PKCS#8 with <see cref="KeyPasswordFile"/>) (<c>tls.key</c>).</summary>
    public string? Key { get; set; }

    /// <summary>A file whose first line is the password of an encrypted key (<c>tls.key-password-file</c>).</summary>
    public string? KeyPasswordFile { get; set; }

    /// <summary>Application protocols offered through ALPN, in order of preference, for example <c>["h2", "http/1.1"]</c> (<c>tls.alpn</c>).</summary>
    public IReadOnlyList<string>? Alpn { get; set; }

    /// <summary>Whether clients are asked for a certificate (<c>tls.client-certificates</c>); other than none needs <see cref="ClientCa"/>.</summary>
    public ClientCertificateMode? ClientCertificates { get; set; }

    /// <summary>The CA bundle file (PEM) client certificates must chain to (<c>tls.client-ca</c>).</summary>
    public string? ClientCa { get; set; }

    /// <summary>How long a handshake may take before its connection is closed (<c>tls.handshake-timeout</c>).</summary>
    public TimeSpan? HandshakeTimeout { get; set; }

    /// <summary>TLS versions accepted: <see cref="SslProtocols.Tls12"/> and/or <see cref="SslProtocols.Tls13"/> (<c>tls.protocols</c>; others are refused, naming the key).</summary>
    public SslProtocols? Protocols { get; set; }

    internal void AppendHocon(StringBuilder sb)
    {
        Hocon.Set(sb, TlsOptions.CertificateKey, Certificate);
        Hocon.Set(sb, TlsOptions.KeyKey, Key);
        Hocon.Set(sb, TlsOptions.KeyPasswordFileKey, KeyPasswordFile);
        Hocon.Set(sb, "alpn", Alpn);
        Hocon.Set(sb, "client-certificates", ClientCertificates?.ToString().ToLowerInvariant());
        Hocon.Set(sb, TlsOptions.ClientCaKey, ClientCa);
        Hocon.Set(sb, "handshake-timeout", HandshakeTimeout);
        Hocon.Set(sb, "protocols", Protocols is { } protocols ? ProtocolNames(protocols) : null);
    }

    /// <summary>The names <c>tls.protocols</c> takes; a version it does not take keeps its enum name, refused by the settings naming the key.</summary>
    private static List<string> ProtocolNames(SslProtocols protocols)
    {
        var names = new List<string>();
        foreach (var protocol in Enum.GetValues<SslProtocols>())
        {
            if (protocol == SslProtocols.None || !protocols.HasFlag(protocol)) continue;
            names.Add(protocol switch
            {
                SslProtocols.Tls12 => "tls1.2",
                SslProtocols.Tls13 => "tls1.3",
                _ => protocol.ToString(),
            });
        }
        return names;
    }
}
