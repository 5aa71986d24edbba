using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>
/// A throw-away CA and the PEM files of node certificates it signs (ECDSA P-256, serverAuth and clientAuth), as
/// deploy/cluster/certs.sh makes them with openssl, written to a temp directory (keys mode 0600) that is deleted on dispose.
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _ca;

    public TestCertificates(string name = "test cluster CA")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("shardruntime-tls-").FullName;
        var request = new CertificateRequest($"CN={name}", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddYears(-1), DateTimeOffset.UtcNow.AddYears(1));
        TrustedCa = Path.Combine(Directory, "ca.pem");
        File.WriteAllText(TrustedCa, _ca.ExportCertificatePem());
    }

    public string Directory { get; }

    /// <summary>The CA's certificate (PEM): shard-runtime.cluster.tls.trusted-ca.</summary>
    public string TrustedCa { get; }

    /// <summary>A node's certificate and key files, valid from <paramref name="notBefore"/> to <paramref name="notAfter"/> (default: yesterday to in a month).</summary>
    public (string Certificate, string PrivateKey) Node(string name, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            new OidCollection { new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2") }, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using var certificate = request.Create(_ca, notBefore ?? DateTimeOffset.UtcNow.AddDays(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(30), serial);
        var certificatePath = Path.Combine(Directory, $"{name}.pem");
        var keyPath = Path.Combine(Directory, $"{name}-key.pem");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (certificatePath, keyPath);
    }

    /// <summary>The environment variables that give a node this CA and its own certificate.</summary>
    public Dictionary<string, string> EnvironmentFor(string name)
    {
        var (certificate, key) = Node(name);
        return new Dictionary<string, string>
        {
            ["SHARDRUNTIME_CLUSTER_TLS_CERTIFICATE"] = certificate,
            ["SHARDRUNTIME_CLUSTER_TLS_PRIVATE_KEY"] = key,
            ["SHARDRUNTIME_CLUSTER_TLS_TRUSTED_CA"] = TrustedCa,
        };
    }

    public void Dispose()
    {
        _ca.Dispose();
        _caKey.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
    }
}
