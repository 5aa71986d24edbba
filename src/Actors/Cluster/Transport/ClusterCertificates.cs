using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Actors.Cluster.Transport;

/// <summary>
/// The cluster's TLS material, read from the three PEM files of <c>shard-runtime.cluster.tls</c> and checked as a
/// whole before the node starts: the node's certificate with its private key, in date, allowed for client and server
/// authentication, and signed by the trusted CA; the CA itself in date. <see cref="Refusal"/> judges a peer's
/// certificate against that CA alone (the system's trust store plays no part); <see cref="Validator"/> is the same
/// judgement as Akka.Remote's validation callback, logging every refused peer.
/// </summary>
public sealed class ClusterCertificates : IDisposable
{
    /// <summary>The most a certificate, key or CA file may hold (PEM files are a few KiB).</summary>
    public const long MaxFileBytes = 1024 * 1024;

    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    private readonly X509Certificate2Collection _intermediates;

    private ClusterCertificates(X509Certificate2 certificate, X509Certificate2Collection intermediates, X509Certificate2Collection authorities)
    {
        Certificate = certificate;
        _intermediates = intermediates;
        Authorities = authorities;
    }

    /// <summary>This node's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The trusted CA certificate(s).</summary>
    public X509Certificate2Collection Authorities { get; }

    /// <summary>
    /// Reads and checks the files. Throws <see cref="ShardRuntimeConfigurationException"/> naming the key and the file:
    /// missing, not a regular file, not PEM, a key that does not belong to the certificate, out of date, not allowed
    /// for client and server authentication, or not signed by the trusted CA.
    /// </summary>
    public static ClusterCertificates Load(ClusterTlsSettings tls, DateTime utcNow)
    {
        var certificatePem = Read(tls, ClusterTlsSettings.CertificateKey, tls.Certificate);
        var keyPem = Read(tls, ClusterTlsSettings.PrivateKeyKey, tls.PrivateKey);
        var caPem = Read(tls, ClusterTlsSettings.TrustedCaKey, tls.TrustedCa);

        var authorities = Certificates(tls, ClusterTlsSettings.TrustedCaKey, tls.TrustedCa, caPem);
        foreach (var ca in authorities)
            CheckDates(tls, ClusterTlsSettings.TrustedCaKey, tls.TrustedCa, ca, utcNow, "the CA certificate");
        var offered = Certificates(tls, ClusterTlsSettings.CertificateKey, tls.Certificate, certificatePem);
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(certificatePem, keyPem);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new ShardRuntimeConfigurationException(tls.KeyOf(ClusterTlsSettings.PrivateKeyKey),
                $"{tls.PrivateKey} is not the private key of the certificate in {tls.Certificate} (or not an unencrypted PEM key): {e.Message}");
        }
        CheckDates(tls, ClusterTlsSettings.CertificateKey, tls.Certificate, certificate, utcNow, "the certificate");
        if (certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault() is { } usage)
        {
            var usages = usage.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value).ToHashSet();
            if (!usages.Contains(ServerAuth) || !usages.Contains(ClientAuth))
                throw new ShardRuntimeConfigurationException(tls.KeyOf(ClusterTlsSettings.CertificateKey),
                    $"{tls.Certificate}: a cluster member both accepts and dials, so its certificate must allow server and client authentication (extendedKeyUsage = serverAuth, clientAuth)");
        }

        var intermediates = new X509Certificate2Collection();
        foreach (var extra in offered.Skip(1)) intermediates.Add(extra);
        var material = new ClusterCertificates(certificate, intermediates, authorities);
        if (material.Refusal(certificate, null, utcNow) is { } refusal)
            throw new ShardRuntimeConfigurationException(tls.KeyOf(ClusterTlsSettings.CertificateKey),
                $"{tls.Certificate} would be refused by the other members: {refusal} (the CA in {tls.TrustedCa})");
        return material;
    }

    /// <summary>
    /// Why a peer's certificate is refused, or null when it is signed (directly or through the intermediates it sent,
    /// <paramref name="offered"/>) by a trusted CA and in date. No revocation check (no network is assumed).
    /// </summary>
    public string? Refusal(X509Certificate2? peer, X509Chain? offered, DateTime? utcNow = null)
    {
        if (peer is null) return "it presented no certificate";
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(Authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ExtraStore.AddRange(_intermediates);
        if (offered is not null)
        {
            foreach (var element in offered.ChainElements.Skip(1)) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        if (utcNow is { } now) chain.ChainPolicy.VerificationTime = now.ToLocalTime();
        if (chain.Build(peer)) return null;
        var problems = chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct();
        return $"certificate '{peer.Subject}' (SHA-1 {peer.Thumbprint}) is not signed by a trusted CA or not valid: {string.Join("; ", problems)}";
    }

    /// <summary>Akka.Remote's validation callback (both directions): accepts only what <see cref="Refusal"/> accepts, and logs each refusal with the peer.</summary>
    public CertificateValidationCallback Validator() => (certificate, chain, remotePeer, _, log) =>
    {
        var refusal = Refusal(certificate, chain);
        if (refusal is not null)
            log.Warning("Refused cluster peer {0}: {1}", remotePeer, refusal);
        return refusal is null;
    };

    /// <summary>Disposes the certificates (and their private keys) held.</summary>
    public void Dispose()
    {
        Certificate.Dispose();
        foreach (var c in _intermediates) c.Dispose();
        foreach (var c in Authorities) c.Dispose();
    }

    private static string Read(ClusterTlsSettings tls, string key, string path)
    {
        try
        {
            return Encoding.UTF8.GetString(RegularFile.Read(path, MaxFileBytes, kind: "a certificate or key file"));
        }
        catch (IOException e)
        {
            throw new ShardRuntimeConfigurationException(tls.KeyOf(key), e.Message);
        }
    }

    private static X509Certificate2Collection Certificates(ClusterTlsSettings tls, string key, string path, string pem)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new ShardRuntimeConfigurationException(tls.KeyOf(key), $"{path} holds a certificate that cannot be read: {e.Message}");
        }
        if (certificates.Count == 0)
            throw new ShardRuntimeConfigurationException(tls.KeyOf(key), $"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        return certificates;
    }

    private static void CheckDates(ClusterTlsSettings tls, string key, string path, X509Certificate2 certificate, DateTime utcNow, string what)
    {
        if (certificate.NotAfter.ToUniversalTime() < utcNow)
            throw new ShardRuntimeConfigurationException(tls.KeyOf(key),
                $"{path}: {what} '{certificate.Subject}' expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC");
        if (certificate.NotBefore.ToUniversalTime() > utcNow)
            throw new ShardRuntimeConfigurationException(tls.KeyOf(key),
                $"{path}: {what} '{certificate.Subject}' is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC");
    }
}
