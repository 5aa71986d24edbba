using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Tests.Support;
using ShardRuntime.Runtime.Sockets;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Listener;

public sealed class ListenerShardingSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public void Four_shards_must_share_one_port_and_the_kernel_must_show_four_listening_sockets()
    {
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings("""http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 4 }"""));
        var listener = Specs.Listener(coordinator, "http");

        Assert.Equal(4, listener.Shards.Count);
        var port = IPEndPoint.Parse(listener.EndPoint).Port;
        Assert.NotEqual(0, port);
        var kernel = KernelSocketTable.ListListening(port, TransportProtocol.Tcp);
        Assert.Equal(listener.Shards.Select(s => s.SocketInode).Order(), kernel.Select(k => k.Inode).Order());
    }

    [Fact]
    public async Task A_thousand_connections_must_spread_over_all_shards()
    {
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings("""http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 4 }"""));
        var endPoint = Specs.EndPoint(coordinator, "http");

        const int total = 1000;
        using var gate = new SemaphoreSlim(64);
        var tasks = Enumerable.Range(0, total).Select(async _ =>
        {
            await gate.WaitAsync();
            try
            {
                using var client = await Clients.ConnectAsync(endPoint);
                var response = await Clients.HttpGetAsync(client);
                Assert.Equal("HTTP/1.1 200 OK", response.StatusLine);
                Assert.Equal("OK", response.Body);
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(tasks);

        await AwaitAssertAsync(() =>
        {
            var listener = Specs.Listener(coordinator, "http");
            Assert.Equal(total, listener.Accepted);
            Assert.All(listener.Shards, s => Assert.True(s.Accepted > 0, $"shard {s.ShardId} accepted none of {total}"));
        }, Clients.Timeout);
    }

    [Fact]
    public async Task Scaling_up_and_down_under_churn_must_lose_no_connection_queued_or_accepted()
    {
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings("""http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2, drain-timeout = 60s }"""));
        var endPoint = Specs.EndPoint(coordinator, "http");

        // Keep-alive connections, each answered once so it is certainly accepted by some shard.
        var open = new List<Socket>();
        for (var i = 0; i < 40; i++)
        {
            var client = await Clients.ConnectAsync(endPoint);
            Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(client)).StatusLine);
            open.Add(client);
        }

        // Churn beside it: new connections while the shard count changes.
        var churn = ChurnLoad.Start(endPoint, workers: 1, limit: 20_000);

        foreach (var shards in new[] { 4, 1, 3, 1, 2, 4, 2, 3, 1 })
        {
            var reply = await coordinator.Ask<CoordinatorProtocol.ScaledTo>(new CoordinatorProtocol.ScaleTo("http", shards), Clients.Timeout);
            Assert.Equal(shards, reply.Shards);
            await AwaitAssertAsync(() =>
            {
                var listener = Specs.Listener(coordinator, "http");
                Assert.Equal(shards, listener.Shards.Count(s => s.State == "accepting"));
                Assert.Equal(shards, KernelSocketTable.ListListening(endPoint.Port, TransportProtocol.Tcp).Count);
            }, Clients.Timeout);

            // Every connection accepted before the change still gets answers, whichever shard it came from.
            foreach (var client in open)
                Assert.Equal("HTTP/1.1 200 OK", (await Clients.HttpGetAsync(client)).StatusLine);
        }

        await churn.StopAsync();
        Assert.True(churn.Served > 0, "no churn connection was served while scaling");
        Assert.Empty(churn.Failures);
        foreach (var client in open) client.Dispose();
    }

    [Fact]
    public async Task A_retiring_shard_must_let_its_open_connections_finish_and_then_stop()
    {
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings("""echo { endpoint = "127.0.0.1:0", handler = echo, shards = 2, drain-timeout = 60s }"""));
        var endPoint = Specs.EndPoint(coordinator, "echo");
        var clients = await Clients.OpenEchoedAsync(endPoint, 32, "ping");
        var onShard1 = Specs.Listener(coordinator, "echo").Shards.Single(s => s.ShardId == 1).OpenConnections;
        Assert.True(onShard1 > 0, "the kernel put none of 32 connections on shard 1");

        var shard = await Specs.ShardAsync(Sys, "echo", 1);
        var probe = CreateTestProbe();
        probe.Watch(shard);

        // Shard 1 (the highest id) retires with its connections open.
        await coordinator.Ask<CoordinatorProtocol.ScaledTo>(new CoordinatorProtocol.ScaleTo("echo", 1), Clients.Timeout);
        await AwaitAssertAsync(() =>
            Assert.Contains(Specs.Listener(coordinator, "echo").Shards, s => s.ShardId == 1 && s.State == "retiring"), Clients.Timeout);
        await AwaitAssertAsync(() => Assert.Single(KernelSocketTable.ListListening(endPoint.Port, TransportProtocol.Tcp)), Clients.Timeout);

        // Every connection still works, the retiring shard's ones included; the shard waits for them.
        foreach (var client in clients)
        {
            await Clients.SendAsync(client, "still here");
            Assert.Equal("still here"u8.ToArray(), await Clients.ReceiveExactlyAsync(client, 10));
        }
        Assert.Equal(onShard1, Specs.Listener(coordinator, "echo").Shards.Single(s => s.ShardId == 1).OpenConnections);

        foreach (var client in clients)
        {
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal("", await Clients.ReceiveToEndAsync(client));
            client.Dispose();
        }
        probe.ExpectTerminated(shard, Clients.Timeout);
        // The coordinator watches the shard too; its Terminated may come after the probe's.
        await AwaitAssertAsync(() => Assert.DoesNotContain(Specs.Listener(coordinator, "echo").Shards, s => s.ShardId == 1), Clients.Timeout);
    }

    [Fact]
    public async Task A_retiring_shard_must_abort_connections_left_at_the_drain_deadline()
    {
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings("""echo { endpoint = "127.0.0.1:0", handler = echo, shards = 2, drain-timeout = 300ms }"""));
        var endPoint = Specs.EndPoint(coordinator, "echo");
        var clients = await Clients.OpenEchoedAsync(endPoint, 20, "x");

        await coordinator.Ask<CoordinatorProtocol.ScaledTo>(new CoordinatorProtocol.ScaleTo("echo", 1), Clients.Timeout);
        await AwaitAssertAsync(() => Assert.Single(Specs.Listener(coordinator, "echo").Shards), Clients.Timeout);

        // Connections of the surviving shard still echo; those of the retired one were cut at the deadline.
        var alive = 0;
        foreach (var client in clients)
        {
            try
            {
                await Clients.SendAsync(client, "y");
                await Clients.ReceiveExactlyAsync(client, 1);
                alive++;
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
            }
        }
        Assert.InRange(alive, 1, clients.Count - 1);
        Assert.Equal(alive, Specs.Listener(coordinator, "echo").OpenConnections);
        foreach (var client in clients) client.Dispose();
    }

    [Fact]
    public async Task Changing_a_listener_s_settings_under_churn_must_replace_its_sockets_on_the_same_port_without_loss()
    {
        var settings = Specs.Settings("""http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 2, max-connections = 1000, retire-queue-timeout = 60s }""");
        var coordinator = Specs.StartCoordinator(Sys, settings);
        var endPoint = Specs.EndPoint(coordinator, "http");
        var oldInodes = Specs.Listener(coordinator, "http").Shards.Select(s => s.SocketInode).ToList();

        var churn = ChurnLoad.Start(endPoint, workers: 4);

        // A different max-connections is a different listener: a new socket set replaces the old one on the same port.
        var changed = Specs.Settings("""http { endpoint = "127.0.0.1:0", handler = http-ok, shards = 3, max-connections = 2000, retire-queue-timeout = 60s }""");
        var reply = await coordinator.Ask<object>(new CoordinatorProtocol.ApplySettings(changed.Listeners), Clients.Timeout);
        Assert.IsType<CoordinatorProtocol.SettingsApplied>(reply);
        await AwaitAssertAsync(() =>
        {
            var status = Specs.Status(coordinator);
            var http = Assert.Single(status.Listeners); // the old set has drained and gone
            Assert.Equal(2000, http.MaxConnections);
            Assert.Equal(3, http.Shards.Count);
            Assert.Empty(http.Shards.Select(s => s.SocketInode).Intersect(oldInodes));
            Assert.Equal(endPoint, IPEndPoint.Parse(http.EndPoint));
            Assert.True(churn.Served > 100);
        }, Clients.Timeout);

        await churn.StopAsync();
        Assert.Empty(churn.Failures);
    }
}
