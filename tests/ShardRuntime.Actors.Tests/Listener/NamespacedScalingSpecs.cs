using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Tests.Steering;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Listener;

/// <summary>
/// Shrinking shard groups under churn with net.ipv4.tcp_migrate_req at 0 and at 1, each in a network namespace the
/// spec creates (so the sysctl is set there, not on the machine): steering and draining lose nothing either way.
/// </summary>
public sealed class NamespacedScalingSpecs : TestKit
{
    private readonly ITestOutputHelper _output;

    public NamespacedScalingSpecs(ITestOutputHelper output) : base(output: output) => _output = output;

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task Shrinking_and_growing_under_churn_must_lose_nothing_whatever_tcp_migrate_req_says(int tcpMigrateReq)
    {
        var unavailable = NetworkNamespace.Unavailable();
        Skip.If(unavailable is not null, unavailable);
        using var ns = NetworkNamespace.Create(tcpMigrateReq);
        Assert.Equal(tcpMigrateReq.ToString(), ns.ReadSysctl("net/ipv4/tcp_migrate_req"));

        var coordinator = Specs.StartCoordinator(Sys,
            Specs.Settings("""http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 4, drain-timeout = 60s }"""),
            sockets: new NamespacedSocketFactory(ns));
        var endPoint = Specs.EndPoint(coordinator, "http");

        // Client sockets made inside the namespace: their connections go to the namespace's loopback.
        var churn = ChurnLoad.Start(endPoint, workers: 4,
            newSocket: () => ns.Create(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)));

        foreach (var shards in new[] { 1, 3, 1, 2, 4, 1 })
        {
            var before = churn.Served;
            await coordinator.Ask<CoordinatorProtocol.ScaledTo>(new CoordinatorProtocol.ScaleTo("http", shards), Clients.Timeout);
            await AwaitAssertAsync(() =>
            {
                var listener = Specs.Listener(coordinator, "http");
                Assert.Equal(shards, listener.Shards.Count(s => s.State == "accepting"));
                Assert.DoesNotContain(listener.Shards, s => s.State == "retiring"); // drained and closed
                Assert.True(churn.Served > before + 50, "churn made no progress since the change");
            }, Clients.Timeout);
        }

        await churn.StopAsync();
        _output.WriteLine($"tcp_migrate_req={tcpMigrateReq}: {churn.Served} churn connections served, {churn.Failures.Count} failed");
        Assert.Empty(churn.Failures);
    }

    private sealed class NamespacedSocketFactory(NetworkNamespace ns) : IListenerSocketFactory
    {
        public Socket Bind(ListenerSocketOptions options) => ns.Create(() => ReuseportSocketFactory.Instance.Bind(options));
    }
}
