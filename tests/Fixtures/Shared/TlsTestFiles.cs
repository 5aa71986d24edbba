using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Tests.Shared;

/// <summary>
/// Throw-away certificates for the TLS tests, made with <see cref="CertificateRequest"/> and written as PEM files into a
/// temp directory (deleted on dispose): a server CA and the leaf certificates it signs (localhost, 127.0.0.1), a client
/// CA and the client certificates it signs, and a foreign CA whose client certificates must be refused.
/// </summary>
internal sealed class TlsTestFiles : IDisposable
{
    private readonly Authority _serverCa;
    private readonly Authority _clientCa;
    private readonly Authority _foreignCa;

    public TlsTestFiles()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("sr-tls-").FullName;
        _serverCa = new Authority("test server CA");
        _clientCa = new Authority("test client CA");
        _foreignCa = new Authority("foreign client CA");
        ServerCa = Write("server-ca.pem", _serverCa.Certificate.ExportCertificatePem());
        ClientCa = Write("client-ca.pem", _clientCa.Certificate.ExportCertificatePem());
    }

    public string Directory { get; }

    /// <summary>The server CA's certificate (PEM): what a client trusts.</summary>
    public string ServerCa { get; }

    /// <summary>The client CA's certificate (PEM): a listener's tls.client-ca.</summary>
    public string ClientCa { get; }

    /// <summary>The server CA, for clients that check the server's chain.</summary>
    public X509Certificate2 ServerCaCertificate => _serverCa.Certificate;

    /// <summary>Whether <paramref name="certificate"/> (a server's, as a client's validation callback gets it) chains to the server CA alone.</summary>
    public bool IsSignedByServerCa(X509Certificate? certificate)
    {
        if (certificate is null) return false;
        using var leaf = new X509Certificate2(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_serverCa.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    /// <summary>
    /// A server certificate for localhost signed by the server CA, its file followed by the CA (a chain), and its key:
    /// PKCS#8 unless <paramref name="keyFormat"/> says "pkcs1"/"sec1" (traditional) or "encrypted" (PKCS#8, password "secret").
    /// </summary>
    public (string Certificate, string Key) Server(string name, bool rsa = false, string keyFormat = "pkcs8",
        DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = rsa
            ? new CertificateRequest($"CN={name}", (RSA)key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest($"CN={name}", (ECDsa)key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = _serverCa.Sign(request, "1.3.6.1.5.5.7.3.1", notBefore, notAfter);
        var keyPem = keyFormat switch
        {
            "pkcs1" => ((RSA)key).ExportRSAPrivateKeyPem(),
            "sec1" => ((ECDsa)key).ExportECPrivateKeyPem(),
            "encrypted" => key.ExportEncryptedPkcs8PrivateKeyPem("secret",
                new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10_000)),
            _ => key.ExportPkcs8PrivateKeyPem(),
        };
        return (Write($"{name}.pem", certificate.ExportCertificatePem() + "\n" + _serverCa.Certificate.ExportCertificatePem()),
            Write($"{name}-key.pem", keyPem));
    }

    /// <summary>
    /// A client certificate (with its private key, for SslStream) signed by the client CA, or by the foreign CA;
    /// <paramref name="issuerUrl"/>: an authority-information-access extension naming where its issuer can be fetched.
    /// </summary>
    public X509Certificate2 Client(string name, bool foreign = false, string? issuerUrl = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        if (issuerUrl is not null) request.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension(null, [issuerUrl]));
        using var certificate = (foreign ? _foreignCa : _clientCa).Sign(request, "1.3.6.1.5.5.7.3.2", null, null);
        using var withKey = certificate.CopyWithPrivateKey(key);
        // Through PKCS#12, so that the key is usable by the TLS stack on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>The options of a listener named "web" serving <paramref name="files"/>, as its tls block would give them.</summary>
    public static TlsOptions Options((string Certificate, string Key) files, string[]? alpn = null,
        ClientCertificateMode clients = ClientCertificateMode.None, string? clientCa = null, TimeSpan? handshakeTimeout = null,
        SslProtocols protocols = SslProtocols.Tls12 | SslProtocols.Tls13, string? keyPasswordFile = null) =>
        new(files.Certificate, files.Key, keyPasswordFile, alpn ?? [], clients, clientCa, handshakeTimeout ?? TimeSpan.FromSeconds(10),
            protocols, TimeSpan.FromSeconds(10), 5, "shard-runtime.listeners.web.tls");

    public string Write(string name, string text)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        _serverCa.Dispose();
        _clientCa.Dispose();
        _foreignCa.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
    }

    private sealed class Authority : IDisposable
    {
        private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        public Authority(string name)
        {
            var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddYears(1));
        }

        public X509Certificate2 Certificate { get; }

        public X509Certificate2 Sign(CertificateRequest request, string usage, DateTimeOffset? notBefore, DateTimeOffset? notAfter)
        {
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new Oid(usage) }, false));
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
            var serial = RandomNumberGenerator.GetBytes(12);
            serial[0] &= 0x7F;
            // The generator overload signs a leaf of any key type (an RSA leaf under this EC CA).
            return request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(_key),
                notBefore ?? DateTimeOffset.UtcNow.AddDays(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(30), serial);
        }

        public void Dispose()
        {
            Certificate.Dispose();
            _key.Dispose();
        }
    }
}
