using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ShardRuntime.EndToEnd.Tests.Support;
using ShardRuntime.LoadGen.Run;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests;

/// <summary>
/// Three (or four) real node processes in one Akka cluster on loopback (127.0.0.11, .12, ...; each node's listeners on
/// its own address): the cluster-wide desired state changed from any node reaches every node's sockets, survives a
/// node killed with SIGKILL, reaches a node started later, targets roles, refuses a write no majority can store, and
/// reloads node after node.
/// </summary>
public sealed class ClusterSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan Converge = TimeSpan.FromSeconds(60);

    /// <summary>Every node's file: http with 2 shards on port 0 (each node binds its own address and gets its own port).</summary>
    private static string NodeConfig(string more = "") => HostProcess.Config("""
        http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
        """, "shard-runtime.shutdown.drain-timeout = 3s\n" + more);

    [Fact]
    public async Task A_scale_message_sent_to_one_node_must_change_the_socket_count_on_all_three_target_only_its_role_and_reach_a_node_started_later()
    {
        await using var cluster = new ClusterNodes(output, NodeConfig());
        var (first, second, third) = await cluster.StartThreeAsync("edge", "edge", "core");
        var endPoints = new List<IPEndPoint>();
        foreach (var node in cluster.Nodes)
        {
            var endPoint = await ClusterNodes.EndPointOfAsync(node, "http");
            Assert.Equal(ClusterNodes.AddressOf(endPoints.Count), endPoint.Address.ToString()); // SHARDRUNTIME_BIND_ADDRESS
            Assert.Equal(2, (await KernelSockets.WaitForListeningCountAsync(endPoint, 2, Converge)).Count);
            endPoints.Add(endPoint);
        }

        // One message, sent to the second node, changes the sockets on all three.
        var scale = await second.RunCliAsync("scale", "http", "4", "--cluster");
        Assert.True(scale.ExitCode == 0, scale.ToString());
        Assert.Contains("stored by all of 3 node(s)", scale.StdOut);
        foreach (var endPoint in endPoints)
            Assert.Equal(4, (await KernelSockets.WaitForListeningCountAsync(endPoint, 4, Converge)).Count);

        // A local scale of a listener the cluster scales is refused, with the way to do it.
        var local = await first.RunCliAsync("scale", "http", "3");
        Assert.Equal(1, local.ExitCode);
        Assert.Contains("--cluster", local.StdErr);

        // Role targeting, sent to the first node: only the core node (the third) changes.
        var role = await first.RunCliAsync("scale", "http", "3", "--cluster", "--role", "core");
        Assert.True(role.ExitCode == 0, role.ToString());
        Assert.Equal(3, (await KernelSockets.WaitForListeningCountAsync(endPoints[2], 3, Converge)).Count);
        foreach (var node in new[] { first, second })
        {
            // Both edge nodes applied the new state (in sync) and still serve 4.
            var status = await node.StatusAsync();
            Assert.Equal(4, status.Listener("http").DesiredShards);
            Assert.Equal(4, status.Listener("http").Accepting.Count());
        }
        Assert.Equal(4, (await KernelSockets.ListeningInodesAsync(endPoints[0])).Count);
        Assert.Equal(4, (await KernelSockets.ListeningInodesAsync(endPoints[1])).Count);
        Assert.Equal(3, (await third.StatusAsync()).Listener("http").DesiredShards);

        // A node started later (its file says 2) gets the current state: it is an edge node, so 4.
        var fourth = await cluster.StartNodeAsync("edge");
        var state = await cluster.WaitUntilUpAsync(first, 4);
        var late = await ClusterNodes.EndPointOfAsync(fourth, "http");
        Assert.Equal(4, (await KernelSockets.WaitForListeningCountAsync(late, 4, Converge)).Count);
        Assert.Equal(4, (await fourth.StatusAsync()).Listener("http").DesiredShards);

        // status --cluster (the operator's view) lists every node with its listeners, in sync.
        var view = await third.RunCliAsync("status", "--cluster");
        Assert.True(view.ExitCode == 0, view.ToString());
        Assert.Contains("cluster of 4 node(s)", view.StdOut);
        foreach (var i in Enumerable.Range(0, 4))
            Assert.Contains($"127.0.0.{11 + i}:", view.StdOut);
        Assert.Equal(4, state.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("following").GetString() == "in sync"));
    }

    [Fact]
    public async Task A_node_killed_with_SIGKILL_must_leave_the_other_two_serving_without_a_refused_connection_and_the_desired_state_intact()
    {
        // The split-brain resolver downs the dead node 5 s after the membership settles (20 s by default).
        await using var cluster = new ClusterNodes(output, NodeConfig("akka.cluster.split-brain-resolver.stable-after = 5s"));
        var (first, second, third) = await cluster.StartThreeAsync("edge", "edge", "edge");
        var scale = await first.RunCliAsync("scale", "http", "3", "--cluster");
        Assert.True(scale.ExitCode == 0, scale.ToString());
        var survivors = new[] { first, second };
        var endPoints = new List<IPEndPoint>();
        foreach (var node in survivors)
        {
            var endPoint = await ClusterNodes.EndPointOfAsync(node, "http");
            await KernelSockets.WaitForListeningCountAsync(endPoint, 3, Converge);
            endPoints.Add(endPoint);
        }
        var desiredBefore = await DesiredAsync(first);

        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var loads = endPoints.Select(endPoint => LoadRun.RunAsync(new LoadOptions
        {
            Target = endPoint,
            Mode = LoadMode.Churn | LoadMode.KeepAlive,
            Connections = 2,
            Protocol = LoadProtocol.Http,
            Rate = 150,
            MaxInFlight = 150,
            Duration = TimeSpan.FromMinutes(4), // ended by the test (stop)
            Timeout = TimeSpan.FromSeconds(15),
        }, cancellationToken: stop.Token)).ToList();

        // Some load first, then the third node dies without a word.
        await WaitUntilAcceptedAsync(first, 200);
        Posix.Signal(third.ProcessId, Posix.SigKill);
        var gone = await cluster.WaitForAsync(first, s => s.GetProperty("members").EnumerateArray()
            .Any(m => m.GetProperty("address").GetString()!.Contains("127.0.0.13") && !m.GetProperty("reachable").GetBoolean()), "the killed node marked unreachable");

        // The desired state is intact on both survivors, and a change still reaches a majority and both of them.
        Assert.Equal(desiredBefore, await DesiredAsync(first));
        Assert.Equal(desiredBefore, await DesiredAsync(second));
        var unreachable = await second.RunCliAsync("status", "--cluster");
        Assert.Contains("UNREACHABLE", unreachable.StdOut);
        var change = await second.RunCliAsync("scale", "http", "2", "--cluster");
        Assert.True(change.ExitCode == 0, change.ToString());
        foreach (var endPoint in endPoints)
            await KernelSockets.WaitForListeningCountAsync(endPoint, 2, Converge);
        // Load keeps running on the survivors through the retiring of a socket each.
        await WaitUntilAcceptedAsync(second, 600);

        // The keep-majority split-brain resolver (on, and named in the start-up log) downs the dead node: two members remain,
        // and a change is stored by all of them again.
        Assert.Contains("split-brain resolver keep-majority", first.Output);
        await cluster.WaitForAsync(first, s => s.GetProperty("members").GetArrayLength() == 2 &&
            s.GetProperty("members").EnumerateArray().All(m => m.GetProperty("reachable").GetBoolean()), "the dead node downed and removed");
        var afterDown = await first.RunCliAsync("scale", "http", "3", "--cluster");
        Assert.True(afterDown.ExitCode == 0, afterDown.ToString());
        Assert.Contains("stored by all of 2 node(s)", afterDown.StdOut);
        foreach (var endPoint in endPoints)
            await KernelSockets.WaitForListeningCountAsync(endPoint, 3, Converge);

        await stop.CancelAsync();
        foreach (var (load, i) in loads.Select((l, i) => (l, i)))
            LoadAssert.NoLoss(await load, output, $"node {ClusterNodes.AddressOf(i)}", atLeast: 200);
        Assert.Equal("unreachable", gone.GetProperty("members").EnumerateArray()
            .Single(m => m.GetProperty("address").GetString()!.Contains("127.0.0.13")).GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_member_with_a_certificate_of_another_CA_must_be_refused_logged_and_never_join_and_the_cluster_must_stay_as_it_was()
    {
        await using var cluster = new ClusterNodes(output, NodeConfig());
        var first = await cluster.StartNodeAsync("edge");
        var second = await cluster.StartNodeAsync("edge");
        await cluster.WaitUntilUpAsync(first, 2);
        Assert.Equal(0, (await first.RunCliAsync("scale", "http", "3", "--cluster")).ExitCode);
        var desired = await DesiredAsync(first);

        // A third node whose certificate (and trust) come from another CA: the members refuse its handshake.
        using var foreign = new TestCertificates("another CA");
        var intruder = await cluster.StartNodeAsync("edge", tls: foreign.EnvironmentFor("intruder"));
        // The seed refuses the intruder's certificate; the intruder refuses the seed's, and Akka.Remote ends an actor
        // system whose outbound TLS handshake failed: the intruder's process exits with that reason's code (79).
        var exitCode = await intruder.WaitForExitAsync(Converge);
        Assert.True(exitCode == 79, $"intruder exit code {exitCode}\n{intruder.Output}");
        Assert.Contains("TLS handshake failed on outbound connection", intruder.Output);
        Assert.Contains("Refused cluster peer", first.Output);
        Assert.Contains("certificate 'CN=intruder'", first.Output);
        Assert.Contains("not signed by a trusted CA", first.Output);

        // It never joins: the members still see two nodes, all up, with the same desired state, and it serves its own file.
        var view = await cluster.WaitUntilUpAsync(first, 2);
        Assert.DoesNotContain(view.GetProperty("members").EnumerateArray(), m => m.GetProperty("address").GetString()!.Contains("127.0.0.13", StringComparison.Ordinal));
        Assert.Equal(desired, await DesiredAsync(first));
        Assert.Equal(desired, await DesiredAsync(second));
        foreach (var member in new[] { first, second })
            Assert.Equal(3, (await member.StatusAsync()).Listener("http").Accepting.Count());
    }

    [Fact]
    public async Task A_change_that_cannot_reach_a_majority_must_be_refused_and_written_nowhere()
    {
        // The split-brain resolver must not act while the test runs: the lone node would down itself after stable-after.
        await using var cluster = new ClusterNodes(output, NodeConfig("akka.cluster.split-brain-resolver.stable-after = 120s"));
        var (first, second, third) = await cluster.StartThreeAsync("edge", "edge", "edge");
        var before = await DesiredAsync(first);
        try
        {
            // Two of three frozen: the first node sees them unreachable.
            Posix.Signal(second.ProcessId, Posix.SigStop);
            Posix.Signal(third.ProcessId, Posix.SigStop);
            await cluster.WaitForAsync(first, s => s.GetProperty("members").EnumerateArray().Count(m => !m.GetProperty("reachable").GetBoolean()) == 2,
                "two nodes unreachable");
            var refused = await first.RunCliAsync("scale", "http", "5", "--cluster");
            Assert.True(refused.ExitCode == 1, refused.ToString());
            Assert.Contains("only 1 of 3 nodes are reachable", refused.StdErr);
            Assert.Contains("majority (2)", refused.StdErr);
            Assert.Contains("nothing was written", refused.StdErr);
            Assert.Equal(before, await DesiredAsync(first));
            Assert.Equal(2, (await first.StatusAsync()).Listener("http").Accepting.Count());
        }
        finally
        {
            foreach (var frozen in new[] { second, third })
                Posix.Signal(frozen.ProcessId, Posix.SigKill);
        }
    }

    [Fact]
    public async Task A_rolling_reload_must_go_node_after_node_each_after_the_previous_drained_and_stop_at_a_failing_node()
    {
        // A 2 s drain-timeout: a keep-alive connection of the old generation is closed gracefully after it.
        await using var cluster = new ClusterNodes(output, HostProcess.Config("""
            http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 1, drain-timeout = 2s }
            """, "shard-runtime.shutdown.drain-timeout = 3s"));
        var (first, second, third) = await cluster.StartThreeAsync("edge", "edge", "edge");

        // An idle keep-alive connection on the first node, served by generation 1: it holds the first node's turn until it drained.
        var firstEndPoint = await ClusterNodes.EndPointOfAsync(first, "http");
        using var idle = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await idle.ConnectAsync(firstEndPoint);
        await idle.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        var buffer = new byte[4096];
        Assert.True(await idle.ReceiveAsync(buffer) > 0);
        var closedAt = Task.Run(async () =>
        {
            while (await idle.ReceiveAsync(buffer) > 0) { }
            return DateTime.Now;
        });

        var reload = await third.RunCliAsync("reload", "http", "--cluster");
        Assert.True(reload.ExitCode == 0, reload.ToString());
        var lines = reload.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        for (var i = 0; i < 3; i++)
            Assert.Matches($@"127\.0\.0\.{11 + i}:\d+: reloaded http generation 2", lines[i]);
        // The first node's turn lasted until its old generation's connection was closed (after drain-timeout) ...
        var closed = await closedAt.WaitAsync(TimeSpan.FromSeconds(30));
        // ... and the second node reloaded only after that.
        var secondReloaded = ReloadTime(second.Output);
        Assert.True(secondReloaded >= closed.AddMilliseconds(-50), $"the second node reloaded at {secondReloaded:HH:mm:ss.fff}, before the first drained at {closed:HH:mm:ss.fff}");
        foreach (var node in cluster.Nodes)
            Assert.Equal(2, (await node.StatusAsync()).Listener("http").Generation);
        Assert.Contains("\"handlerGeneration\":2", (await ClusterNodes.RequestAsync(first, """{"command":"listener-show"}""")));

        // A rolling reload of everything re-reads each node's file: the second node's is broken now, so it stops there.
        File.WriteAllText(second.ConfigPath, "shard-runtime { listeners { http { endpoint = ");
        var failed = await first.RunCliAsync("reload", "--cluster");
        Assert.True(failed.ExitCode == 1, failed.ToString());
        Assert.Matches(@"127\.0\.0\.11:\d+: reloaded", failed.StdOut);
        Assert.Matches(@"127\.0\.0\.12:\d+: failed: configuration not reloaded", failed.StdOut);
        Assert.Matches(@"127\.0\.0\.13:\d+: not started", failed.StdOut);
        Assert.Contains("node akka.ssl.tcp://shardruntime@127.0.0.12", failed.StdErr);
        Assert.Equal(3, (await first.StatusAsync()).Listener("http").Generation);
        Assert.Equal(2, (await second.StatusAsync()).Listener("http").Generation);
        Assert.Equal(2, (await third.StatusAsync()).Listener("http").Generation);
    }

    [Fact]
    public async Task An_upgrade_of_a_cluster_node_must_keep_the_listeners_and_shard_counts_the_cluster_sets_with_the_same_sockets_and_no_loss()
    {
        // One node alone (no seed nodes, the cluster's TLS files): its successor joins the predecessor's cluster, and so
        // keeps its desired state.
        using var certificates = new TestCertificates();
        await using var host = HostProcess.Start(output, NodeConfig(), certificates.EnvironmentFor("node"));
        await using var chain = new NodeChain(output);
        await host.WaitUntilReadyAsync();
        Assert.Equal(0, (await host.RunCliAsync("scale", "http", "3", "--cluster")).ExitCode);
        var set = await host.RunCliAsync("listener", "set", "api", "--definition", "endpoint = \"127.0.0.1:0\", handler = http-ok, shards = 1");
        Assert.True(set.ExitCode == 0, set.ToString());
        var before = await host.WaitUntilReadyAsync();
        Assert.Equal(3, before.Listener("http").Accepting.Count());
        var inodes = before.Listeners.ToDictionary(l => l.Name, l => l.Shards.Select(s => s.SocketInode).Order().ToList());
        var desired = await DesiredAsync(host);

        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var loads = new[] { "http", "api" }.Select(name => LoadRun.RunAsync(new LoadOptions
        {
            Target = before.Listener(name).Bound,
            Mode = LoadMode.Churn,
            Protocol = LoadProtocol.Http,
            Rate = 150,
            MaxInFlight = 150,
            Duration = TimeSpan.FromMinutes(3), // ended by the test (stop)
            Timeout = TimeSpan.FromSeconds(15),
        }, cancellationToken: stop.Token)).ToList();
        await WaitUntilAcceptedAsync(host, 100);

        var upgrade = await host.RunCliAsync("upgrade");
        Assert.True(upgrade.ExitCode == 0, $"{upgrade}\n{host.Output}");
        var successor = int.Parse(upgrade.StdOut.Split("successor pid ")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        chain.Track(successor);

        // The successor serves both listeners on the very sockets (the cluster's api was adopted, not declined), with the
        // cluster's shard count, and holds the same desired state.
        Assert.Contains("0 declined", host.Output);
        var after = await host.StatusAsync();
        Assert.Equal(successor, after.ProcessId);
        Assert.Equal(desired, await DesiredAsync(host));
        Assert.Equal(0, await host.WaitForProcessExitAsync(HostProcess.StopTimeout));
        // The predecessor released the sockets and exited: the successor's own groups, all accepting.
        after = await host.StatusWhenAsync(status => status.Listeners.All(l => l.Shards.All(s => s.State == "accepting")), Converge);
        foreach (var (name, expected) in inodes)
            Assert.Equal(expected, after.Listener(name).Shards.Select(s => s.SocketInode).Order().ToList());
        Assert.Equal(3, after.Listener("http").DesiredShards);
        Assert.Equal(3, after.Listener("http").Accepting.Count());

        await WaitUntilAcceptedAsync(host, 100);
        await stop.CancelAsync();
        foreach (var (load, name) in loads.Zip(new[] { "http", "api" }))
            LoadAssert.NoLoss(await load, output, name, atLeast: 100);
    }

    /// <summary>The desired state as <paramref name="node"/> holds it (JSON text of listener-show's result).</summary>
    private static async Task<string> DesiredAsync(HostProcess node)
    {
        using var reply = JsonDocument.Parse(await ClusterNodes.RequestAsync(node, """{"command":"listener-show"}"""));
        Assert.True(reply.RootElement.GetProperty("ok").GetBoolean(), reply.RootElement.ToString());
        return reply.RootElement.GetProperty("result").GetRawText();
    }

    private static async Task WaitUntilAcceptedAsync(HostProcess node, long count)
    {
        var status = await node.StatusWhenAsync(s => s.Listener("http").Accepted >= count, Converge);
        if (status.Listener("http").Accepted < count)
            throw new TimeoutException($"node pid {node.ProcessId} accepted fewer than {count} connections in {Converge}");
    }

    /// <summary>When the node logged that it reloaded http (local time of its log line).</summary>
    private static DateTime ReloadTime(string log)
    {
        var line = log.Split('\n').First(l => l.Contains("Listener http reloaded its handler", StringComparison.Ordinal));
        var time = System.Text.RegularExpressions.Regex.Match(line, @"\[(\d\d:\d\d:\d\d\.\d\d\d)").Groups[1].Value;
        return DateTime.Today + TimeSpan.Parse(time, System.Globalization.CultureInfo.InvariantCulture);
    }
}
