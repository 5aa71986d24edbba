using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// A cluster node's transport is settled before it binds anything: seed nodes without TLS, an expired certificate, a
/// missing key, seed addresses of the wrong scheme each stop start-up with exit code 2, naming the key (and the file),
/// and no control socket or listener is opened.
/// </summary>
public sealed class ClusterTransportConfigSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);
    private static readonly string Config = HostProcess.Config("""http { endpoint = "127.0.0.1:0", handler = http-ok }""");

    [Fact]
    public async Task Seed_nodes_without_TLS_must_stop_start_up_saying_what_to_set()
    {
        var output1 = await ExitAsync(new Dictionary<string, string>
        {
            ["SHARDRUNTIME_CLUSTER_SEED_NODES"] = "akka.tcp://shardruntime@127.0.0.11:4053",
        });
        Assert.Contains("shard-runtime.cluster.tls", output1);
        Assert.Contains("is not set while the node has seed nodes", output1);
        Assert.Contains("SHARDRUNTIME_CLUSTER_TLS_CERTIFICATE", output1);
        Assert.Contains("deploy/cluster/certs.sh", output1);
        Assert.Contains("insecure-transport = on", output1);
    }

    [Fact]
    public async Task An_expired_certificate_must_stop_start_up_naming_the_key_and_the_file()
    {
        using var certificates = new TestCertificates();
        var (certificate, key) = certificates.Node("old", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(-1));
        var text = await ExitAsync(new Dictionary<string, string>
        {
            ["SHARDRUNTIME_CLUSTER_TLS_CERTIFICATE"] = certificate,
            ["SHARDRUNTIME_CLUSTER_TLS_PRIVATE_KEY"] = key,
            ["SHARDRUNTIME_CLUSTER_TLS_TRUSTED_CA"] = certificates.TrustedCa,
        });
        Assert.Contains("shard-runtime.cluster.tls.certificate", text);
        Assert.Contains($"{certificate}: the certificate 'CN=old' expired on", text);
    }

    [Fact]
    public async Task A_missing_key_file_must_stop_start_up_naming_the_key_and_the_file()
    {
        using var certificates = new TestCertificates();
        var (certificate, key) = certificates.Node("node");
        File.Delete(key);
        var text = await ExitAsync(new Dictionary<string, string>
        {
            ["SHARDRUNTIME_CLUSTER_TLS_CERTIFICATE"] = certificate,
            ["SHARDRUNTIME_CLUSTER_TLS_PRIVATE_KEY"] = key,
            ["SHARDRUNTIME_CLUSTER_TLS_TRUSTED_CA"] = certificates.TrustedCa,
        });
        Assert.Contains($"shard-runtime.cluster.tls.private-key': the file '{key}' does not exist", text);
    }

    [Fact]
    public async Task A_key_of_another_certificate_a_FIFO_for_a_file_and_a_plain_seed_address_must_each_stop_start_up()
    {
        using var certificates = new TestCertificates();
        var (certificate, _) = certificates.Node("node");
        var (_, otherKey) = certificates.Node("other");
        var environment = new Dictionary<string, string>
        {
            ["SHARDRUNTIME_CLUSTER_TLS_CERTIFICATE"] = certificate,
            ["SHARDRUNTIME_CLUSTER_TLS_PRIVATE_KEY"] = otherKey,
            ["SHARDRUNTIME_CLUSTER_TLS_TRUSTED_CA"] = certificates.TrustedCa,
        };
        Assert.Contains($"{otherKey} is not the private key of the certificate in {certificate}", await ExitAsync(environment));

        // A FIFO never blocks start-up: it is refused at once for what it is.
        var fifo = Path.Combine(certificates.Directory, "ca.fifo");
        Assert.Equal(0, (await ToolProcess.RunAsync(ToolProcess.StartInfo("mkfifo", [fifo]), TimeSpan.FromSeconds(10))).ExitCode);
        environment["SHARDRUNTIME_CLUSTER_TLS_PRIVATE_KEY"] = certificates.Node("node2").PrivateKey;
        environment["SHARDRUNTIME_CLUSTER_TLS_CERTIFICATE"] = certificates.Directory + "/node2.pem";
        environment["SHARDRUNTIME_CLUSTER_TLS_TRUSTED_CA"] = fifo;
        Assert.Contains($"shard-runtime.cluster.tls.trusted-ca': '{fifo}' is a FIFO, not a regular file", await ExitAsync(environment));

        environment["SHARDRUNTIME_CLUSTER_TLS_TRUSTED_CA"] = certificates.TrustedCa;
        environment["SHARDRUNTIME_CLUSTER_SEED_NODES"] = "akka.tcp://shardruntime@127.0.0.11:4053";
        var scheme = await ExitAsync(environment);
        Assert.Contains("akka.cluster.seed-nodes", scheme);
        Assert.Contains("a seed node's address starts with akka.ssl.tcp://", scheme);
    }

    /// <summary>Starts a node with <paramref name="environment"/>, expects exit code 2 without a control socket; its output.</summary>
    private async Task<string> ExitAsync(Dictionary<string, string> environment)
    {
        await using var host = HostProcess.Start(output, Config, environment);
        var exitCode = await host.WaitForExitAsync(ExitTimeout);
        Assert.True(exitCode == 2, $"exit code {exitCode}\n{host.Output}");
        Assert.False(File.Exists(host.ControlSocket), "the node opened its control socket despite the bad transport");
        Assert.Contains("Configuration error", host.Output);
        return host.Output;
    }
}
