using ShardRuntime.Actors.Hosting;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Handlers;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Upgrade;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Upgrade;

/// <summary>
/// An upgrade between two coordinators, each in its own actor system (the old node and its successor), with the
/// successor's side of the protocol driven by the spec: what is passed (labels with group positions), how the successor
/// adopts and reconciles a different configuration, what the old node refuses meanwhile, and how it lets go.
/// </summary>
public sealed class PredecessorActorSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sr-upgrade-");
    private readonly List<ActorSystem> _systems = [];

    private string UpgradePath => Path.Combine(_directory.FullName, "upgrade.sock");

    [Fact]
    public async Task A_successor_must_adopt_the_sockets_in_their_group_positions_reconcile_its_configuration_and_the_old_node_must_let_go_without_loss()
    {
        var (oldSystem, old) = StartNode("old", """
            web { endpoint = "127.0.0.1:0", handler = http-ok, shards = 3 }
            gone { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
            """);
        var web = Specs.Listener(old, "web");
        var webEndPoint = System.Net.IPEndPoint.Parse(web.EndPoint);
        var gone = Specs.Listener(old, "gone");
        var churn = ChurnLoad.Start(webEndPoint, workers: 2);

        using var client = new UpgradeClient(TimeSpan.FromSeconds(10));
        var received = await client.ReceiveAsync(UpgradePath, CancellationToken.None);

        // Every accepting socket (in two batches of at most 3), labelled; the web group's members in their kernel positions 0, 1, 2.
        Assert.Equal(4, received.Count);
        Assert.Equal(1, client.PredecessorGeneration);
        var webLabels = received.Where(r => r.Label.Listener == "web").Select(r => r.Label).OrderBy(l => l.Position).ToList();
        Assert.Equal([0, 1, 2], webLabels.Select(l => l.Position));
        Assert.Equal(web.Shards.Select(s => s.SocketInode).Order(), webLabels.Select(l => l.Inode).Order());
        Assert.Equal(web.Shards.Select(s => s.ShardId).Order(), webLabels.Select(l => l.ShardIndex).Order());

        // Meanwhile the old node refuses changes and a second successor, naming the upgrade in progress.
        var during = Specs.Status(old);
        Assert.Equal(UpgradeInProgressPhase, during.Upgrade?.Phase);
        Assert.Equal(Environment.ProcessId, during.Upgrade?.SuccessorProcessId);
        var scale = await Assert.ThrowsAsync<CommandFailedException>(() => old.Ask<CoordinatorProtocol.ScaledTo>(new CoordinatorProtocol.ScaleTo("web", 1), Clients.Timeout));
        Assert.Contains("an upgrade is in progress", scale.Reason);
        using (var second = new UpgradeClient(TimeSpan.FromSeconds(10)))
        {
            var refused = await Assert.ThrowsAsync<UpgradeRefusedException>(() => second.ReceiveAsync(UpgradePath, CancellationToken.None));
            Assert.Contains("an upgrade is in progress", refused.Reason);
        }

        // The successor's configuration: web with 2 shards (one adopted socket retires), gone removed, fresh added.
        var (newSystem, successor) = StartNode("successor", """
            web { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }
            fresh { endpoint = "127.0.0.1:0", handler = echo, shards = 1 }
            """, new UpgradeOptions { Inherited = received, ProcessGeneration = client.PredecessorGeneration + 1, InheritedFrom = "the spec", DeferSocketFiles = true }, serveUpgradeSocket: false);
        var inheritance = await successor.Ask<CoordinatorProtocol.Adoption>(CoordinatorProtocol.GetAdoption.Instance, Clients.Timeout);
        Assert.Equal([gone.Shards.Single().SocketInode], inheritance.Declined);
        Assert.Equal(web.Shards.Select(s => s.SocketInode).Order(), inheritance.Adopted.Order());

        // Until the old node released them, the successor retires none of the sockets it still shares with it.
        var adopted = Specs.Listener(successor, "web");
        Assert.Equal(webEndPoint.ToString(), adopted.EndPoint);
        Assert.Equal(3, adopted.Shards.Count(s => s.State == "accepting"));
        Assert.Equal(2, Specs.Status(successor).ProcessGeneration);
        // The shard ids came along.
        Assert.Equal(web.Shards.Select(s => s.ShardId).Order(), adopted.Shards.Select(s => s.ShardId).Order());

        Assert.Equal(ReadyAnswer.Released, await client.SendReadyAsync(inheritance.Declined));
        // As the host does (UpgradeCompletion): the upgrade completes once the old node let go of its copies, after its
        // stability period; until then a socket the successor closed would stay in its reuseport group.
        Assert.True(await client.WaitForLetGoAsync(TimeSpan.FromSeconds(30)), "the old node did not let go of its copies");
        successor.Tell(CoordinatorProtocol.PredecessorLetGo.Instance);

        // Now the highest retires (steered away from, its queue drained), two keep accepting.
        await AwaitAssertAsync(() => Assert.Equal(2, Specs.Listener(successor, "web").Shards.Count), TimeSpan.FromSeconds(30));
        Assert.All(Specs.Listener(successor, "web").Shards, s => Assert.Contains(s.SocketInode, web.Shards.Select(w => w.SocketInode)));
        Assert.Equal("echo", Specs.Listener(successor, "fresh").Handler);

        // The old node let go: it retired 'gone' as a removed listener, drained, and stopped its actor system by itself.
        Assert.True(await oldSystem.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(60)).ContinueWith(t => t.IsCompletedSuccessfully),
            "the old node did not stop after handing over");
        var goneEndPoint = System.Net.IPEndPoint.Parse(gone.EndPoint);
        await Assert.ThrowsAnyAsync<SocketException>(() => Clients.ConnectAsync(goneEndPoint));

        // The web port served throughout, from the old node and then from the successor, on the same sockets.
        await AwaitAssertAsync(() => Assert.True(churn.Served > 100), TimeSpan.FromSeconds(30));
        await churn.StopAsync();
        Assert.Empty(churn.Failures);
        using var check = await Clients.ConnectAsync(webEndPoint);
        Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(check)).StatusLine);
        await newSystem.Terminate();
    }

    [Fact]
    public async Task A_successor_that_leaves_before_ready_must_leave_the_old_node_serving_and_able_to_upgrade_again()
    {
        var (_, old) = StartNode("old", """web { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2 }""");
        var web = Specs.Listener(old, "web");

        // A peer that connects and says nothing (a probe) starts no attempt: the node takes changes meanwhile.
        using (var silent = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await silent.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(UpgradePath));
            Assert.IsType<CoordinatorProtocol.ScaledTo>(await old.Ask<object>(new CoordinatorProtocol.ScaleTo("web", 2), Clients.Timeout));
            Assert.Null(Specs.Status(old).Upgrade);
        }

        using (var client = new UpgradeClient(TimeSpan.FromSeconds(10)))
        {
            var received = await client.ReceiveAsync(UpgradePath, CancellationToken.None);
            Assert.Equal(2, received.Count);
            foreach (var (socket, _) in received) socket.Dispose(); // what a successor that dies leaves behind
        }

        await AwaitAssertAsync(() =>
        {
            var status = Specs.Status(old);
            Assert.Null(status.Upgrade);
            Assert.Contains("rolled back", status.LastUpgradeFailure);
            Assert.False(status.LetGo);
        }, TimeSpan.FromSeconds(30));
        Assert.Equal(web.Shards.Select(s => s.SocketInode), Specs.Listener(old, "web").Shards.Select(s => s.SocketInode));
        using (var check = await Clients.ConnectAsync(System.Net.IPEndPoint.Parse(web.EndPoint)))
            Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(check)).StatusLine);
        var scaled = await old.Ask<object>(new CoordinatorProtocol.ScaleTo("web", 3), Clients.Timeout);
        Assert.IsType<CoordinatorProtocol.ScaledTo>(scaled);

        // A node started without a way to start successors refuses `upgrade`, saying so.
        var refused = await Assert.ThrowsAsync<CommandFailedException>(() => old.Ask<CoordinatorProtocol.Upgraded>(CoordinatorProtocol.Upgrade.Instance, Clients.Timeout));
        Assert.Contains("cannot start a successor", refused.Reason);
    }

    [Fact]
    public async Task A_successor_must_adopt_the_udp_sockets_by_inode_and_serve_a_numbered_stream_without_loss()
    {
        var (oldSystem, old) = StartNode("old", """dns { endpoint = "127.0.0.1:0", protocol = udp, handler = udp-echo, shards = 2 }""");
        var dns = Specs.Listener(old, "dns");
        var endPoint = System.Net.IPEndPoint.Parse(dns.EndPoint);
        await using var stream = new NumberedDatagramStream(endPoint, flows: 4, TimeSpan.FromSeconds(5));
        await stream.ProgressAsync(100, Clients.Timeout);

        using var client = new UpgradeClient(TimeSpan.FromSeconds(10));
        var received = await client.ReceiveAsync(UpgradePath, CancellationToken.None);
        // Both datagram sockets, labelled udp: the very kernel sockets the old node serves.
        Assert.Equal(2, received.Count);
        Assert.All(received, r => Assert.Equal(ShardRuntime.Runtime.Sockets.TransportProtocol.Udp, r.Label.Protocol));
        Assert.All(received, r => Assert.Equal(SocketType.Dgram, r.Socket.SocketType));
        Assert.Equal(dns.Shards.Select(s => s.SocketInode).Order(), received.Select(r => r.Label.Inode).Order());

        var (newSystem, successor) = StartNode("successor", """dns { endpoint = "127.0.0.1:0", protocol = udp, handler = udp-echo, shards = 2 }""",
            new UpgradeOptions { Inherited = received, ProcessGeneration = client.PredecessorGeneration + 1, InheritedFrom = "the spec", DeferSocketFiles = true },
            serveUpgradeSocket: false);
        var adoption = await successor.Ask<CoordinatorProtocol.Adoption>(CoordinatorProtocol.GetAdoption.Instance, Clients.Timeout);
        Assert.Empty(adoption.Declined);
        Assert.Equal(dns.Shards.Select(s => s.SocketInode).Order(), adoption.Adopted.Order());
        var adopted = Specs.Listener(successor, "dns");
        Assert.Equal(endPoint.ToString(), adopted.EndPoint);
        Assert.Equal(dns.Shards.Select(s => s.SocketInode).Order(), adopted.Shards.Select(s => s.SocketInode).Order());

        Assert.Equal(ReadyAnswer.Released, await client.SendReadyAsync(adoption.Declined));
        Assert.True(await client.WaitForLetGoAsync(TimeSpan.FromSeconds(30)), "the old node did not let go of its copies");
        successor.Tell(CoordinatorProtocol.PredecessorLetGo.Instance);
        Assert.True(await oldSystem.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(60)).ContinueWith(t => t.IsCompletedSuccessfully),
            "the old node did not stop after handing over");

        // The successor alone serves now, on the same inodes; nothing was lost or answered twice on the way.
        await stream.ProgressAsync(100, Clients.Timeout);
        await stream.DisposeAsync();
        Assert.Equal(0, stream.Lost);
        Assert.Equal(0, stream.Duplicated);
        Assert.Equal(dns.Shards.Select(s => s.SocketInode).Order(),
            ShardRuntime.Runtime.Sockets.KernelSocketTable.ListListening(endPoint.Port, ShardRuntime.Runtime.Sockets.TransportProtocol.Udp).Select(k => k.Inode).Order());
        Assert.True(Specs.Listener(successor, "dns").Datagrams!.Received > 0);
        await newSystem.Terminate();
    }

    private const string UpgradeInProgressPhase = "passing sockets";

    private (ActorSystem System, IActorRef Coordinator) StartNode(string name, string listeners, UpgradeOptions? upgrade = null, bool serveUpgradeSocket = true)
    {
        var hocon = $$"""
            shard-runtime {
              control.enabled = off
              listeners { {{listeners}} }
              upgrade { enabled = {{(serveUpgradeSocket ? "on" : "off")}}, socket-path = "{{UpgradePath}}", batch-size = 3 }
              shutdown.drain-timeout = 5s
            }
            """;
        var config = ConfigurationFactory.ParseString(hocon).WithFallback(ReferenceConfig.Default);
        var system = ActorSystem.Create(name, config.WithFallback(Sys.Settings.Config));
        _systems.Add(system);
        var settings = ShardRuntimeSettings.Create(config);
        var coordinator = system.ActorOf(CoordinatorProtocol.Props(settings, HandlerCatalog.WithBuiltIns(), upgrade: upgrade), CoordinatorProtocol.ActorName);
        Assert.IsType<CoordinatorProtocol.Started>(coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout).GetAwaiter().GetResult());
        if (serveUpgradeSocket)
        {
            using var lookUp = new CancellationTokenSource(Clients.Timeout);
            var upgradeActor = Akka.Hosting.ActorRegistry.For(system).WaitForAsync<ShardRuntime.Actors.Upgrade.Predecessor.Marker>(lookUp.Token).GetAwaiter().GetResult();
            Assert.IsType<ShardRuntime.Actors.Upgrade.Predecessor.Bound>(
                upgradeActor.Ask<object>(ShardRuntime.Actors.Upgrade.Predecessor.WaitUntilBound.Instance, Clients.Timeout).GetAwaiter().GetResult());
        }
        return (system, coordinator);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var system in _systems)
                system.Terminate().Wait(TimeSpan.FromSeconds(30));
            try
            {
                _directory.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
        }
        base.Dispose(disposing);
    }
}
