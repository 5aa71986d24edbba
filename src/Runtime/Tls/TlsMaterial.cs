using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Runtime.Tls;

/// <summary>
/// A TLS listener's material, read from the files its <see cref="TlsOptions"/> name and checked as a whole: the
/// certificate with its private key and chain (as an <see cref="SslStreamCertificateContext"/>, built once so that each
/// handshake sends the chain without building it), the client CA, and the <see cref="SslServerAuthenticationOptions"/>
/// every handshake starts from. Immutable once loaded: a reload loads new material and swaps it in
/// (<see cref="TlsServer.Swap"/>); connections that shook hands with this material keep it.
/// </summary>
public sealed class TlsMaterial
{
    /// <summary>The most a certificate, key, password or CA file may hold (PEM files are a few KiB).</summary>
    public const long MaxFileBytes = 1024 * 1024;

    private readonly SslServerAuthenticationOptions _options;

    private TlsMaterial(TlsOptions options, X509Certificate2 certificate, SslStreamCertificateContext context,
        X509Certificate2Collection? clientAuthorities, IReadOnlyList<string> warnings, DateTime loadedAt)
    {
        Options = options;
        Certificate = certificate;
        CertificateContext = context;
        ClientAuthorities = clientAuthorities;
        Warnings = warnings;
        LoadedAt = loadedAt;
        _options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = context,
            ApplicationProtocols = options.Alpn.Count == 0 ? null : options.Alpn.Select(p => new SslApplicationProtocol(p)).ToList(),
            EnabledSslProtocols = options.Protocols,
            ClientCertificateRequired = options.ClientCertificates != ClientCertificateMode.None,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            AllowRenegotiation = false,
        };
        if (clientAuthorities is not null)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                // Never fetch a missing issuer from the URL a client certificate names: the client would choose where
                // the node connects, and hold the handshake (and a thread) for the download's timeout. The chain is
                // what the client sent, checked against client-ca, and nothing else.
                DisableCertificateDownloads = true,
            };
            policy.CustomTrustStore.AddRange(clientAuthorities);
            _options.CertificateChainPolicy = policy;
        }
    }

    /// <summary>The settings the material was loaded from.</summary>
    public TlsOptions Options { get; }

    /// <summary>The server's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The certificate with its chain (the intermediates of the certificate file), as SslStream sends it.</summary>
    public SslStreamCertificateContext CertificateContext { get; }

    /// <summary>The CA certificates client certificates must chain to, or null when no client certificate is asked for.</summary>
    public X509Certificate2Collection? ClientAuthorities { get; }

    /// <summary>What serves but deserves the operator's eye (an expired certificate), each naming the key and the file.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>When the files were read (UTC).</summary>
    public DateTime LoadedAt { get; }

    /// <summary>
    /// Reads and checks the files <paramref name="options"/> name. Blocking: call it off any actor's thread (the files
    /// are an operator's, see <see cref="RegularFile"/>). A certificate out of date is a <see cref="Warnings"/> entry,
    /// not a refusal (the operator may be about to replace it; clients will refuse it meanwhile).
    /// </summary>
    /// <exception cref="TlsMaterialException">A file cannot serve; the exception names the full key and the file.</exception>
    public static TlsMaterial Load(TlsOptions options, DateTime utcNow)
    {
        var warnings = new List<string>();
        var certificatePem = ReadText(options, TlsOptions.CertificateKey, options.Certificate);
        var keyPem = ReadText(options, TlsOptions.KeyKey, options.Key);
        var chain = Certificates(options, TlsOptions.CertificateKey, options.Certificate, certificatePem);
        var certificate = WithKey(options, certificatePem, keyPem);
        if (DateWarning(options, TlsOptions.CertificateKey, options.Certificate, certificate, utcNow, "the certificate") is { } late)
            warnings.Add(late);

        X509Certificate2Collection? authorities = null;
        if (options.ClientCertificates != ClientCertificateMode.None)
        {
            var caPath = options.ClientCa ?? throw new TlsMaterialException(options.KeyOf(TlsOptions.ClientCaKey),
                "is required when client-certificates is optional or required");
            authorities = Certificates(options, TlsOptions.ClientCaKey, caPath, ReadText(options, TlsOptions.ClientCaKey, caPath));
            foreach (var ca in authorities)
            {
                if (DateWarning(options, TlsOptions.ClientCaKey, caPath, ca, utcNow, "the client CA") is { } caLate)
                    warnings.Add(caLate);
            }
        }

        var intermediates = new X509Certificate2Collection();
        foreach (var extra in chain.Skip(1)) intermediates.Add(extra);
        var trust = authorities is null ? null : SslCertificateTrust.CreateForX509Collection(authorities, sendTrustInHandshake: true);
        var context = SslStreamCertificateContext.Create(certificate, intermediates, offline: true, trust);
        return new TlsMaterial(options, certificate, context, authorities, warnings, utcNow);
    }

    /// <summary>The options a handshake starts from, shared by every handshake that needs no callback of its own.</summary>
    internal SslServerAuthenticationOptions SharedOptions => _options;

    /// <summary>A copy of the shared options with <paramref name="validation"/> judging the client's certificate.</summary>
    internal SslServerAuthenticationOptions OptionsWith(RemoteCertificateValidationCallback validation) => new()
    {
        ServerCertificateContext = _options.ServerCertificateContext,
        ApplicationProtocols = _options.ApplicationProtocols,
        EnabledSslProtocols = _options.EnabledSslProtocols,
        ClientCertificateRequired = _options.ClientCertificateRequired,
        CertificateRevocationCheckMode = _options.CertificateRevocationCheckMode,
        AllowRenegotiation = _options.AllowRenegotiation,
        CertificateChainPolicy = _options.CertificateChainPolicy,
        RemoteCertificateValidationCallback = validation,
    };

    private static string ReadText(TlsOptions options, string key, string path)
    {
        try
        {
            return Encoding.UTF8.GetString(RegularFile.Read(path, MaxFileBytes, kind: "a certificate or key file"));
        }
        catch (IOException e)
        {
            throw new TlsMaterialException(options.KeyOf(key), e.Message, e);
        }
    }

    private static X509Certificate2Collection Certificates(TlsOptions options, string key, string path, string pem)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new TlsMaterialException(options.KeyOf(key), $"'{path}' holds a certificate that cannot be read: {e.Message}", e);
        }
        if (certificates.Count == 0)
            throw new TlsMaterialException(options.KeyOf(key), $"'{path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        return certificates;
    }

    /// <summary>The certificate (the first of its file) with its private key, decrypted when it is encrypted.</summary>
    private static X509Certificate2 WithKey(TlsOptions options, string certificatePem, string keyPem)
    {
        var keyKey = options.KeyOf(TlsOptions.KeyKey);
        var label = KeyLabel(keyPem) ?? throw new TlsMaterialException(keyKey,
            $"'{options.Key}' holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY, EC PRIVATE KEY or ENCRYPTED PRIVATE KEY)");
        if (keyPem.Contains("Proc-Type: 4,ENCRYPTED", StringComparison.Ordinal))
            throw new TlsMaterialException(keyKey,
                $"'{options.Key}' is encrypted in OpenSSL's legacy format, which .NET cannot read; convert it to encrypted PKCS#8 " +
                $"(openssl pkcs8 -topk8 -in '{options.Key}' -out key.pem) and name its password file in {options.KeyOf(TlsOptions.KeyPasswordFileKey)}");
        try
        {
            if (label != "ENCRYPTED PRIVATE KEY")
                return X509Certificate2.CreateFromPem(certificatePem, keyPem);
            if (options.KeyPasswordFile is null)
                throw new TlsMaterialException(keyKey,
                    $"'{options.Key}' is encrypted; name a file holding its password in {options.KeyOf(TlsOptions.KeyPasswordFileKey)}, or decrypt the key");
            var password = ReadText(options, TlsOptions.KeyPasswordFileKey, options.KeyPasswordFile).Split('\n')[0].TrimEnd('\r');
            return X509Certificate2.CreateFromEncryptedPem(certificatePem, keyPem, password);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            var why = label == "ENCRYPTED PRIVATE KEY"
                ? $"'{options.Key}' cannot be decrypted with the password in '{options.KeyPasswordFile}', or is not the private key of the certificate in '{options.Certificate}'"
                : $"'{options.Key}' is not the private key of the certificate in '{options.Certificate}'";
            throw new TlsMaterialException(keyKey, $"{why}: {e.Message}", e);
        }
    }

    /// <summary>The label of the first private key in <paramref name="pem"/>, or null when it holds none.</summary>
    private static string? KeyLabel(string pem)
    {
        var rest = pem.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            var label = rest[fields.Label].ToString();
            if (label is "PRIVATE KEY" or "RSA PRIVATE KEY" or "EC PRIVATE KEY" or "ENCRYPTED PRIVATE KEY") return label;
            rest = rest[fields.Location.End..];
        }
        // A legacy encrypted key has headers (Proc-Type, DEK-Info) that PemEncoding does not accept.
        return pem.Contains("-----BEGIN RSA PRIVATE KEY-----", StringComparison.Ordinal) ? "RSA PRIVATE KEY"
            : pem.Contains("-----BEGIN EC PRIVATE KEY-----", StringComparison.Ordinal) ? "EC PRIVATE KEY"
            : null;
    }

    private static string? DateWarning(TlsOptions options, string key, string path, X509Certificate2 certificate, DateTime utcNow, string what)
    {
        if (certificate.NotAfter.ToUniversalTime() < utcNow)
            return $"{options.KeyOf(key)}: '{path}': {what} '{certificate.Subject}' expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC; clients will refuse it";
        if (certificate.NotBefore.ToUniversalTime() > utcNow)
            return $"{options.KeyOf(key)}: '{path}': {what} '{certificate.Subject}' is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC; clients will refuse it until then";
        return null;
    }
}
