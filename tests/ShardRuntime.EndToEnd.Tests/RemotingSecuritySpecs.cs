using System.Globalization;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// Who can command a node over Akka.Remote. An outsider (tests/Fixtures/RemotingProbe: its own ActorSystem, the node's
/// Akka version) sends the coordinator <c>ScaleTo(http, 1)</c>, as root and as user nobody. The control case, a node
/// that runs its cluster over plain TCP (insecure-transport = on), obeys it: the attack is real. A lone node (the
/// default: no seed nodes) has no remoting port at all, and a TLS node refuses a probe without a certificate of its CA,
/// logging the refused peer. In every refused case the node's shards stay as they were.
/// </summary>
public sealed class RemotingSecuritySpecs(ITestOutputHelper output)
{
    private static readonly string Listeners = """http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }""";

    [SkippableFact]
    public async Task A_node_whose_operator_chose_an_insecure_transport_must_obey_another_users_probe_and_say_it_is_insecure()
    {
        var port = Ports.FreeLoopback();
        await using var host = HostProcess.Start(output, HostProcess.Config(Listeners), new Dictionary<string, string>
        {
            ["SHARDRUNTIME_CLUSTER_HOSTNAME"] = "127.0.0.1",
            ["SHARDRUNTIME_CLUSTER_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["SHARDRUNTIME_CLUSTER_INSECURE_TRANSPORT"] = "on",
        });
        var status = await host.WaitUntilReadyAsync();
        Assert.Equal(2, status.Listener("http").Accepting.Count());
        Assert.True(status.InsecureTransport);
        Assert.Contains("WRN", host.Output.Split('\n').Single(l => l.Contains("Cluster transport INSECURE", StringComparison.Ordinal)));
        var text = await host.RunCliAsync("status");
        Assert.Contains("WARNING: cluster transport INSECURE: plain TCP with no authentication", text.StdOut);

        var asNobody = RemotingProbe.WhyNotAsNobody() is null;
        var probe = await RemotingProbe.RunAsync(output, $"akka.tcp://shardruntime@127.0.0.1:{port}", "http", 1, asNobody);

        Assert.Equal(RemotingProbe.Replied, probe.ExitCode);
        Assert.Contains("REPLY ScaledTo", probe.StdOut);
        Assert.Single((await host.StatusAsync()).Listener("http").Accepting);
        Skip.IfNot(asNobody, "the probe ran as root only: " + RemotingProbe.WhyNotAsNobody());
    }

    [SkippableFact]
    public async Task A_lone_node_must_have_no_remoting_port_and_a_probe_from_root_or_nobody_must_change_nothing()
    {
        await using var host = HostProcess.Start(output, HostProcess.Config(Listeners));
        var status = await host.WaitUntilReadyAsync();
        var http = status.Listener("http").Bound;
        Assert.Contains("none: a lone node", status.Transport);
        Assert.False(status.InsecureTransport);

        // The kernel's view: the node listens on its listener's endpoint and nowhere else (no Akka.Remote port).
        var listening = await KernelSockets.ListeningEndPointsOfAsync(host.ProcessId);
        Assert.Equal([http.ToString()], listening);

        // An outsider speaking Akka.Remote to every port the node listens on gets no answer, as root and as nobody.
        var users = RemotingProbe.WhyNotAsNobody() is null ? new[] { false, true } : [false];
        foreach (var asNobody in users)
        {
            foreach (var endPoint in listening)
            {
                var probe = await RemotingProbe.RunAsync(output, $"akka.tcp://shardruntime@{endPoint}", "http", 1, asNobody);
                Assert.Equal(RemotingProbe.NoReply, probe.ExitCode);
            }
        }

        var after = await host.StatusAsync();
        Assert.Equal(2, after.Listener("http").DesiredShards);
        Assert.Equal(2, after.Listener("http").Accepting.Count());
        var cluster = await host.RunCliAsync("status", "--cluster");
        Assert.Equal(1, cluster.ExitCode);
        Assert.Contains("a lone node (no seed nodes and no shard-runtime.cluster.tls) runs without remoting", cluster.StdErr);
        Skip.IfNot(users.Length == 2, "the probe ran as root only: " + RemotingProbe.WhyNotAsNobody());
    }

    [SkippableFact]
    public async Task A_TLS_node_must_refuse_a_probe_without_a_certificate_and_one_with_a_certificate_of_another_CA_and_log_each_refused_peer()
    {
        using var certificates = new TestCertificates();
        using var foreign = new TestCertificates("another CA");
        var port = Ports.FreeLoopback();
        var environment = certificates.EnvironmentFor("node");
        environment["SHARDRUNTIME_CLUSTER_HOSTNAME"] = "127.0.0.1";
        environment["SHARDRUNTIME_CLUSTER_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        await using var host = HostProcess.Start(output, HostProcess.Config(Listeners), environment);
        var status = await host.WaitUntilReadyAsync();
        Assert.Contains("mutual TLS", status.Transport);
        // Remoting listens (DotNetty binds 127.0.0.1 as the IPv4-mapped [::ffff:127.0.0.1]).
        Assert.Contains(await KernelSockets.ListeningEndPointsOfAsync(host.ProcessId), e => e.EndsWith($"127.0.0.1]:{port}", StringComparison.Ordinal) || e == $"127.0.0.1:{port}");
        var asNobody = RemotingProbe.WhyNotAsNobody() is null;

        // Plain Akka.Remote (no TLS at all) to the TLS port.
        var plain = await RemotingProbe.RunAsync(output, $"akka.tcp://shardruntime@127.0.0.1:{port}", "http", 1, asNobody);
        Assert.Equal(RemotingProbe.NoReply, plain.ExitCode);
        await WaitForOutputAsync(host, "Rejected incoming connection from");

        // TLS with a certificate that another CA signed.
        var stranger = foreign.Node("stranger");
        var signed = await RemotingProbe.RunAsync(output, $"akka.ssl.tcp://shardruntime@127.0.0.1:{port}", "http", 1, asNobody, stranger);
        Assert.Equal(RemotingProbe.NoReply, signed.ExitCode);
        await WaitForOutputAsync(host, "Refused cluster peer");
        Assert.Contains("certificate 'CN=stranger'", host.Output);

        var after = await host.StatusAsync();
        Assert.Equal(2, after.Listener("http").DesiredShards);
        Assert.Equal(2, after.Listener("http").Accepting.Count());

        // The control case: the same probe with a certificate of the node's own CA is a member, and is obeyed.
        var member = await RemotingProbe.RunAsync(output, $"akka.ssl.tcp://shardruntime@127.0.0.1:{port}", "http", 1, asNobody, certificates.Node("member"));
        Assert.Equal(RemotingProbe.Replied, member.ExitCode);
        Skip.IfNot(asNobody, "the probes ran as root only: " + RemotingProbe.WhyNotAsNobody());
    }

    private static Task WaitForOutputAsync(HostProcess host, string text) => host.WaitForOutputAsync(text, TimeSpan.FromSeconds(30));
}
