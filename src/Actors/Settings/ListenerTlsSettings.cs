using System.Security.Authentication;
using Akka.Configuration;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Actors.Settings;

/// <summary>
/// Reads a listener's <c>tls</c> block (over <c>listener-defaults.tls</c>) into <see cref="TlsOptions"/>: TLS is on when
/// a certificate or a key is named. Everything that can be judged without reading a file is judged here, naming the
/// full key (a certificate without a key, client certificates without a client CA, an unknown TLS version, tls on a udp
/// listener); the files themselves are read off the coordinator's thread (<see cref="TlsMaterial.Load"/>).
/// </summary>
internal static class ListenerTlsSettings
{
    /// <summary>The key of the block in a listener.</summary>
    public const string Key = "tls";

    /// <summary>The longest ALPN protocol id (RFC 7301: 1 to 255 bytes).</summary>
    private const int MaxAlpnLength = 255;

    /// <summary>The listener's TLS options, or null when its block names no certificate and no key (TLS off).</summary>
    public static TlsOptions? Create(Config merged, string listenerPath, TransportProtocol protocol)
    {
        if (!merged.HasPath(Key)) return null;
        var path = listenerPath + "." + Key;
        var r = new ConfigReader(merged.GetConfig(Key), path);
        var certificate = r.GetString(TlsOptions.CertificateKey, allowEmpty: true).Trim();
        var key = r.GetString(TlsOptions.KeyKey, allowEmpty: true).Trim();
        if (certificate.Length == 0 && key.Length == 0) return null;
        if (certificate.Length == 0 || key.Length == 0)
        {
            var (missing, given) = certificate.Length == 0 ? (TlsOptions.CertificateKey, TlsOptions.KeyKey) : (TlsOptions.KeyKey, TlsOptions.CertificateKey);
            throw new ShardRuntimeConfigurationException(r.KeyOf(missing),
                $"is empty while {r.KeyOf(given)} is set: a TLS listener needs both its certificate and its private key (PEM files)");
        }
        if (protocol == TransportProtocol.Udp)
            throw new ShardRuntimeConfigurationException(r.KeyOf(TlsOptions.CertificateKey),
                "TLS is for tcp listeners only (this one has protocol = udp, and DTLS is not supported); remove its tls block " +
                "(or set tls.certificate = \"\" and tls.key = \"\" in it when listener-defaults sets them)");
        var clients = r.GetEnum<ClientCertificateMode>("client-certificates");
        var clientCa = PathOrNull(r.GetString(TlsOptions.ClientCaKey, allowEmpty: true));
        if (clients != ClientCertificateMode.None && clientCa is null)
            throw new ShardRuntimeConfigurationException(r.KeyOf(TlsOptions.ClientCaKey),
                $"is required when client-certificates = {clients.ToString().ToLowerInvariant()}: the CA bundle (PEM) that client certificates must be signed by");
        if (clients == ClientCertificateMode.None && clientCa is not null)
            throw new ShardRuntimeConfigurationException(r.KeyOf(TlsOptions.ClientCaKey),
                "is set while client-certificates = none, so no client would be asked for a certificate; set client-certificates = optional or required, or remove client-ca");
        return new TlsOptions(
            Certificate: Path.GetFullPath(certificate),
            Key: Path.GetFullPath(key),
            KeyPasswordFile: PathOrNull(r.GetString(TlsOptions.KeyPasswordFileKey, allowEmpty: true)),
            Alpn: ReadAlpn(r),
            ClientCertificates: clients,
            ClientCa: clientCa,
            HandshakeTimeout: r.GetDuration("handshake-timeout", TimeSpan.FromMilliseconds(1)),
            Protocols: ReadProtocols(r),
            FailureLogInterval: r.GetDuration("failure-log-interval", TimeSpan.FromMilliseconds(1)),
            FailureLogBurst: r.GetInt("failure-log-burst", 0, 10_000),
            ConfigPath: path);
    }

    private static string? PathOrNull(string value) => string.IsNullOrWhiteSpace(value) ? null : Path.GetFullPath(value.Trim());

    private static List<string> ReadAlpn(ConfigReader r)
    {
        var alpn = r.GetStringList("alpn").ToList();
        for (var i = 0; i < alpn.Count; i++)
        {
            var id = alpn[i];
            if (id.Length is 0 or > MaxAlpnLength || !id.All(c => c is > ' ' and < (char)127))
                throw new ShardRuntimeConfigurationException($"{r.KeyOf("alpn")}[{i}]",
                    $"'{id}' is not an ALPN protocol id (1 to {MaxAlpnLength} printable ASCII characters, such as h2 or http/1.1)");
            if (alpn.IndexOf(id) < i)
                throw new ShardRuntimeConfigurationException($"{r.KeyOf("alpn")}[{i}]", $"'{id}' is listed twice");
        }
        return alpn;
    }

    private static SslProtocols ReadProtocols(ConfigReader r)
    {
        var protocols = SslProtocols.None;
        var names = r.GetStringList("protocols");
        for (var i = 0; i < names.Count; i++)
        {
            protocols |= names[i].ToLowerInvariant().Replace("v", "", StringComparison.Ordinal) switch
            {
                "tls1.2" or "tls12" => SslProtocols.Tls12,
                "tls1.3" or "tls13" => SslProtocols.Tls13,
                _ => throw new ShardRuntimeConfigurationException($"{r.KeyOf("protocols")}[{i}]",
                    $"expected tls1.2 or tls1.3, got '{names[i]}' (older versions are not offered)"),
            };
        }
        if (protocols == SslProtocols.None)
            throw new ShardRuntimeConfigurationException(r.KeyOf("protocols"), "must name at least one of tls1.2, tls1.3");
        return protocols;
    }
}
