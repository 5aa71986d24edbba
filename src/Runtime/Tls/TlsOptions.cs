using System.Security.Authentication;

namespace ShardRuntime.Runtime.Tls;

/// <summary>
/// A TLS listener's settings (its <c>tls</c> block): the files of its material and how it shakes hands. The files are
/// only named here; <see cref="TlsMaterial.Load"/> reads them. Equal when every setting is (the ALPN list by its
/// items), so a reload that changes none of them keeps the listener and re-reads its files, and one that changes any
/// of them replaces the listener.
/// </summary>
/// <param name="Certificate">The server's certificate (PEM), optionally followed by the intermediate CAs of its chain.</param>
/// <param name="Key">Its private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC; PKCS#8 may be encrypted).</param>
/// <param name="KeyPasswordFile">A file whose first line is the password of an encrypted key, or null.</param>
/// <param name="Alpn">The application protocols offered through ALPN, in order of preference (empty: no ALPN).</param>
/// <param name="ClientCertificates">Whether clients are asked for a certificate.</param>
/// <param name="ClientCa">The CA bundle (PEM) that client certificates must chain to; null when <paramref name="ClientCertificates"/> is none.</param>
/// <param name="HandshakeTimeout">The longest a handshake may take before the connection is closed.</param>
/// <param name="Protocols">The TLS versions accepted (TLS 1.2, TLS 1.3 or both).</param>
/// <param name="FailureLogInterval">Handshake failures are logged at most <paramref name="FailureLogBurst"/> per this interval; the rest are summed up.</param>
/// <param name="FailureLogBurst">How many handshake failures per interval are logged one by one.</param>
/// <param name="ConfigPath">The full key of the block (<c>shard-runtime.listeners.web.tls</c>), for messages.</param>
public sealed record TlsOptions(
    string Certificate,
    string Key,
    string? KeyPasswordFile,
    IReadOnlyList<string> Alpn,
    ClientCertificateMode ClientCertificates,
    string? ClientCa,
    TimeSpan HandshakeTimeout,
    SslProtocols Protocols,
    TimeSpan FailureLogInterval,
    int FailureLogBurst,
    string ConfigPath)
{
    /// <summary>The key of the certificate file.</summary>
    public const string CertificateKey = "certificate";

    /// <summary>The key of the private key file.</summary>
    public const string KeyKey = "key";

    /// <summary>The key of the key's password file.</summary>
    public const string KeyPasswordFileKey = "key-password-file";

    /// <summary>The key of the client CA bundle.</summary>
    public const string ClientCaKey = "client-ca";

    /// <summary>The full key of a setting of the block, e.g. <c>shard-runtime.listeners.web.tls.key</c>.</summary>
    public string KeyOf(string key) => ConfigPath + "." + key;

    /// <inheritdoc />
    public bool Equals(TlsOptions? other) =>
        other is not null
        && Certificate == other.Certificate && Key == other.Key && KeyPasswordFile == other.KeyPasswordFile
        && Alpn.SequenceEqual(other.Alpn, StringComparer.Ordinal)
        && ClientCertificates == other.ClientCertificates && ClientCa == other.ClientCa
        && HandshakeTimeout == other.HandshakeTimeout && Protocols == other.Protocols
        && FailureLogInterval == other.FailureLogInterval && FailureLogBurst == other.FailureLogBurst
        && ConfigPath == other.ConfigPath;

    /// <inheritdoc />
    public override int GetHashCode() =>
        HashCode.Combine(Certificate, Key, ClientCertificates, HandshakeTimeout, Protocols, Alpn.Count);

    /// <summary>The settings as an operator reads them (in <c>reload</c>'s list of changes).</summary>
    public override string ToString()
    {
        var alpn = Alpn.Count == 0 ? "none" : string.Join(", ", Alpn);
        var clients = ClientCertificates == ClientCertificateMode.None
            ? "none"
            : $"{ClientCertificates.ToString().ToLowerInvariant()} (client-ca '{ClientCa}')";
        return $"certificate '{Certificate}', key '{Key}', alpn [{alpn}], client-certificates {clients}, " +
               $"handshake-timeout {HandshakeTimeout.TotalMilliseconds:0}ms, protocols {Protocols}";
    }
}
