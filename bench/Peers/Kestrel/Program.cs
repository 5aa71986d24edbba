using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// The Kestrel peer of bench/peers.sh and bench/tls.sh: `peers-kestrel PORT` serves 127.0.0.1:PORT; GET / answers 200
// "OK", GET /64k a 64 KiB body. Kestrel's defaults otherwise, but for a keep-alive timeout of 300 s (idle connections
// outlive a measurement).
// `peers-kestrel PORT --https CERT.pem KEY.pem` (bench/tls.sh) serves the same over TLS with that certificate and key:
// HTTP/1.1 only (as nginx there), TLS 1.3 and 1.2, the cipher preference of bench/tls/nginx.conf.template, and no
// session resumption (as nginx there: wrk offers the previous session on every reconnect, so a server that resumed
// would be measured on abbreviated handshakes).
const string Usage = "usage: peers-kestrel PORT [--https CERT.pem KEY.pem]";
if (args.Length is not (1 or 4)
    || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535
    || (args.Length == 4 && args[1] != "--https"))
{
    Console.Error.WriteLine(Usage);
    return 2;
}

X509Certificate2? certificate = null;
if (args.Length == 4)
{
    try
    {
        certificate = X509Certificate2.CreateFromPemFile(args[2], args[3]);
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
    {
        Console.Error.WriteLine($"peers-kestrel: cannot load the certificate {args[2]} with the key {args[3]}: {e.Message}");
        return 2;
    }
}

var body64KiB = new byte[64 * 1024];
Array.Fill(body64KiB, (byte)'x');

var builder = WebApplication.CreateBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(300);
    if (certificate is null)
    {
        kestrel.Listen(IPAddress.Loopback, port);
        return;
    }

    kestrel.Listen(IPAddress.Loopback, port, listen =>
    {
        listen.Protocols = HttpProtocols.Http1;
        listen.UseHttps(https =>
        {
            https.ServerCertificate = certificate;
            https.SslProtocols = SslProtocols.Tls13 | SslProtocols.Tls12;
            https.OnAuthenticate = (_, ssl) =>
            {
                ssl.CipherSuitesPolicy = TlsPeer.CipherPreference;
                // AllowTlsResume stays at its default (true): with false, .NET makes a new OpenSSL SSL_CTX for every
                // handshake instead of reusing a cached one, which costs more CPU than resumption could save here.
                // bench/tls.sh keeps wrk from offering sessions, so every handshake is a full one either way.
            };
        });
    });
});

var app = builder.Build();
app.MapGet("/", () => "OK");
app.MapGet("/64k", () => Results.Bytes(body64KiB, "application/octet-stream"));
await app.RunAsync();
return 0;

/// <summary>The TLS settings bench/tls.sh gives every peer that lets it choose them.</summary>
internal static class TlsPeer
{
    /// <summary>
    /// The cipher preference of bench/tls/nginx.conf.template (its ssl_conf_command Ciphersuites and ssl_ciphers), in
    /// the same order: TLS 1.3 suites, then TLS 1.2 ECDHE-ECDSA suites (the certificate is ECDSA P-256).
    /// </summary>
    public static readonly CipherSuitesPolicy CipherPreference = new(
    [
        TlsCipherSuite.TLS_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ]);
}
