using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Runtime.Tests.Tls;

/// <summary>What <see cref="TlsMaterial.Load"/> accepts (key formats, chains, encrypted keys) and every refusal, each naming the full key and the file.</summary>
public sealed class TlsMaterialTests : IDisposable
{
    private readonly TlsTestFiles _files = new();

    private TlsMaterialException Refused(TlsOptions options) =>
        Assert.Throws<TlsMaterialException>(() => TlsMaterial.Load(options, DateTime.UtcNow));

    [Theory]
    [InlineData(false, "pkcs8")]
    [InlineData(false, "sec1")]
    [InlineData(true, "pkcs8")]
    [InlineData(true, "pkcs1")]
    public void A_key_in_each_unencrypted_format_must_load_with_its_certificate_and_chain(bool rsa, string format)
    {
        var material = TlsMaterial.Load(TlsTestFiles.Options(_files.Server("web", rsa, format)), DateTime.UtcNow);

        Assert.True(material.Certificate.HasPrivateKey);
        Assert.Equal("CN=web", material.Certificate.Subject);
        Assert.Empty(material.Warnings);
        Assert.Null(material.ClientAuthorities);
    }

    [Fact]
    public void An_encrypted_key_must_load_with_its_password_file_and_be_refused_without_one()
    {
        var files = _files.Server("web", keyFormat: "encrypted");
        var password = _files.Write("password", "secret\n");

        Assert.True(TlsMaterial.Load(TlsTestFiles.Options(files, keyPasswordFile: password), DateTime.UtcNow).Certificate.HasPrivateKey);

        var without = Refused(TlsTestFiles.Options(files));
        Assert.Equal("shard-runtime.listeners.web.tls.key", without.Key);
        Assert.Contains("is encrypted", without.Problem);
        Assert.Contains("shard-runtime.listeners.web.tls.key-password-file", without.Problem);

        var wrong = Refused(TlsTestFiles.Options(files, keyPasswordFile: _files.Write("wrong", "guess")));
        Assert.Equal("shard-runtime.listeners.web.tls.key", wrong.Key);
        Assert.Contains("cannot be decrypted with the password in", wrong.Problem);
    }

    [Fact]
    public void A_key_encrypted_in_the_legacy_openssl_format_must_be_refused_with_the_conversion()
    {
        var (certificate, _) = _files.Server("web", rsa: true, keyFormat: "pkcs1");
        var legacy = _files.Write("legacy-key.pem",
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n");

        var e = Refused(TlsTestFiles.Options((certificate, legacy)));

        Assert.Equal("shard-runtime.listeners.web.tls.key", e.Key);
        Assert.Contains("legacy format", e.Problem);
        Assert.Contains("openssl pkcs8 -topk8", e.Problem);
    }

    [Fact]
    public void Each_bad_file_must_be_refused_naming_the_full_key_and_the_file()
    {
        var good = _files.Server("web");
        var other = _files.Server("other");
        var missing = Path.Combine(_files.Directory, "missing.pem");
        var notPem = _files.Write("not.pem", "just text");
        var folder = Directory.CreateDirectory(Path.Combine(_files.Directory, "folder")).FullName;
        const string Prefix = "shard-runtime.listeners.web.tls.";

        var cases = new (TlsOptions Options, string Key, string File, string Problem)[]
        {
            (TlsTestFiles.Options((missing, good.Key)), "certificate", missing, "does not exist"),
            (TlsTestFiles.Options((folder, good.Key)), "certificate", folder, "is a directory"),
            (TlsTestFiles.Options((notPem, good.Key)), "certificate", notPem, "no PEM certificate"),
            (TlsTestFiles.Options((good.Certificate, missing)), "key", missing, "does not exist"),
            (TlsTestFiles.Options((good.Certificate, notPem)), "key", notPem, "no PEM private key"),
            (TlsTestFiles.Options((good.Certificate, good.Certificate)), "key", good.Certificate, "no PEM private key"),
            (TlsTestFiles.Options((good.Certificate, other.Key)), "key", other.Key, "is not the private key of the certificate"),
            (TlsTestFiles.Options(good, clients: ClientCertificateMode.Required, clientCa: missing), "client-ca", missing, "does not exist"),
            (TlsTestFiles.Options(good, clients: ClientCertificateMode.Optional, clientCa: notPem), "client-ca", notPem, "no PEM certificate"),
            (TlsTestFiles.Options(good, clients: ClientCertificateMode.Required, clientCa: null), "client-ca", "", "is required"),
            (TlsTestFiles.Options(_files.Server("enc", keyFormat: "encrypted"), keyPasswordFile: missing), "key-password-file", missing, "does not exist"),
        };
        foreach (var (options, key, file, problem) in cases)
        {
            var e = Refused(options);
            Assert.Equal(Prefix + key, e.Key);
            Assert.Contains(file, e.Message);
            Assert.Contains(problem, e.Problem);
        }
    }

    [SkippableFact]
    public void An_unreadable_file_must_be_refused_naming_it()
    {
        Skip.If(Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root",
            "root reads a file of mode 0000, so there is no unreadable file to show");
        var good = _files.Server("web");
        File.SetUnixFileMode(good.Key, UnixFileMode.None);

        var e = Refused(TlsTestFiles.Options(good));

        Assert.Equal("shard-runtime.listeners.web.tls.key", e.Key);
        Assert.Contains("permission denied", e.Problem);
    }

    [Fact]
    public void An_expired_certificate_must_load_with_a_warning_naming_the_key_and_the_file()
    {
        var files = _files.Server("old", notBefore: DateTimeOffset.UtcNow.AddHours(-36), notAfter: DateTimeOffset.UtcNow.AddHours(-1));

        var material = TlsMaterial.Load(TlsTestFiles.Options(files), DateTime.UtcNow);

        var warning = Assert.Single(material.Warnings);
        Assert.StartsWith("shard-runtime.listeners.web.tls.certificate: ", warning);
        Assert.Contains(files.Certificate, warning);
        Assert.Contains("expired", warning);
    }

    [Fact]
    public void The_client_ca_must_be_loaded_when_client_certificates_are_asked_for()
    {
        var material = TlsMaterial.Load(
            TlsTestFiles.Options(_files.Server("web"), clients: ClientCertificateMode.Optional, clientCa: _files.ClientCa), DateTime.UtcNow);

        Assert.Equal("CN=test client CA", Assert.Single(material.ClientAuthorities!).Subject);
    }

    public void Dispose() => _files.Dispose();
}
