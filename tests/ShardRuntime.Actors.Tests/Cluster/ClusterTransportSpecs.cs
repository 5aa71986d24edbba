using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using ShardRuntime.Actors.Cluster.Transport;
using ShardRuntime.Actors.Settings;
using ShardRuntime.EndToEnd.Tests.Support;

namespace ShardRuntime.Actors.Tests.Cluster;

/// <summary>
/// The cluster transport's decisions, without an actor system: which transport a configuration calls for (or why it
/// must not start), and what the TLS material accepts. The processes that act on them are in the end-to-end
/// RemotingSecuritySpecs, ClusterSpecs and ClusterTransportConfigSpecs.
/// </summary>
public sealed class ClusterTransportSpecs
{
    private static ClusterSettings Cluster(string hocon = "") =>
        ShardRuntimeSettings.Create(ConfigurationFactory.ParseString(hocon)).Cluster;

    [Fact]
    public void No_seed_nodes_and_no_TLS_must_be_a_lone_node_without_remoting()
    {
        Assert.Same(ClusterTransport.Lone, ClusterTransport.Decide(Cluster(), []));
    }

    [Fact]
    public void Seed_nodes_without_TLS_must_be_refused_unless_the_operator_asked_for_an_insecure_transport()
    {
        var refused = Assert.Throws<ShardRuntimeConfigurationException>(() =>
            ClusterTransport.Decide(Cluster(), ["akka.tcp://shardruntime@10.0.0.1:4053"]));
        Assert.Equal("shard-runtime.cluster.tls", refused.Key);
        Assert.Contains("insecure-transport = on", refused.Message);

        var insecure = ClusterTransport.Decide(Cluster("shard-runtime.cluster.insecure-transport = on"), ["akka.tcp://shardruntime@10.0.0.1:4053"]);
        Assert.Equal(ClusterTransportMode.Insecure, insecure.Mode);
        Assert.True(insecure.IsInsecure);
    }

    [Theory]
    [InlineData("", "akka.tcp://shardruntime@10.0.0.1:4053", "akka.ssl.tcp://")]
    [InlineData("shard-runtime.cluster.insecure-transport = on", "akka.ssl.tcp://shardruntime@10.0.0.1:4053", "akka.tcp://")]
    public void Every_seed_address_must_use_the_transports_scheme(string insecure, string seed, string expected)
    {
        var tls = insecure.Length == 0 ? """shard-runtime.cluster.tls { certificate = "c.pem", private-key = "k.pem", trusted-ca = "ca.pem" }""" : insecure;
        var refused = Assert.Throws<ShardRuntimeConfigurationException>(() => ClusterTransport.Decide(Cluster(tls), [seed]));
        Assert.Equal("akka.cluster.seed-nodes", refused.Key);
        Assert.Contains($"starts with {expected}", refused.Message);
    }

    [Fact]
    public void TLS_without_seed_nodes_must_be_a_cluster_node_that_forms_a_cluster_others_join()
    {
        var transport = ClusterTransport.Decide(Cluster("""shard-runtime.cluster.tls { certificate = "c.pem", private-key = "k.pem", trusted-ca = "ca.pem" }"""), []);
        Assert.Equal(ClusterTransportMode.MutualTls, transport.Mode);
        Assert.Contains("ca.pem", transport.Description);
    }

    [Fact]
    public void Some_but_not_all_TLS_files_must_be_refused_naming_the_missing_key()
    {
        var refused = Assert.Throws<ShardRuntimeConfigurationException>(() =>
            Cluster("""shard-runtime.cluster.tls { certificate = "c.pem", trusted-ca = "ca.pem" }"""));
        Assert.Equal("shard-runtime.cluster.tls.private-key", refused.Key);
    }

    [Fact]
    public void An_actor_system_with_remoting_must_need_mutual_TLS_or_an_insecure_transport()
    {
        Assert.Same(ClusterTransport.Lone, ClusterTransport.OfActorSystem(Config.Empty, remoteProvider: false, Cluster()));
        var plain = Assert.Throws<ShardRuntimeConfigurationException>(() => ClusterTransport.OfActorSystem(Config.Empty, remoteProvider: true, Cluster()));
        Assert.Equal("akka.remote.dot-netty.tcp.enable-ssl", plain.Key);
        var oneWay = Assert.Throws<ShardRuntimeConfigurationException>(() => ClusterTransport.OfActorSystem(
            ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp { enable-ssl = on, ssl.require-mutual-authentication = off }"), true, Cluster()));
        Assert.Equal("akka.remote.dot-netty.tcp.ssl.require-mutual-authentication", oneWay.Key);
        Assert.Equal(ClusterTransportMode.MutualTls,
            ClusterTransport.OfActorSystem(ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.enable-ssl = on"), true, Cluster()).Mode);
        Assert.Equal(ClusterTransportMode.Insecure,
            ClusterTransport.OfActorSystem(Config.Empty, true, Cluster("shard-runtime.cluster.insecure-transport = on")).Mode);
    }

    [Fact]
    public void The_material_must_accept_a_peer_of_its_CA_and_refuse_one_of_another_CA_one_expired_and_none()
    {
        using var ca = new TestCertificates();
        using var other = new TestCertificates("another CA");
        using var material = ClusterCertificates.Load(Tls(ca, ca.Node("node")), DateTime.UtcNow);

        Assert.Null(material.Refusal(Load(ca.Node("peer")), null));
        Assert.Contains("not signed by a trusted CA", material.Refusal(Load(other.Node("stranger")), null));
        Assert.Contains("not signed by a trusted CA", material.Refusal(Load(ca.Node("old", DateTimeOffset.UtcNow.AddDays(-9), DateTimeOffset.UtcNow.AddDays(-2))), null));
        Assert.Equal("it presented no certificate", material.Refusal(null, null));
    }

    [Fact]
    public void Loading_must_refuse_a_certificate_another_CA_signed_and_one_without_client_authentication()
    {
        using var ca = new TestCertificates();
        using var other = new TestCertificates("another CA");
        var foreign = Assert.Throws<ShardRuntimeConfigurationException>(() => ClusterCertificates.Load(Tls(ca, other.Node("node")), DateTime.UtcNow));
        Assert.Equal("shard-runtime.cluster.tls.certificate", foreign.Key);
        Assert.Contains("would be refused by the other members", foreign.Message);

        // A server-only certificate (as a web server's): a member also dials, so it must allow client authentication.
        var serverOnly = Path.Combine(ca.Directory, "server-only.pem");
        var key = Path.Combine(ca.Directory, "server-only-key.pem");
        using (var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest("CN=server-only", ecdsa, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new Oid("1.3.6.1.5.5.7.3.1") }, false));
            using var self = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            File.WriteAllText(serverOnly, self.ExportCertificatePem());
            File.WriteAllText(key, ecdsa.ExportPkcs8PrivateKeyPem());
        }
        var usage = Assert.Throws<ShardRuntimeConfigurationException>(() => ClusterCertificates.Load(Tls(ca, (serverOnly, key)), DateTime.UtcNow));
        Assert.Contains("serverAuth, clientAuth", usage.Message);
    }

    private static ClusterTlsSettings Tls(TestCertificates ca, (string Certificate, string PrivateKey) node) =>
        new(node.Certificate, node.PrivateKey, ca.TrustedCa, "shard-runtime.cluster.tls");

    private static X509Certificate2 Load((string Certificate, string PrivateKey) node) => X509Certificate2.CreateFromPem(File.ReadAllText(node.Certificate));
}
