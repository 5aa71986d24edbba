using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ShardRuntime.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// The SHARDRUNTIME_* environment variables of <c>shardruntime run</c>: each becomes its HOCON key over the file, and a
/// malformed one stops start-up with exit code 2 naming the variable.
/// </summary>
public sealed class EnvironmentSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData("SHARDRUNTIME_CLUSTER_PORT", "70000", "expected a port number from 0 to 65535")]
    [InlineData("SHARDRUNTIME_CLUSTER_PORT", "four-thousand", "expected a port number from 0 to 65535")]
    [InlineData("SHARDRUNTIME_CLUSTER_PORT", "-1", "expected a port number from 0 to 65535")]
    [InlineData("SHARDRUNTIME_CLUSTER_SEED_NODES", "akka.tcp://shardruntime@127.0.0.11:4053, 127.0.0.12:4053", "'127.0.0.12:4053' is not a node address")]
    [InlineData("SHARDRUNTIME_CLUSTER_SEED_NODES", "akka.tcp://shardruntime@127.0.0.11", "is not a node address")]
    [InlineData("SHARDRUNTIME_BIND_ADDRESS", "node-2.example", "expected an IP address")]
    [InlineData("SHARDRUNTIME_CLUSTER_INSECURE_TRANSPORT", "maybe", "expected on or off")]
    [InlineData("SHARDRUNTIME_BIND_ADDRESS", "127.0.0.1:8080", "expected an IP address")]
    public async Task A_malformed_variable_must_stop_start_up_with_exit_code_2_naming_it(string variable, string value, string problem)
    {
        await using var host = HostProcess.Start(output, HostProcess.Config("""http { endpoint = "127.0.0.1:0", handler = http-ok }"""),
            new Dictionary<string, string> { [variable] = value });

        var exitCode = await host.WaitForExitAsync(ExitTimeout);

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{host.Output}");
        Assert.Contains($"environment variable {variable}", host.Output);
        Assert.Contains(problem, host.Output);
        Assert.False(File.Exists(host.ControlSocket), "the node opened its control socket despite the bad variable");
    }

    [Fact]
    public async Task Every_variable_must_reach_its_setting_over_the_file()
    {
        var port = Ports.FreeLoopback();
        var address = $"akka.ssl.tcp://shardruntime@127.0.0.3:{port}";
        using var certificates = new TestCertificates();
        // The file says otherwise for what the variables set: they win.
        var config = HostProcess.Config("""http { endpoint = "127.0.0.2:0", handler = http-ok, shards = 1 }""", """
            akka.remote.dot-netty.tcp.hostname = "127.0.0.5"
            akka.cluster.roles = [from-the-file]
            shard-runtime.bind-address = "127.0.0.4"
            """);
        var environment = certificates.EnvironmentFor("node");
        await using var host = HostProcess.Start(output, config, new Dictionary<string, string>(environment)
        {
            ["SHARDRUNTIME_CLUSTER_HOSTNAME"] = "127.0.0.1",
            ["SHARDRUNTIME_CLUSTER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Advertised, never bound: the node is known by it (a seed list of itself alone joins without a connection).
            ["SHARDRUNTIME_CLUSTER_PUBLIC_HOSTNAME"] = "127.0.0.3",
            ["SHARDRUNTIME_CLUSTER_SEED_NODES"] = address,
            ["SHARDRUNTIME_CLUSTER_ROLES"] = " edge , ingest ",
            ["SHARDRUNTIME_BIND_ADDRESS"] = "127.0.0.1",
        });

        var status = await host.WaitUntilReadyAsync();

        Assert.Equal(IPAddress.Loopback, status.Listener("http").Bound.Address);
        var member = await SelfMemberUpAsync(host);
        Assert.Equal(address, member.GetProperty("address").GetString());
        var roles = member.GetProperty("roles").EnumerateArray().Select(r => r.GetString()).ToList();
        Assert.Contains("edge", roles);
        Assert.Contains("ingest", roles);
        Assert.DoesNotContain("from-the-file", roles);
        Assert.Contains($"seed nodes {address}", host.Output);
        // The TLS variables reached their keys: the node presents the certificate it was given.
        Assert.Contains("Cluster TLS: certificate CN=node", host.Output);
        Assert.Contains($"peers must present a certificate signed by the CA in {certificates.TrustedCa}", (await host.StatusAsync()).Transport);
        // Remoting listens on the hostname and port it was given.
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(ExitTimeout);
    }

    /// <summary>The node's own entry of <c>status --cluster --json</c>, once it is Up.</summary>
    private static async Task<JsonElement> SelfMemberUpAsync(HostProcess host)
    {
        string last = "";
        var up = await Eventually.ValueAsync(async () =>
        {
            var result = await host.RunCliAsync("status", "--cluster", "--json");
            last = result.ToString();
            if (result.ExitCode != 0) return null;
            using var json = JsonDocument.Parse(result.StdOut);
            var self = json.RootElement.GetProperty("selfAddress").GetString();
            foreach (var member in json.RootElement.GetProperty("members").EnumerateArray())
            {
                if (member.GetProperty("address").GetString() == self && member.GetProperty("status").GetString() == "Up")
                    return member.Clone();
            }
            return (JsonElement?)null;
        }, member => member is not null, HostProcess.ReadyTimeout, TimeSpan.FromMilliseconds(200));
        return up ?? throw new TimeoutException($"the node was not Up in its cluster within {HostProcess.ReadyTimeout.TotalSeconds}s; last: {last}\n{host.Output}");
    }

}
