using Akka.Configuration;

namespace ShardRuntime.Actors.Settings;

/// <summary>
/// The PEM files of the cluster's TLS transport (<c>shard-runtime.cluster.tls</c>): this node's certificate, its
/// private key and the CA it trusts. All three or none.
/// </summary>
/// <param name="Certificate">This node's certificate (PEM), optionally followed by intermediate CAs.</param>
/// <param name="PrivateKey">Its private key (PEM).</param>
/// <param name="TrustedCa">The CA certificate(s) (PEM) whose signatures the node accepts from its peers.</param>
/// <param name="Path">The block's key, for messages (<c>shard-runtime.cluster.tls</c>).</param>
public sealed record ClusterTlsSettings(string Certificate, string PrivateKey, string TrustedCa, string Path)
{
    /// <summary>The key of this node's certificate file.</summary>
    public const string CertificateKey = "certificate";
    /// <summary>The key of its private key file.</summary>
    public const string PrivateKeyKey = "private-key";
    /// <summary>The key of the trusted CA file.</summary>
    public const string TrustedCaKey = "trusted-ca";

    /// <summary>The full key of one of the three files, e.g. <c>shard-runtime.cluster.tls.private-key</c>.</summary>
    public string KeyOf(string key) => Path + "." + key;

    /// <summary>Null when no file is named; throws naming the missing key when only some are.</summary>
    public static ClusterTlsSettings? Create(Config tls, string path)
    {
        var r = new ConfigReader(tls, path);
        var certificate = r.GetString(CertificateKey, allowEmpty: true).Trim();
        var key = r.GetString(PrivateKeyKey, allowEmpty: true).Trim();
        var ca = r.GetString(TrustedCaKey, allowEmpty: true).Trim();
        var given = new[] { (CertificateKey, certificate), (PrivateKeyKey, key), (TrustedCaKey, ca) };
        if (given.All(g => g.Item2.Length == 0)) return null;
        if (given.FirstOrDefault(g => g.Item2.Length == 0) is { Item1: { } missing })
            throw new ShardRuntimeConfigurationException(r.KeyOf(missing),
                $"is empty while {string.Join(" and ", given.Where(g => g.Item2.Length > 0).Select(g => r.KeyOf(g.Item1)))} is set: the cluster's TLS needs all three files (certificate, private-key, trusted-ca)");
        return new ClusterTlsSettings(certificate, key, ca, path);
    }
}
